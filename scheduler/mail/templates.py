"""Each email as a subject, a plain-text body and an HTML body, in the recipient's language
(the payload's `language`: scheduler/languages.py).

A template is messages (catalogue entries, translated when rendered) filled by str.format with
the payload's values: never re-parsed, escaped for HTML, and folded onto one line in the
subject so they cannot add mail headers. Times are written in the recipient's zone and
locale."""

import html
import re
from dataclasses import dataclass

from .. import languages
from ..languages import N_


@dataclass(frozen=True)
class Template:
    subject: str
    before: tuple = ()  # paragraphs after the greeting
    rows: tuple = ()  # (label, value) lines: what the email is about
    after: tuple = ()  # paragraphs after them


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


LAYOUT = """<!doctype html>
<html lang="{language}"><body style="font-family: sans-serif; max-width: 600px; margin: auto;">
{body}
<p style="color: #6b7280; font-size: 13px;">{footer}</p>
</body></html>"""

BOOKING_ROWS = ((N_("Title"), "{title}"), (N_("Start"), "{start}"), (N_("End"), "{end}"),
                (N_("Booking"), "#{booking_id}"))
GUEST_ROWS = ((N_("What"), "{title}"), (N_("With"), "{host}"), (N_("Start"), "{start}"), (N_("End"), "{end}"),
              (N_("Where"), "{location}"))
HOST_ROWS = BOOKING_ROWS + ((N_("Guest"), "{guest} <{guest_email}>"), (N_("Notes"), "{notes}"))
MANAGE = N_("To see it, cancel it or move it (where the host allows): {manage_url}")


def booking_template(subject, sentence):
    return Template(subject, (sentence,), BOOKING_ROWS)


def guest_template(subject, sentence, manage=True):
    """To a guest (no account): the booking with its host, and the link to manage it."""
    return Template(subject, (sentence,), GUEST_ROWS, (MANAGE,) if manage else ())


def host_template(subject, sentence):
    """To the host of a guest booking: what the guest did, and who they are."""
    return Template(subject, (sentence,), HOST_ROWS)


TEMPLATES = {
    "WELCOME": Template(N_("Welcome to Scheduler, {name}"), (
        N_("Your Scheduler account is ready. Start booking time whenever you like."),)),
    "BOOKING_CONFIRMATION": booking_template(N_("Booking confirmed: {title}"), N_("Your booking is confirmed.")),
    "BOOKING_UPDATED": booking_template(N_("Booking moved: {title}"), N_("Your booking has new times.")),
    "BOOKING_CANCELLED": booking_template(N_("Booking cancelled: {title}"),
                                          N_("This booking has been cancelled (reason: {reason}).")),
    "BOOKING_INVITATION": booking_template(N_("Invitation: {title}"), N_("{organizer} invited you to a booking.")),
    "BOOKING_REMINDER": booking_template(N_("Reminder: {title}"), N_("Your booking starts {start}.")),
    "SERIES_CONFIRMATION": booking_template(N_("Series confirmed: {title}"), N_(
        "Your series is confirmed: {repeats}, the first below, the last on {last}.")),
    "SERIES_INVITATION": booking_template(N_("Invitation to a series: {title}"), N_(
        "{organizer} invited you to a series: {repeats}, the first below, the last on {last}.")),
    "SERIES_CANCELLED": booking_template(N_("Occurrences cancelled: {title}"), N_(
        "{cancelled} of this series, from the one below on, cancelled; it is now {repeats}.")),
    "GUEST_CONFIRMATION": guest_template(N_("Booked: {title} with {host}"),
                                         N_("Your booking with {host} is confirmed.")),
    "GUEST_MOVED": guest_template(N_("Booking moved: {title} with {host}"),
                                  N_("Your booking with {host} has new times.")),
    "GUEST_CANCELLED": guest_template(N_("Booking cancelled: {title} with {host}"),
                                      N_("Your booking with {host} has been cancelled ({reason})."), manage=False),
    "GUEST_REMINDER": guest_template(N_("Reminder: {title} with {host}"),
                                     N_("Your booking with {host} starts {start}.")),
    "GUEST_SERIES_CONFIRMATION": guest_template(N_("Series booked: {title} with {host}"), N_(
        "Your series with {host} is confirmed: {repeats}, the first below, the last on {last}. Each one has its own "
        "link to cancel or reschedule it; this is the first's.")),
    "GUEST_SERIES_CANCELLED": guest_template(N_("Occurrences cancelled: {title} with {host}"), N_(
        "{cancelled} of your series with {host}, from the one below on, cancelled ({reason}); it is now {repeats}."),
        manage=False),
    "GUEST_REQUESTED": guest_template(N_("Request received: {title} with {host}"), N_(
        "Your request to book with {host} has been received. {host} will confirm or decline it by {expires}; until "
        "then the time is held for you.")),
    "GUEST_DECLINED": guest_template(N_("Request declined: {title} with {host}"),
                                     N_("Your request to book with {host} was declined ({reason})."), manage=False),
    "GUEST_WITHDRAWN": guest_template(N_("Request withdrawn: {title} with {host}"),
                                      N_("Your request to book with {host} is withdrawn, as you asked."), manage=False),
    "GUEST_EXPIRED": guest_template(N_("Request expired: {title} with {host}"), N_(
        "Your request to book with {host} was not confirmed in time, so it has expired. You are welcome to book "
        "another time."), manage=False),
    "HOST_GUEST_BOOKED": host_template(N_("New booking: {title} with {guest}"), N_("{guest} booked time with you.")),
    "HOST_GUEST_REQUESTED": Template(N_("New request: {title} with {guest}"), (
        N_("{guest} asks to book time with you. It holds the time until you answer, by {expires}; unanswered, it "
           "expires."),
        N_("Confirm it: POST /api/v1/bookings/{booking_id}/confirm\n"
           "Decline it: POST /api/v1/bookings/{booking_id}/decline (with an optional reason)")), HOST_ROWS),
    "HOST_GUEST_WITHDREW": host_template(N_("Request withdrawn: {title} with {guest}"),
                                         N_("{guest} withdrew their request ({reason}).")),
    "HOST_REQUEST_CONFIRMED": host_template(N_("Booking confirmed: {title} with {guest}"),
                                            N_("The request from {guest} is confirmed.")),
    "HOST_REQUEST_EXPIRED": host_template(N_("Request expired: {title} with {guest}"), N_(
        "The request from {guest} was not confirmed by {expires}, so it expired and the time is free again.")),
    "HOST_GUEST_SEAT_BOOKED": host_template(N_("Seat booked: {title} with {guest}"),
                                            N_("{guest} took a seat: {taken} of {capacity} taken.")),
    "HOST_GUEST_SEAT_CANCELLED": host_template(N_("Seat given up: {title} with {guest}"), N_(
        "{guest} gave up their seat ({reason}): {taken} of {capacity} taken.")),
    "HOST_GUEST_MOVED": host_template(N_("Booking moved: {title} with {guest}"),
                                      N_("{guest} moved their booking to new times.")),
    "HOST_GUEST_CANCELLED": host_template(N_("Booking cancelled: {title} with {guest}"),
                                          N_("{guest} cancelled their booking ({reason}).")),
    "HOST_GUEST_SERIES_BOOKED": host_template(N_("New series: {title} with {guest}"), N_(
        "{guest} booked a series with you: {repeats}, the first below, the last on {last}.")),
    "HOST_GUEST_SERIES_CANCELLED": host_template(N_("Occurrences cancelled: {title} with {guest}"), N_(
        "{guest} cancelled {cancelled} of their series, from the one below on ({reason}); it is now {repeats}.")),
    "HOST_GUEST_HANDED_OVER": host_template(N_("Booking handed over: {title} with {guest}"), N_(
        "{guest} moved their booking to a time you are not free, so {organizer} of your team takes it. It is no "
        "longer in your calendar.")),
    "WEBHOOK_DISABLED": Template(N_("Webhook disabled: {url}"), (
        N_("We stopped sending events to {url}: {reason}."),
        N_("Fix the receiver, enable the webhook again (PATCH /api/v1/webhooks/{webhook_id} with enabled: true), "
           "and retry the deliveries you need from its log (GET /api/v1/webhooks/{webhook_id}/deliveries)."))),
    "CALENDAR_FAILING": Template(N_("Calendar not updating: {calendar}"), (
        N_("We could not read your calendar {calendar} ({url}) the last few times we tried: {error}."),
        N_("Its busy times are as we last read them. Check the address or the password, or connect the calendar "
           "again (GET /api/v1/calendars/{calendar_id} shows how the latest try went)."))),
    "API_KEY_CREATED": Template(N_("API key created: {key_name}"), (
        N_("An API key was created on your account: {key_name} ({prefix}...), with the scopes {scopes}."),
        N_("If this wasn't you, revoke it (DELETE /api/v1/api-keys/{key_id}) and change your password."))),
    "API_KEY_REVOKED": Template(N_("API key revoked: {key_name}"), (
        N_("The API key {key_name} ({prefix}...) was revoked{who}: requests with it are now refused."),
        N_("If you didn't expect this, change your password and revoke your other keys: a password change leaves "
           "them working."))),
    "ORG_INVITE": Template(N_("You have been added to {organization}"), (
        N_("{invited_by} added you to {organization} as {role}."),)),
}
# The payload's times (ISO, with their offset), written in the recipient's zone and locale;
# any other text (a name, notes) is as it was given, whatever it looks like.
TIMES = ("start", "end", "expires", "last")
# Words the payload gives as codes, in the recipient's language.
ROLES = {"owner": N_("owner"), "admin": N_("admin"), "member": N_("member")}


def words_of(payload, zone_name, tag):
    """The payload's values as the recipient reads them: times in their zone and locale, lists of
    names joined as their language joins them, what is missing or a code in their words."""
    catalogue = languages.words(tag)
    _, ngettext = catalogue.gettext, catalogue.ngettext
    values = {key: value_text(key, value, zone_name, tag) for key, value in payload.items()
              if key not in ("ics", "series", "language")}
    values["reason"] = reason_text(payload, _)
    values |= {key: _(default) for key, default in (("location", N_("not given")), ("notes", N_("none")))
               if key in payload and payload[key] is None}
    if "series" in payload:
        values["repeats"] = repeats_text(payload["series"], tag)
    if "cancelled_count" in payload:
        values["cancelled"] = ngettext("{count} occurrence", "{count} occurrences",
                                     payload["cancelled_count"]).format(count=payload["cancelled_count"])
    if "revoked_by" in payload:
        values["who"] = _(" by {name}").format(name=payload["revoked_by"]) if payload["revoked_by"] else ""
    if "role" in payload:
        values["role"] = _(ROLES.get(payload["role"], payload["role"]))
    return values


def value_text(key, value, zone_name, tag):
    """One of TIMES in the recipient's zone and locale; a list of names as a sentence; anything
    else as it was given."""
    moment = languages.moment_of(value) if key in TIMES else None
    if moment:
        return languages.moment_text(moment, zone_name, tag)
    return languages.list_text(value, tag) if isinstance(value, list) else str(value)


def reason_text(payload, _):
    """Why it was cancelled or declined, as the recipient is told: at their request, by whom, and
    the reason given (if any)."""
    reason = payload.get("reason")
    if payload.get("at_your_request"):
        return _("at your request")
    if payload.get("cancelled_by"):
        by = _("by {host}: {reason}") if reason else _("by {host}")
        return by.format(host=payload["cancelled_by"], reason=reason)
    return reason or _("no reason given")


def repeats_text(series, tag):
    """How a series repeats, and how many of its occurrences are booked: 'every week, 12
    times', 'every 2 weeks on Monday and Thursday, 5 of 6 times'."""
    catalogue = languages.words(tag)
    ngettext = catalogue.ngettext
    interval, freq = series["interval"], series["freq"]
    every = {"daily": ngettext("every day", "every {count} days", interval),
             "weekly": ngettext("every week", "every {count} weeks", interval),
             "monthly": ngettext("every month", "every {count} months", interval)}[freq].format(count=interval)
    if series.get("byday"):
        every = catalogue.gettext("{every} on {days}").format(
            every=every, days=languages.list_text(map(languages.weekday_of(tag), series["byday"]), tag))
    booked, of = series["booked"], series["of"]
    if not booked:
        return catalogue.gettext("{every}, none left").format(every=every)
    if booked == of:
        return ngettext("{every}, once", "{every}, {count} times", booked).format(every=every, count=booked)
    return ngettext("{every}, {booked} of {count} time", "{every}, {booked} of {count} times", of).format(
        every=every, booked=booked, count=of)


def one_line(text):
    """Every run of whitespace one space, but for the no-break spaces French puts before a colon."""
    return re.sub(r"[^\S\u00a0\u202f]+", " ", text).strip()


def render(template_name, payload):
    template = TEMPLATES[template_name]
    tag = payload.get("language")
    _ = languages.words(tag).gettext
    values = words_of(payload, payload.get("timezone", "UTC"), tag)
    escaped = {key: html.escape(value) for key, value in values.items()}
    if "manage_url" in values:
        escaped["manage_url"] = f'<a href="{escaped["manage_url"]}">{html.escape(_("manage your booking"))}</a>'

    greeting, rows = _("Hi {name},"), [(_(label), value) for label, value in template.rows]
    before, after = [_(message) for message in template.before], [_(message) for message in template.after]
    details = "\n".join(_("{label}: {value}").format(label=label, value=value.format(**values)) for label, value in rows)
    text = "\n\n".join(part for part in [greeting.format(**values), *(p.format(**values) for p in before), details,
                                          *(p.format(**values) for p in after)] if part)
    table = "".join(f"<tr><td>{html.escape(label)}</td><td>{html.escape(value).format(**escaped)}</td></tr>"
                    for label, value in rows)
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>').format(**escaped)}</p>" for p in [greeting, *before])
    body += f"<table>{table}</table>" if rows else ""
    body += "".join(f"<p>{html.escape(p).format(**escaped)}</p>" for p in after)
    return Rendered(
        subject=one_line(_(template.subject).format(**values)),
        text=text.rstrip("\n") + "\n",
        html=LAYOUT.format(language=html.escape(tag or languages.DEFAULT), body=body,
                           footer=html.escape(_("Sent by Scheduler."))),
    )
