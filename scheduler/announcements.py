"""Who is told what, and how, when something happens: for each event the in-app
notifications, the emails (templates in mail/templates.py) with the calendar method of their
invitation, the webhook events, the reminders to schedule or void, and what the calendars that
people have bookings written to should hold.

The builders (`booking_created`, `reminder_emails`, ...) make an event's `Messages` without
writing anything, so message text is testable without HTTP; `send` writes them in the
transaction of the change and enqueues their delivery once it commits. Nothing here reads a
request: what a message needs of its surroundings comes in as an `Origin`.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import clock, jobs
from .calendar import event_data, guest_copy, guest_event_data, series_event_data
from .config import Settings
from .repositories import email_outbox, messages as message_rows
from .repositories.bookings import INTERNAL_COLUMNS
from .recurrence import describe
from .timezones import display
from .webhooks import events as webhook_events

# Per booking event and role: (notification type, title, message, email template). An event
# without an "attendee" entry tells attendees what it tells the owner.
BOOKING_MESSAGES = {
    "created": {
        "owner": ("BOOKING_CONFIRMED", 'Booking "{title}" confirmed', "Your booking is scheduled from {start} to {end}.",
                  "BOOKING_CONFIRMATION"),
        "attendee": ("BOOKING_INVITATION", 'Invitation: "{title}"', "{organizer} invited you, {start} to {end}.",
                     "BOOKING_INVITATION"),
    },
    "updated": {
        "owner": ("BOOKING_UPDATED", 'Booking "{title}" moved', "It now runs from {start} to {end}.", "BOOKING_UPDATED"),
    },
    "cancelled": {
        "owner": ("BOOKING_CANCELLED", 'Booking "{title}" cancelled', "Reason: {reason}.", "BOOKING_CANCELLED"),
    },
    # A series is told once, at its first occurrence written (or cancelled), with how it repeats.
    "series_created": {
        "owner": ("SERIES_CONFIRMED", 'Series "{title}" confirmed', "{repeats}, from {start}.", "SERIES_CONFIRMATION"),
        "attendee": ("SERIES_INVITATION", 'Invitation: "{title}", {repeats}', "{organizer} invited you, from {start}.",
                     "SERIES_INVITATION"),
    },
    "series_cancelled": {
        "owner": ("SERIES_CANCELLED", 'Series "{title}": {cancelled} cancelled', "From {start} on.",
                  "SERIES_CANCELLED"),
    },
}
# Guest bookings (the owner is the host, and a collective team's other hosts attend too; the
# guest has no account, so email only): per event, what the hosts are told instead of the
# messages in BOOKING_MESSAGES, and the guest's email template. "updated" and "cancelled" are the
# host's own doing through the bookings API.
GUEST_MESSAGES = {
    "created": {
        "host": ("GUEST_BOOKED", '{guest} booked "{title}"', "From {start} to {end}.", "HOST_GUEST_BOOKED"),
        "guest": "GUEST_CONFIRMATION",
    },
    "updated": {"guest": "GUEST_MOVED"},
    "cancelled": {"guest": "GUEST_CANCELLED"},
    "series_created": {
        "host": ("GUEST_BOOKED", '{guest} booked "{title}", {repeats}', "From {start}.", "HOST_GUEST_SERIES_BOOKED"),
        "guest": "GUEST_SERIES_CONFIRMATION",
    },
    "series_cancelled": {"guest": "GUEST_SERIES_CANCELLED"},
    "guest_series_cancelled": {
        "host": ("GUEST_CANCELLED", '{guest} cancelled "{title}"', "{cancelled}, from {start} on. Reason: {reason}.",
                 "HOST_GUEST_SERIES_CANCELLED"),
        "guest": "GUEST_SERIES_CANCELLED",
    },
    "guest_moved": {
        "host": ("GUEST_MOVED", '{guest} moved "{title}"', "It now runs from {start} to {end}.", "HOST_GUEST_MOVED"),
        "guest": "GUEST_MOVED",
    },
    "guest_cancelled": {
        "host": ("GUEST_CANCELLED", '{guest} cancelled "{title}"', "Reason: {reason}.", "HOST_GUEST_CANCELLED"),
        "guest": "GUEST_CANCELLED",
    },
    "request_withdrawn": {
        "host": ("GUEST_CANCELLED", '{guest} withdrew their request for "{title}"', "Reason: {reason}.",
                 "HOST_GUEST_WITHDREW"),
        "guest": "GUEST_WITHDRAWN",
    },
    # A request (a type that requires confirmation): the hosts are told what to do and by when.
    "requested": {
        "host": ("GUEST_REQUESTED", '{guest} asks to book "{title}"',
                 "From {start} to {end}. Confirm or decline it before {expires}.", "HOST_GUEST_REQUESTED"),
        "guest": "GUEST_REQUESTED",
    },
    "confirmed": {
        "host": ("REQUEST_CONFIRMED", '"{title}" with {guest} confirmed', "From {start} to {end}.",
                 "HOST_REQUEST_CONFIRMED"),
        "guest": "GUEST_CONFIRMATION",
    },
    "declined": {"guest": "GUEST_DECLINED"},
    "expired": {
        "host": ("REQUEST_EXPIRED", 'Request from {guest} expired', '"{title}" at {start} was not confirmed in time; '
                                                                   "the time is free again.", "HOST_REQUEST_EXPIRED"),
        "guest": "GUEST_EXPIRED",
    },
    # A seated type: each guest takes or gives up a seat of the one booking at a start.
    "seat_booked": {
        "host": ("GUEST_SEAT_BOOKED", '{guest} took a seat at "{title}"', "{taken} of {capacity} seats taken.",
                 "HOST_GUEST_SEAT_BOOKED"),
        "guest": "GUEST_CONFIRMATION",
    },
    "seat_cancelled": {
        "host": ("GUEST_SEAT_CANCELLED", '{guest} gave up a seat at "{title}"',
                 "{taken} of {capacity} seats taken. Reason: {reason}.", "HOST_GUEST_SEAT_CANCELLED"),
        "guest": "GUEST_CANCELLED",
    },
    # Round robin gave a booking the guest moved to another host: what its previous host hears.
    "handed_over": {
        "host": ("GUEST_HANDED_OVER", '{guest} moved "{title}"', "You are not free at the new time; {organizer} takes it.",
                 "HOST_GUEST_HANDED_OVER"),
    },
}
# Minutes before the start at which a guest is reminded.
GUEST_REMINDERS = (1440, 60)
# The iCalendar METHOD attached to each event's emails (RFC 5546); a series' is `Series.method`.
# A request has none until it is confirmed: no calendar holds it, so declining or expiring it
# has nothing to cancel (and a request withdrawn, `guest_cancelled` while pending, neither).
CALENDAR_METHOD = {"created": "REQUEST", "updated": "REQUEST", "cancelled": "CANCEL",
                   "guest_moved": "REQUEST", "guest_cancelled": "CANCEL", "handed_over": "CANCEL",
                   "requested": None, "confirmed": "REQUEST", "declined": None, "expired": None, "request_withdrawn": None,
                   "seat_booked": "REQUEST", "seat_cancelled": "CANCEL"}


@dataclass(frozen=True)
class Origin:
    """What messages take from their surroundings: the settings (sender address, mail domain).
    Links in emails are made when they are sent (scheduler/delivery/emails.py)."""

    settings: Settings


@dataclass(frozen=True)
class Series:
    """A series as a change to it is told: the whole series as one calendar event
    (calendar.series_event_data: what every invitation about any of its occurrences carries,
    so calendars keep one event), and the words for it in messages (`values`: how it repeats,
    its last start, how many were cancelled)."""

    event: dict
    values: dict = field(default_factory=dict)

    @property
    def method(self):
        """A change to some occurrences updates the series; only one with none left cancels it."""
        return "CANCEL" if self.event["status"] == "CANCELLED" else "REQUEST"


@dataclass
class Messages:
    """What an event sends: notification rows, outbox rows (reminders carry send_after),
    webhook events (each goes to every subscribed endpoint of the people concerned), the
    pending reminders it voids ((booking id, user id or None for everyone[, seat id])), and calendar
    copies (`calendar_copies`: a booking's event, who should hold it and who not)."""

    notes: list = field(default_factory=list)
    emails: list = field(default_factory=list)
    webhooks: list = field(default_factory=list)
    voided: list = field(default_factory=list)
    calendars: list = field(default_factory=list)

    def __add__(self, other):
        return Messages(self.notes + other.notes, self.emails + other.emails, self.webhooks + other.webhooks,
                        self.voided + other.voided, self.calendars + other.calendars)


def send(rt, cur, messages):
    """Writes the messages in the transaction open on `cur` (voided reminders first, so a
    reminder made afresh is not voided with the old ones) and enqueues their delivery once that
    transaction commits (scheduled reminders are left to the worker's sweep). The one place
    that hands an event's messages to the queue."""
    for booking_id, *whose in messages.voided:
        email_outbox.void_reminders(cur, booking_id, *whose)
    if not (messages.notes or messages.emails or messages.webhooks or messages.calendars):
        return
    send_now, endpoints, calendar_writes = message_rows.write(
        cur, notes=messages.notes, emails=messages.emails, webhook_events=messages.webhooks,
        calendars=messages.calendars)
    queued = jobs.Queued(emails=send_now,
                         webhooks=[delivery for event, endpoint_ids in zip(messages.webhooks, endpoints)
                                   for delivery in webhook_events.fire(cur, rt.settings, event, endpoint_ids)],
                         calendar_writes=calendar_writes)
    rt.db.after_commit(jobs.dispatch, rt.redis, queued)


def attendee_list(recipients):
    return [{"user_id": p["user_id"], "name": p["name"], "email": p["email"], "status": p["status"]}
            for p in recipients]


def public_booking(booking):
    """The booking as clients see it: without the iCalendar sequence or a guest's token salt."""
    return {key: value for key, value in booking.items() if key not in INTERNAL_COLUMNS}


def with_attendees(booking, recipients):
    return public_booking(booking) | {"attendees": attendee_list(recipients)}


def booking_webhook(type, booking, recipients, **extra):
    """A webhook event carrying the booking as the API shows it, for the endpoints of everyone
    who attends it (and of the organisations they accepted)."""
    return Messages(webhooks=[webhook_events.Event(type, with_attendees(booking, recipients),
                                                   [p["user_id"] for p in recipients], extra)])


def told(person, only):
    """Declined attendees hear nothing more; `only` narrows an event to one person (a user id,
    or "guest" for a booking's guest)."""
    return person["status"] != "declined" and (only is None or person["user_id"] == only)


def calendar_event(origin, booking, recipients):
    """The booking as its attendees' calendars show it (scheduler/calendar.py); the mail domain
    names its UID."""
    return event_data(booking | {"attendees": attendee_list(recipients)}, origin.settings.mail_domain)


def calendar_copies(origin, booking, recipients, gone=()):
    """What the calendars the booking's attendees have bookings written to should hold: while it
    is confirmed, the event for everyone who has not declined it; nothing for the others, nor for
    those `gone` from it (user ids). Only the latest state is written
    (scheduler/delivery/calendars.py), so every change says it whole."""
    holding = booking["status"] == "confirmed"
    holders = [p["user_id"] for p in recipients if holding and p["status"] != "declined"]
    return Messages(calendars=[{
        "booking_id": booking["id"], "event": calendar_event(origin, booking, recipients), "holders": holders,
        "dropped": [p["user_id"] for p in recipients if p["user_id"] not in holders] + list(gone)}])


def booking_messages(origin, event, booking, recipients, only=None, reason=None, series=None, hosts_invited=True):
    """The notification and the email (with the calendar invitation, if the event has one, and
    for its attendees unless not `hosts_invited`) `event` sends to each attendee of the booking,
    in their own time zone, and to its guest if it has one (a seat's guest, for the booking as
    `seat_view` shows it to them; the attendees' copy never names a seat's guest). The settings'
    sender address and mail domain name calendar UIDs and organizers. An occurrence of a series
    (`series`, a `Series`) invites to the whole series."""
    domain = origin.settings.mail_domain
    hosts_copy = booking | {"guest": None} if booking.get("seat_id") else booking
    invite = ({"method": series.method, "event": series.event} if series else
              {"method": CALENDAR_METHOD[event], "event": calendar_event(origin, hosts_copy, recipients)}
              if CALENDAR_METHOD[event] else None)
    organizer = next(p["name"] for p in recipients if p["user_id"] == booking["user_id"])
    guest = booking["guest"]
    values = {"title": booking["title"], "start": booking["start_time"].isoformat(),
              "end": booking["end_time"].isoformat(), "organizer": organizer,
              "reason": reason} | (series.values if series else {})
    if booking.get("expires_at"):
        values["expires"] = booking["expires_at"].isoformat()
    if booking.get("seats"):
        values |= {"taken": booking["seats"]["taken"], "capacity": booking["seats"]["capacity"]}
    if guest:
        values |= {"guest": guest["name"], "guest_email": guest["email"], "notes": guest["notes"]}
    messages = Messages()
    for person in recipients:
        if not told(person, only):
            continue
        role = "owner" if person["user_id"] == booking["user_id"] else "attendee"
        as_host = guest and "host" in GUEST_MESSAGES[event]
        kind, title, message, template = (GUEST_MESSAGES[event]["host"] if as_host else
                                          BOOKING_MESSAGES[event].get(role, BOOKING_MESSAGES[event]["owner"]))
        local = values | {"start": display(booking["start_time"], person["timezone"]),
                          "end": display(booking["end_time"], person["timezone"]),
                          "reason": reason or "no reason given"}
        if booking.get("expires_at"):
            local["expires"] = display(booking["expires_at"], person["timezone"])
        messages.notes.append({"user_id": person["user_id"], "kind": kind, "title": title.format(**local),
                               "message": message.format(**local), "metadata": {"booking_id": booking["id"]}})
        messages.emails.append({"to": person["email"], "template": template, "user_id": person["user_id"],
                                "booking_id": booking["id"],
                                "payload": {"name": person["name"], "booking_id": booking["id"],
                                            "timezone": person["timezone"], **values,
                                            "names": {"organizer": booking["user_id"]}}
                                           | ({"ics": invite} if invite and hosts_invited else {})})
    if guest and only in (None, "guest"):
        # Why, as the guest's email says it (mail/templates.reason_text): by the host, or at their request.
        why = ({"cancelled_by": organizer} if event in ("cancelled", "series_cancelled") else
               {"at_your_request": True} if event in ("guest_cancelled", "guest_series_cancelled", "seat_cancelled",
                                                      "request_withdrawn") else {})
        guest_event = (guest_copy(series.event, booking, organizer, origin.settings.mail_address) if series else
                       guest_event_data(booking, organizer, domain, origin.settings.mail_address))
        messages.emails.append(guest_email(
            origin, GUEST_MESSAGES[event]["guest"], booking, recipients,
            ics={"method": invite["method"], "event": guest_event} if invite else None, reason=reason,
            expires=values.get("expires"), **why, **(series.values if series else {})))
    return messages


def guest_email(origin, template, booking, recipients, **extra):
    """An email to the booking's guest, in their zone and language, with the link to manage the
    booking. It names the host, or the hosts of a collective team's booking (a list, which the
    email joins: "Ann, Ben and Cat")."""
    guest = booking["guest"]
    hosts = [p for p in recipients if p["status"] != "declined"]
    payload = {"name": guest["name"], "host": [p["name"] for p in hosts], "booking_id": booking["id"],
               "timezone": guest["timezone"], "language": guest["language"], "title": booking["title"],
               "start": booking["start_time"].isoformat(), "end": booking["end_time"].isoformat(),
               "location": booking["location"], "manage": {"salt": booking["guest_token_salt"]}}
    if len(hosts) == 1:
        payload["names"] = {"host": booking["user_id"]}
    return {"to": guest["email"], "template": template, "booking_id": booking["id"], "seat_id": booking.get("seat_id"),
            "payload": payload | {key: value for key, value in extra.items() if value is not None}}


def reminder_emails(origin, booking, recipients, now, only=None):
    """Reminder emails at each attendee's offsets (and the guest's); none whose time has passed."""
    messages = Messages()
    for person in recipients:
        if not told(person, only):
            continue
        for minutes in person["reminders"]:
            due = booking["start_time"] - timedelta(minutes=minutes)
            if due > now:
                messages.emails.append({
                    "to": person["email"], "template": "BOOKING_REMINDER", "user_id": person["user_id"],
                    "booking_id": booking["id"], "reminder_minutes": minutes, "send_after": due,
                    "payload": {"name": person["name"], "booking_id": booking["id"], "timezone": person["timezone"],
                                "title": booking["title"], "start": booking["start_time"].isoformat(),
                                "end": booking["end_time"].isoformat()},
                })
    if booking["guest"] and only in (None, "guest"):
        for minutes in GUEST_REMINDERS:
            due = booking["start_time"] - timedelta(minutes=minutes)
            if due > now:
                messages.emails.append(guest_email(origin, "GUEST_REMINDER", booking, recipients) |
                                       {"reminder_minutes": minutes, "send_after": due})
    return messages


def reminder_sent(row):
    """A reminder's email went out (`row`, its outbox row): it shows in the app too."""
    payload = row["payload"]
    return Messages(notes=[{
        "user_id": row["user_id"], "kind": "BOOKING_REMINDER", "title": f'Reminder: "{payload["title"]}"',
        "message": f"Starts {display(datetime.fromisoformat(payload['start']), payload['timezone'])}.",
        "metadata": {"booking_id": row["booking_id"]},
    }])


def booking_created(origin, booking, recipients):
    return (booking_messages(origin, "created", booking, recipients)
            + reminder_emails(origin, booking, recipients, clock.now())
            + booking_webhook("booking.created", booking, recipients) + calendar_copies(origin, booking, recipients))


def booking_updated(origin, booking, recipients, *, moved, series=None, seats=()):
    """A change of title or times: reminders are made afresh (a seated booking's guests', `seats`,
    too); only a move is emailed, any change goes to webhooks."""
    views = [seat_view(booking, seat) for seat in seats]
    told_of_move = (booking_messages(origin, "updated", booking, recipients, series=series)
                    + sum((booking_messages(origin, "updated", view, recipients, only="guest") for view in views),
                          Messages())) if moved else Messages()
    return (Messages(voided=[(booking["id"], None)]) + told_of_move
            + reminder_emails(origin, booking, recipients, clock.now())
            + sum((reminder_emails(origin, view, recipients, clock.now(), only="guest") for view in views), Messages())
            + booking_webhook("booking.updated", booking, recipients) + calendar_copies(origin, booking, recipients))


def booking_cancelled(origin, booking, recipients, series=None, reason=None, seats=()):
    """The organiser cancelled a booking, saying why (`reason`) or not: everyone is told, a
    seated booking's guests (`seats`, as seats.of has them) each in their own email."""
    return (Messages(voided=[(booking["id"], None)])
            + booking_messages(origin, "cancelled", booking, recipients, series=series, reason=reason)
            + sum((booking_messages(origin, "cancelled", seat_view(booking, seat), recipients, only="guest",
                                    reason=reason) for seat in seats), Messages())
            + booking_webhook("booking.cancelled", booking, recipients, **({"reason": reason} if reason else {}))
            + calendar_copies(origin, booking, recipients))


def booking_requested(origin, booking, recipients):
    """A guest asked for a time of a type that requires confirmation: the hosts hear what to do
    and by when, the guest that the request was received. Nothing reaches a calendar, and no
    reminder is set, until it is confirmed."""
    return booking_messages(origin, "requested", booking, recipients) + booking_webhook("booking.requested", booking,
                                                                                        recipients)


def request_confirmed(origin, booking, recipients):
    """The host confirmed a request: it is told as a booking made now (invitations, reminders,
    calendar copies)."""
    return (booking_messages(origin, "confirmed", booking, recipients)
            + reminder_emails(origin, booking, recipients, clock.now())
            + booking_webhook("booking.confirmed", booking, recipients) + calendar_copies(origin, booking, recipients))


def request_declined(origin, booking, recipients, reason):
    """The host declined a request: its guest is told, with the host's reason if given."""
    return (booking_messages(origin, "declined", booking, recipients, only="guest", reason=reason)
            + booking_webhook("booking.declined", booking, recipients, **({"reason": reason} if reason else {})))


def request_expired(origin, booking, recipients):
    """A request was not answered in time: the guest and the hosts hear that its time is free."""
    return booking_messages(origin, "expired", booking, recipients) + booking_webhook("booking.expired", booking,
                                                                                      recipients)


def seat_view(booking, seat):
    """A seated booking as one seat's guest has it: they are its guest (they see no other), their
    manage token's salt is its salt, and their seat names their reminders."""
    return booking | {"guest": {"name": seat["guest_name"], "email": seat["guest_email"],
                                "timezone": seat["guest_timezone"], "language": seat["guest_language"],
                                "notes": seat["guest_notes"]},
                      "guest_token_salt": seat["token_salt"], "seat_id": seat["id"]}


def seat_booked(origin, booking, seat, recipients, *, first):
    """A guest took a seat (the `first` made the booking): they get the invitation and their
    reminders, the hosts hear how many seats are taken; the booking's first seat sends the hosts
    the invitation, sets their reminders and calendar copies and fires booking.created, a later
    one booking.updated."""
    view = seat_view(booking, seat)
    told = booking_messages(origin, "seat_booked", view, recipients, hosts_invited=first)
    if first:
        return (told + reminder_emails(origin, view, recipients, clock.now())
                + booking_webhook("booking.created", booking, recipients) + calendar_copies(origin, booking, recipients))
    return (told + reminder_emails(origin, view, recipients, clock.now(), only="guest")
            + booking_webhook("booking.updated", booking, recipients, by="guest"))


def seat_cancelled(origin, booking, seat, recipients, reason):
    """A guest gave up their seat: they get the cancellation of their copy, the hosts hear it. The
    last seat given up cancels the booking (`booking` is then cancelled), freeing the hosts' time:
    only then is theirs cancelled too."""
    view = seat_view(booking, seat) | {"status": "cancelled"}
    extra = {"by": "guest"} | ({"reason": reason} if reason else {})
    told = Messages(voided=[(booking["id"], None, seat["id"])]) + booking_messages(
        origin, "seat_cancelled", view, recipients, reason=reason, hosts_invited=booking["status"] == "cancelled")
    if booking["status"] == "cancelled":
        return (told + Messages(voided=[(booking["id"], None)])
                + booking_webhook("booking.cancelled", booking, recipients, **extra)
                + calendar_copies(origin, booking, recipients))
    return told + booking_webhook("booking.updated", booking, recipients, **extra)


def no_show_marked(booking, recipients, who, no_show):
    """The host marked who did not come (or did, after all): integrations hear of it."""
    return booking_webhook("booking.no_show", booking, recipients, who=who, no_show=no_show)


def guest_moved(origin, booking, recipients, series=None):
    """The guest rescheduled through their manage link: the host hears of it, the guest gets
    the updated invitation, and reminders are made afresh."""
    return (Messages(voided=[(booking["id"], None)])
            + booking_messages(origin, "guest_moved", booking, recipients, series=series)
            + reminder_emails(origin, booking, recipients, clock.now())
            + booking_webhook("booking.updated", booking, recipients, by="guest")
            + calendar_copies(origin, booking, recipients))


def guest_handed_over(origin, booking, recipients, previous):
    """The guest moved a round-robin booking to a time its host (`previous`, as `recipients`
    has people) is not free, and another host of the team took it: the guest gets the updated
    invitation, the new host hears of it as a new booking, and the previous host that it left
    their calendar (the invitation cancelled)."""
    new_host = booking["user_id"]
    left = booking | {"status": "cancelled"}
    return (Messages(voided=[(booking["id"], None)])
            + booking_messages(origin, "guest_moved", booking, recipients, only="guest")
            + booking_messages(origin, "created", booking, recipients, only=new_host)
            + booking_messages(origin, "handed_over", left, recipients + [previous], only=previous["user_id"])
            + reminder_emails(origin, booking, recipients, clock.now())
            + Messages(webhooks=[webhook_events.Event(
                "booking.updated", with_attendees(booking, recipients),
                [p["user_id"] for p in recipients] + [previous["user_id"]], {"by": "guest"})])
            + calendar_copies(origin, booking, recipients, gone=[previous["user_id"]]))


def guest_cancelled(origin, booking, recipients, reason, series=None, withdrawn=False):
    """The guest cancelled their booking, or `withdrawn` their request (which no calendar held)."""
    return (Messages(voided=[(booking["id"], None)])
            + booking_messages(origin, "request_withdrawn" if withdrawn else "guest_cancelled", booking, recipients,
                               reason=reason, series=series)
            + booking_webhook("booking.cancelled", booking, recipients, by="guest", reason=reason)
            + calendar_copies(origin, booking, recipients))


def series_of(origin, series, occurrences, **values):
    """The `Series` to tell, from its row and all its bookings (with their attendees) as they
    are after the change; `values` add to the words."""
    live = [o for o in occurrences if o["status"] == "confirmed"]
    return Series(series_event_data(series, occurrences, origin.settings.mail_domain),
                  {"repeats": describe(series["recurrence"], len(live), len(series["starts"])),
                   # the same, for emails to say in the recipient's language (mail/templates.repeats_text)
                   "series": series["recurrence"] | {"booked": len(live), "of": len(series["starts"])},
                   "last": (live or occurrences)[-1]["start_time"].isoformat()} | values)


def series_created(origin, series, bookings, recipients):
    """A series was booked: its attendees (and guest) are told once, with the whole series as
    the invitation; each occurrence gets its reminders, its webhook and its calendar copies."""
    return (booking_messages(origin, "series_created", bookings[0], recipients, series=series)
            + sum((reminder_emails(origin, b, recipients, clock.now()) + booking_webhook("booking.created", b, recipients)
                   + calendar_copies(origin, b, recipients) for b in bookings), Messages()))


def series_cancelled(origin, series, cancelled, *, by_guest=False, reason=None):
    """Several occurrences of a series were cancelled at once (`cancelled`: [(booking,
    recipients)], by its organiser, or by its guest with `reason`): told once, from the first
    of them; each gets its webhook and calendar copies."""
    extra = {"by": "guest", "reason": reason} if by_guest else {}
    first, recipients = cancelled[0]
    return (Messages(voided=[(b["id"], None) for b, _ in cancelled])
            + booking_messages(origin, "guest_series_cancelled" if by_guest else "series_cancelled", first,
                               recipients, reason=reason, series=series)
            + sum((booking_webhook("booking.cancelled", b, people, **extra) + calendar_copies(origin, b, people)
                   for b, people in cancelled), Messages()))


def attendance_answered(origin, booking, recipients, person, status):
    """An attendee accepted or declined: the owner hears of it; the attendee's reminders follow;
    webhooks get the booking and who answered; calendars show the answer, and the booking leaves
    the calendar of whoever declined it."""
    note = {"user_id": booking["user_id"], "kind": "ATTENDANCE_UPDATED",
            "title": f'{person["name"]} {status} "{booking["title"]}"', "message": None,
            "metadata": {"booking_id": booking["id"], "user_id": person["id"], "status": status}}
    [attendee] = [a for a in attendee_list(recipients) if a["user_id"] == person["id"]]
    return (Messages(notes=[note], voided=[(booking["id"], person["id"])])
            + reminder_emails(origin, booking, recipients, clock.now(), only=person["id"])
            + booking_webhook("attendee.responded", booking, recipients, attendee=attendee)
            + calendar_copies(origin, booking, recipients))


def user_registered(user):
    return Messages(emails=[{"to": user["email"], "template": "WELCOME", "user_id": user["id"],
                             "payload": {"name": user["name"]}}])


def member_added(organization, invitee, role, added_by):
    name = organization["name"]
    return Messages(
        notes=[{"user_id": invitee["id"], "kind": "ORG_INVITE", "title": f'You\'ve been added to "{name}"',
                "message": f'You are now {"an" if role == "admin" else "a"} {role} of the organization "{name}". '
                           "Accept the invitation to share your availability with its members and be invited to "
                           "their bookings.",
                "metadata": {"organization_id": organization["id"]}}],
        emails=[{"to": invitee["email"], "template": "ORG_INVITE", "user_id": invitee["id"],
                 "payload": {"name": invitee["name"], "organization": name, "role": role,
                             "invited_by": added_by["name"], "names": {"invited_by": added_by["id"]}}}],
    )


def api_key_changed(maker, key, *, revoked, by):
    """A key was made or revoked (`by` whom): its maker hears it in the app and by email, so a
    key they didn't make (or didn't revoke) shows at once."""
    done = "revoked" if revoked else "created"
    who = "" if by["id"] == maker["id"] else f" by {by['name']}"
    scopes = ", ".join(key["scopes"])
    return Messages(
        notes=[{"user_id": maker["id"], "kind": "API_KEY_REVOKED" if revoked else "API_KEY_CREATED",
                "title": f'API key {done}: "{key["name"]}"',
                "message": f'The API key "{key["name"]}" ({key["prefix"]}…, scopes: {scopes}) was {done}{who}. '
                           + ("If you didn't expect this, revoke your keys and change your password." if not who
                              else "They manage its organization."),
                "metadata": {"api_key_id": key["id"]}}],
        emails=[{"to": maker["email"], "template": "API_KEY_REVOKED" if revoked else "API_KEY_CREATED",
                 "user_id": maker["id"],
                 "payload": {"name": maker["name"], "key_name": key["name"], "prefix": key["prefix"],
                             "scopes": scopes, "revoked_by": by["name"] if who else None, "key_id": key["id"]}}],
    )


def webhook_disabled(endpoint, managers, reason):
    """The worker stopped sending to an endpoint: everyone who manages it hears why, in the app
    and by email."""
    title = f"Webhook disabled: {endpoint['url']}"
    message = (f"We stopped sending events to {endpoint['url']}: {reason}. Fix the receiver, enable the webhook "
               "again, and retry the deliveries you need from its log.")
    return Messages(
        notes=[{"user_id": p["id"], "kind": "WEBHOOK_DISABLED", "title": title, "message": message,
                "metadata": {"webhook_id": endpoint["id"]}} for p in managers],
        emails=[{"to": p["email"], "template": "WEBHOOK_DISABLED", "user_id": p["id"],
                 "payload": {"name": p["name"], "url": endpoint["url"], "reason": reason,
                             "webhook_id": endpoint["id"]}} for p in managers],
    )


def calendar_failing(calendar, owner):
    """A calendar failed FAILURES_TOLD refreshes in a row (scheduler/external_calendars): its
    owner hears why, in the app and by email. Its busy times stay as last read meanwhile."""
    title = f"Calendar not updating: {calendar['name']}"
    message = (f"We could not read {calendar['url']} the last few times we tried: {calendar['error']}. Its busy "
               "times are as we last read them. Check the address or the password, or connect it again.")
    return Messages(
        notes=[{"user_id": owner["user_id"], "kind": "CALENDAR_FAILING", "title": title, "message": message,
                "metadata": {"calendar_id": calendar["id"]}}],
        emails=[{"to": owner["owner_email"], "template": "CALENDAR_FAILING", "user_id": owner["user_id"],
                 "payload": {"name": owner["owner_name"], "calendar": calendar["name"], "url": calendar["url"],
                             "error": calendar["error"], "calendar_id": calendar["id"]}}],
    )
