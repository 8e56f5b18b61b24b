"""The pages a booking link's guest sees: `/book/<username>/<slug>`, a team's
`/book/team/<org slug>/<slug>`, and `/manage/<token>`.

Server-side templates and static files served by the app: no build step, nothing from
another origin. The server only fills in what the page is about (or answers 404); the
pages' scripts then speak only the public API (`/api/v1/public/...`,
`/api/v1/guest-bookings/...`), as any other client would."""

import psycopg2
import redis
from flask import Blueprint, Response, render_template, url_for

from ..auth import limit_public_reads
from ..booking_links import (booking_page_parts, by_token, guest_calendar_event, link_target, notice_minutes,
                             public_face, team_target)
from ..calendar import to_ics
from ..context import settings, single_statement, transaction
from ..db import PoolExhausted
from ..errors import NotFound, ServiceUnavailable, TooManyRequests, as_api_error
from ..languages import N_
from ..openapi import page
from . import language

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/pages")

# Scripts, styles and calls only from this origin; no inline script, so injected markup
# could not run even if some text escaped escaping. No page may be framed but a booking page
# by the origins its type lists (`embed_origins`).
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {framers}")
# The host's side of an embed (docs/booking-links.md, "Embedding"): loaded by other sites, so
# cross-origin; it changes with a deploy, so cached for an hour, not for ever.
EMBED_SCRIPT_HEADERS = {"Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*",
                        "Cache-Control": "public, max-age=3600"}


@bp.record_once
def install_languages(state):
    language.install(state.app)


@bp.before_request
def choose_language():
    """Error pages too are in the language asked for; the manage page may choose again."""
    language.choose()


def page_policy_for(framers=()):
    """The pages' policy, framed by exactly the origins `framers` (none when empty). Without
    X-Frame-Options DENY then: scheduler/http.py leaves it out of a response whose policy
    allows framers, as it would contradict it."""
    return PAGE_POLICY.format(framers=" ".join(framers) or "'none'")


@bp.after_request
def page_policy(response):
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", page_policy_for())
    return response


@bp.get("/embed.js")
@page
def embed_script():
    """The script a host's site loads to embed a booking page (static/embed.js)."""
    response = bp.send_static_file("embed.js")
    response.headers.update(EMBED_SCRIPT_HEADERS)
    return response


@bp.errorhandler(NotFound)
def not_found(exc):
    return render_template("pages/not_found.html", message=language.words().gettext(exc.message)), 404


@bp.errorhandler(TooManyRequests)
def too_many_requests(exc):
    """People get a page saying how long to wait; the header is as the API's."""
    return (render_template("pages/too_many_requests.html", retry_after=exc.details["retry_after"]), 429,
            exc.headers)


@bp.errorhandler(ServiceUnavailable)
def unavailable(exc):
    """A dependency down or busy: a page saying to try again shortly, with the API's Retry-After."""
    return (render_template("pages/unavailable.html", retry_after=exc.details["retry_after"]), 503, exc.headers)


@bp.errorhandler(psycopg2.OperationalError)
@bp.errorhandler(PoolExhausted)
@bp.errorhandler(redis.RedisError)
def dependency_failed(exc):
    """What the API answers for this failure (errors.as_api_error logs it), as a page."""
    mapped = as_api_error(exc)
    if isinstance(mapped, ServiceUnavailable):
        return unavailable(mapped)
    return mapped.body(), mapped.status, mapped.headers


@bp.get("/book/<username>/<slug>")
@page
def book(username, slug):
    return booking_page(lambda cur: link_target(cur, username, slug),
                        url_for("public.event_info", username=username, slug=slug))


@bp.get("/book/team/<org_slug>/<slug>")
@page
def book_team(org_slug, slug):
    return booking_page(lambda cur: team_target(cur, org_slug, slug),
                        url_for("public.team_info", org_slug=org_slug, slug=slug))


def booking_page(find_link, api):
    """The booking page of a person's or a team's link (`find_link(cur)`), whose scripts speak
    the public API at `api`."""
    limit_public_reads()
    with single_statement() as cur:
        link = find_link(cur)
    event = public_face(link)
    framers = link.event_type["embed_origins"]
    return (render_template("pages/book.html", event=event, api=api, notices=notices(event["policy"]),
                            embed_origins=framers, duration=language.duration_words(event["duration"])),
            {"Content-Security-Policy": page_policy_for(framers)})


def notices(policy):
    """The type's cancel and reschedule notices as the booking page says them ("You can cancel
    up to 2 hours before the start and reschedule up to 1 day before."), as the API's own
    refusals count them (booking_links.notice_minutes); None when guests can do both until the
    start. A seat is never moved, so a seated type's reschedule notice goes unsaid."""
    minutes = notice_minutes(policy)
    cancel, reschedule = minutes["cancel"], 0 if policy["seats"] else minutes["reschedule"]
    _ = language.words().gettext
    cancel_words, reschedule_words = language.duration_words(cancel), language.duration_words(reschedule)
    if cancel and cancel == reschedule:
        return _("You can cancel or reschedule up to {cancel} before the start.").format(cancel=cancel_words)
    if cancel and reschedule:
        return _("You can cancel up to {cancel} before the start and reschedule up to {reschedule} before.").format(
            cancel=cancel_words, reschedule=reschedule_words)
    if cancel:
        return _("You can cancel up to {cancel} before the start.").format(cancel=cancel_words)
    if reschedule:
        return _("You can reschedule up to {reschedule} before the start.").format(reschedule=reschedule_words)
    return None


@bp.get("/manage/<token>")
@page
def manage(token):
    """Framed by no one, whatever its type's embed_origins: the page holds the guest's token
    and its cancel button, and the guest reaches it from the e-mail or, from an embedded booking
    page, in a window of its own (static/embedded.js)."""
    limit_public_reads()
    with transaction() as cur:
        booking = by_token(cur, token)
        book_again = booking_page_parts(cur, booking)
    language.choose(booked=booking["guest"]["language"])
    # The notices in words, for the page to say why changing online has closed: the manage
    # answer has the moments (cancel_until, reschedule_until), not the host's rule.
    return render_template("pages/manage.html", token=token,
                           book_again=book_again and "/" + "/".join(book_again),
                           notice={action: language.notice_words(minutes)
                                   for action, minutes in notice_minutes(booking).items() if minutes})


@bp.get("/manage/<token>/booking.ics")
@page
def booking_ics(token):
    """The guest's booking as an iCalendar file to add to a calendar by hand: the same event (UID,
    SEQUENCE) as the invitation e-mailed to them, so a calendar that has it updates it. For an
    occurrence of a series that is the whole series, as the invitation is."""
    limit_public_reads()
    with transaction() as cur:
        booking = by_token(cur, token)
        event = guest_calendar_event(cur, booking, settings().mail_domain, settings().mail_address)
    return Response(to_ics([event], zone_name=booking["guest"]["timezone"]), mimetype="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="booking.ics"'})


@bp.get("/book/")
@bp.get("/book/<path:rest>")
@bp.get("/manage/")
@bp.get("/manage/<path:rest>")
@page
def no_such_page(rest=""):
    """Any other address under the pages' prefixes (`/book/x`, `/manage/`): unmatched, it would
    get the app's 404, which is the API's JSON; a person gets the pages' 404 page. The pages'
    own routes still match first, as werkzeug tries a path variable last."""
    raise NotFound(N_("Page not found"))
