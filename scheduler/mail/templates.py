"""Each email as a subject, a plain-text body and an HTML body.

Values from users are substituted by str.format (never re-parsed), escaped for HTML, and
folded onto one line in the subject so they cannot add mail headers.
"""

import html
from dataclasses import dataclass
from datetime import datetime

from .. import timezones


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


LAYOUT = """<!doctype html>
<html><body style="font-family: sans-serif; max-width: 600px; margin: auto;">
{body}
<p style="color: #6b7280; font-size: 13px;">Sent by Scheduler.</p>
</body></html>"""

BOOKING_TEXT = "Title: {title}\nStart: {start}\nEnd:   {end}\nBooking #{booking_id}\n"
BOOKING_HTML = (
    "<table><tr><td>Title</td><td><strong>{title}</strong></td></tr>"
    "<tr><td>Start</td><td>{start}</td></tr><tr><td>End</td><td>{end}</td></tr>"
    "<tr><td>Booking</td><td>#{booking_id}</td></tr></table>"
)


def booking_template(subject, sentence):
    return Template(
        subject=subject + ": {title}",
        text="Hi {name},\n\n" + sentence + "\n\n" + BOOKING_TEXT,
        html="<p>Hi {name},</p><p>" + sentence + "</p>" + BOOKING_HTML,
    )


GUEST_TEXT = "What:  {title}\nWith:  {host}\nStart: {start}\nEnd:   {end}\nWhere: {location}\n"
GUEST_HTML = (
    "<table><tr><td>What</td><td><strong>{title}</strong></td></tr><tr><td>With</td><td>{host}</td></tr>"
    "<tr><td>Start</td><td>{start}</td></tr><tr><td>End</td><td>{end}</td></tr>"
    "<tr><td>Where</td><td>{location}</td></tr></table>"
)
MANAGE_TEXT = "\nTo see it, cancel it or move it (where the host allows): {manage_url}\n"
MANAGE_HTML = '<p><a href="{manage_url}">See, cancel or move it</a> (where the host allows)</p>'
HOST_TEXT = "Guest: {guest} <{guest_email}>\nNotes: {notes}\n"
HOST_HTML = "<p>Guest: {guest} &lt;{guest_email}&gt;<br>Notes: {notes}</p>"


def guest_template(subject, sentence, manage=True):
    """To a guest (no account): the booking with its host, and the link to manage it."""
    return Template(
        subject=subject + ": {title} with {host}",
        text="Hi {name},\n\n" + sentence + "\n\n" + GUEST_TEXT + (MANAGE_TEXT if manage else ""),
        html="<p>Hi {name},</p><p>" + sentence + "</p>" + GUEST_HTML + (MANAGE_HTML if manage else ""),
    )


def host_template(subject, sentence):
    """To the host of a guest booking: what the guest did, and who they are."""
    return Template(
        subject=subject + ": {title} with {guest}",
        text="Hi {name},\n\n" + sentence + "\n\n" + BOOKING_TEXT + HOST_TEXT,
        html="<p>Hi {name},</p><p>" + sentence + "</p>" + BOOKING_HTML + HOST_HTML,
    )


TEMPLATES = {
    "WELCOME": Template(
        subject="Welcome to Scheduler, {name}",
        text="Hi {name},\n\nYour Scheduler account is ready. Start booking time whenever you like.\n",
        html="<p>Hi {name},</p><p>Your Scheduler account is ready. Start booking time whenever you like.</p>",
    ),
    "BOOKING_CONFIRMATION": booking_template("Booking confirmed", "Your booking is confirmed."),
    "BOOKING_UPDATED": booking_template("Booking moved", "Your booking has new times."),
    "BOOKING_CANCELLED": booking_template("Booking cancelled", "This booking has been cancelled (reason: {reason})."),
    "BOOKING_INVITATION": booking_template("Invitation", "{organizer} invited you to a booking."),
    "BOOKING_REMINDER": booking_template("Reminder", "Your booking starts {start}."),
    "SERIES_CONFIRMATION": booking_template("Series confirmed", "Your series is confirmed: {repeats}, the first "
                                                                "below, the last on {last}."),
    "SERIES_INVITATION": booking_template("Invitation to a series", "{organizer} invited you to a series: "
                                                                    "{repeats}, the first below, the last on {last}."),
    "SERIES_CANCELLED": booking_template("Occurrences cancelled", "{cancelled} of this series, from the one below "
                                                                  "on, cancelled; it is now {repeats}."),
    "GUEST_CONFIRMATION": guest_template("Booked", "Your booking with {host} is confirmed."),
    "GUEST_MOVED": guest_template("Booking moved", "Your booking with {host} has new times."),
    "GUEST_CANCELLED": guest_template("Booking cancelled",
                                      "Your booking with {host} has been cancelled ({reason}).", manage=False),
    "GUEST_REMINDER": guest_template("Reminder", "Your booking with {host} starts {start}."),
    "GUEST_SERIES_CONFIRMATION": guest_template("Series booked", "Your series with {host} is confirmed: {repeats}, the "
                                                          "first below, the last on {last}. Each one has its own "
                                                          "link to cancel or reschedule it; this is the first's."),
    "GUEST_SERIES_CANCELLED": guest_template("Occurrences cancelled", "{cancelled} of your series with {host}, from "
                                                                      "the one below on, cancelled ({reason}); it is "
                                                                      "now {repeats}.",
                                             manage=False),
    "GUEST_REQUESTED": guest_template("Request received", "Your request to book with {host} has been received. "
                                                          "{host} will confirm or decline it by {expires}; until "
                                                          "then the time is held for you."),
    "GUEST_DECLINED": guest_template("Request declined", "Your request to book with {host} was declined ({reason}).",
                                     manage=False),
    "GUEST_WITHDRAWN": guest_template("Request withdrawn", "Your request to book with {host} is withdrawn, as you "
                                                           "asked.", manage=False),
    "GUEST_EXPIRED": guest_template("Request expired", "Your request to book with {host} was not confirmed in time, "
                                                       "so it has expired. You are welcome to book another time.",
                                    manage=False),
    "HOST_GUEST_BOOKED": host_template("New booking", "{guest} booked time with you."),
    "HOST_GUEST_REQUESTED": Template(
        subject="New request: {title} with {guest}",
        text="Hi {name},\n\n{guest} asks to book time with you. It holds the time until you answer, by {expires}; "
             "unanswered, it expires.\n\nConfirm it: POST /api/v1/bookings/{booking_id}/confirm\nDecline it: "
             "POST /api/v1/bookings/{booking_id}/decline (with an optional reason)\n\n" + BOOKING_TEXT + HOST_TEXT,
        html="<p>Hi {name},</p><p>{guest} asks to book time with you. It holds the time until you answer, by "
             "{expires}; unanswered, it expires.</p><p>Confirm it: <code>POST /api/v1/bookings/{booking_id}/confirm"
             "</code><br>Decline it: <code>POST /api/v1/bookings/{booking_id}/decline</code> (with an optional "
             "reason)</p>" + BOOKING_HTML + HOST_HTML,
    ),
    "HOST_GUEST_WITHDREW": host_template("Request withdrawn", "{guest} withdrew their request ({reason})."),
    "HOST_REQUEST_CONFIRMED": host_template("Booking confirmed", "The request from {guest} is confirmed."),
    "HOST_REQUEST_EXPIRED": host_template("Request expired", "The request from {guest} was not confirmed by "
                                                             "{expires}, so it expired and the time is free again."),
    "HOST_GUEST_SEAT_BOOKED": host_template("Seat booked", "{guest} took a seat: {taken} of {capacity} taken."),
    "HOST_GUEST_SEAT_CANCELLED": host_template("Seat given up", "{guest} gave up their seat ({reason}): {taken} of "
                                                                "{capacity} taken."),
    "HOST_GUEST_MOVED": host_template("Booking moved", "{guest} moved their booking to new times."),
    "HOST_GUEST_CANCELLED": host_template("Booking cancelled", "{guest} cancelled their booking ({reason})."),
    "HOST_GUEST_SERIES_BOOKED": host_template("New series", "{guest} booked a series with you: {repeats}, the first "
                                                            "below, the last on {last}."),
    "HOST_GUEST_SERIES_CANCELLED": host_template("Occurrences cancelled", "{guest} cancelled {cancelled} of their "
                                                                          "series, from the one below on ({reason}); "
                                                                          "it is now {repeats}."),
    "HOST_GUEST_HANDED_OVER": host_template("Booking handed over",
                                            "{guest} moved their booking to a time you are not free, so {organizer} "
                                            "of your team takes it. It is no longer in your calendar."),
    "WEBHOOK_DISABLED": Template(
        subject="Webhook disabled: {url}",
        text="Hi {name},\n\nWe stopped sending events to {url}: {reason}.\n\nFix the receiver, enable the "
             "webhook again (PATCH /api/v1/webhooks/{webhook_id} with enabled: true), and retry the deliveries "
             "you need from its log (GET /api/v1/webhooks/{webhook_id}/deliveries).\n",
        html="<p>Hi {name},</p><p>We stopped sending events to <strong>{url}</strong>: {reason}.</p>"
             "<p>Fix the receiver, enable the webhook again (<code>PATCH /api/v1/webhooks/{webhook_id}</code> with "
             "<code>enabled: true</code>), and retry the deliveries you need from its log "
             "(<code>GET /api/v1/webhooks/{webhook_id}/deliveries</code>).</p>",
    ),
    "CALENDAR_FAILING": Template(
        subject="Calendar not updating: {calendar}",
        text="Hi {name},\n\nWe could not read your calendar {calendar} ({url}) the last few times we tried: "
             "{error}.\n\nIts busy times are as we last read them. Check the address or the password, or connect "
             "the calendar again (GET /api/v1/calendars/{calendar_id} shows how the latest try went).\n",
        html="<p>Hi {name},</p><p>We could not read your calendar <strong>{calendar}</strong> ({url}) the last few "
             "times we tried: {error}.</p><p>Its busy times are as we last read them. Check the address or the "
             "password, or connect the calendar again (<code>GET /api/v1/calendars/{calendar_id}</code> shows how "
             "the latest try went).</p>",
    ),
    "API_KEY_CREATED": Template(
        subject="API key created: {key_name}",
        text="Hi {name},\n\nAn API key was created on your account: {key_name} ({prefix}...), with the scopes "
             "{scopes}.\n\nIf this wasn't you, revoke it (DELETE /api/v1/api-keys/{key_id}) and change your password.\n",
        html="<p>Hi {name},</p><p>An API key was created on your account: <strong>{key_name}</strong> "
             "(<code>{prefix}...</code>), with the scopes {scopes}.</p><p>If this wasn't you, revoke it "
             "(<code>DELETE /api/v1/api-keys/{key_id}</code>) and change your password.</p>",
    ),
    "API_KEY_REVOKED": Template(
        subject="API key revoked: {key_name}",
        text="Hi {name},\n\nThe API key {key_name} ({prefix}...) was revoked{who}: requests with it are now "
             "refused.\n\nIf you didn't expect this, change your password and revoke your other keys: a password change "
             "leaves them working.\n",
        html="<p>Hi {name},</p><p>The API key <strong>{key_name}</strong> (<code>{prefix}...</code>) was "
             "revoked{who}: requests with it are now refused.</p><p>If you didn't expect this, change your password and revoke your "
             "other keys: a password change leaves them working.</p>",
    ),
    "ORG_INVITE": Template(
        subject="You have been added to {organization}",
        text="Hi {name},\n\n{invited_by} added you to {organization} as {role}.\n",
        html="<p>Hi {name},</p><p>{invited_by} added you to <strong>{organization}</strong> as {role}.</p>",
    ),
}


def text_of(value, zone_name):
    """Times in the recipient's zone, with the zone's name; everything else as text."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return timezones.display(moment, zone_name) if moment.tzinfo is not None else value
    return str(value)


def one_line(text):
    return " ".join(text.split())


def render(template_name, payload):
    template = TEMPLATES[template_name]
    zone_name = payload.get("timezone", "UTC")
    values = {key: text_of(value, zone_name) for key, value in payload.items() if key != "ics"}
    escaped = {key: html.escape(value) for key, value in values.items()}
    return Rendered(
        subject=one_line(template.subject.format(**values)),
        text=template.text.format(**values),
        html=LAYOUT.format(body=template.html.format(**escaped)),
    )
