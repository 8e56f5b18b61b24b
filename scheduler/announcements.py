"""Who is told what, and how, when something happens: for each event the in-app
notifications, the emails (templates in mail/templates.py) with the calendar method of their
invitation, and the reminders to schedule or void.

A handler makes one call inside its transaction, e.g. `announce.booking_created(cur, booking,
recipients)`; it writes the notifications, the email outbox rows and the webhook deliveries,
and returns them as a jobs.Queued for `jobs.dispatch` after the commit. The builders (`booking_messages`, `reminder_emails`) make the
same content without writing anything, so message text is testable without HTTP.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from . import clock, links
from .calendar import event_data, guest_event_data
from .context import settings
from .jobs import Queued
from .repositories import outbox, outgoing
from .timezones import display
from .webhooks import events as webhook_events

# Per booking event and role: (notification type, title, message, email template). An event
# without an "attendee" entry tells attendees what it tells the owner.
BOOKING_EVENTS = {
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
        "owner": ("BOOKING_CANCELLED", 'Booking "{title}" cancelled', "The booking has been cancelled.",
                  "BOOKING_CANCELLED"),
    },
}
# Guest bookings (the owner is the host; the guest has no account, so email only): per event,
# what the host is told instead of the owner's message above, and the guest's email template.
# "updated" and "cancelled" are the host's own doing through the bookings API.
GUEST_EVENTS = {
    "created": {
        "host": ("GUEST_BOOKED", '{guest} booked "{title}"', "From {start} to {end}.", "HOST_GUEST_BOOKED"),
        "guest": "GUEST_CONFIRMATION",
    },
    "updated": {"guest": "GUEST_MOVED"},
    "cancelled": {"guest": "GUEST_CANCELLED"},
    "guest_moved": {
        "host": ("GUEST_MOVED", '{guest} moved "{title}"', "It now runs from {start} to {end}.", "HOST_GUEST_MOVED"),
        "guest": "GUEST_MOVED",
    },
    "guest_cancelled": {
        "host": ("GUEST_CANCELLED", '{guest} cancelled "{title}"', "Reason: {reason}.", "HOST_GUEST_CANCELLED"),
        "guest": "GUEST_CANCELLED",
    },
}
# Minutes before the start at which a guest is reminded.
GUEST_REMINDERS = (1440, 60)
# The iCalendar METHOD attached to each event's emails (RFC 5546).
CALENDAR_METHOD = {"created": "REQUEST", "updated": "REQUEST", "cancelled": "CANCEL",
                   "guest_moved": "REQUEST", "guest_cancelled": "CANCEL"}


@dataclass
class Messages:
    """What an event sends: notification rows, outbox rows (reminders carry send_after), and
    webhook events (each goes to every subscribed endpoint of the people concerned)."""

    notes: list = field(default_factory=list)
    emails: list = field(default_factory=list)
    webhooks: list = field(default_factory=list)

    def __add__(self, other):
        return Messages(self.notes + other.notes, self.emails + other.emails, self.webhooks + other.webhooks)


def write(cur, messages):
    """Writes the messages in the caller's transaction; returns what to enqueue after the
    commit (scheduled reminders are left to the worker's sweep)."""
    if not (messages.notes or messages.emails or messages.webhooks):
        return Queued()
    send_now, endpoints = outgoing.write(cur, notes=messages.notes, emails=messages.emails,
                                         webhook_events=messages.webhooks)
    return Queued(emails=send_now,
                  webhooks=[delivery for event, endpoint_ids in zip(messages.webhooks, endpoints)
                            for delivery in webhook_events.fire(cur, settings(), event, endpoint_ids)])


def attendee_list(recipients):
    return [{"user_id": p["user_id"], "name": p["name"], "email": p["email"], "status": p["status"]}
            for p in recipients]


# Columns a booking row carries for the server's own use, never shown.
INTERNAL = ("sequence", "guest_token_salt")


def public_booking(booking):
    """The booking as clients see it: without the iCalendar sequence or a guest's token salt."""
    return {key: value for key, value in booking.items() if key not in INTERNAL}


def with_attendees(booking, recipients):
    return public_booking(booking) | {"attendees": attendee_list(recipients)}


def booking_webhook(type, booking, recipients, **extra):
    """A webhook event carrying the booking as the API shows it, for the endpoints of everyone
    who attends it (and of the organisations they accepted)."""
    return Messages(webhooks=[webhook_events.Event(type, with_attendees(booking, recipients),
                                                   [p["user_id"] for p in recipients], extra)])


def told(person, only):
    """Declined attendees hear nothing more; `only` narrows an event to one person."""
    return person["status"] != "declined" and (only is None or person["user_id"] == only)


def booking_messages(event, booking, recipients, config, only=None, reason=None):
    """The notification and the email (with the calendar invitation) `event` sends to each
    attendee of the booking, in their own time zone, and to its guest if it has one.
    `config`: the Settings (the sender's address and domain name calendar UIDs and organizers)."""
    domain = config.mail_domain
    invite = {"method": CALENDAR_METHOD[event],
              "event": event_data(booking | {"attendees": attendee_list(recipients)}, domain)}
    organizer = next(p["name"] for p in recipients if p["user_id"] == booking["user_id"])
    guest = booking["guest"]
    values = {"title": booking["title"], "start": booking["start_time"].isoformat(),
              "end": booking["end_time"].isoformat(), "organizer": organizer}
    if guest:
        values |= {"guest": guest["name"], "guest_email": guest["email"], "notes": guest["notes"] or "none",
                   "reason": reason or "no reason given"}
    messages = Messages()
    for person in recipients:
        if not told(person, only):
            continue
        role = "owner" if person["user_id"] == booking["user_id"] else "attendee"
        as_host = guest and role == "owner" and "host" in GUEST_EVENTS[event]
        kind, title, message, template = (GUEST_EVENTS[event]["host"] if as_host else
                                          BOOKING_EVENTS[event].get(role, BOOKING_EVENTS[event]["owner"]))
        local = values | {"start": display(booking["start_time"], person["timezone"]),
                          "end": display(booking["end_time"], person["timezone"])}
        messages.notes.append({"user_id": person["user_id"], "kind": kind, "title": title.format(**local),
                               "message": message.format(**local), "metadata": {"booking_id": booking["id"]}})
        messages.emails.append({"to": person["email"], "template": template, "user_id": person["user_id"],
                                "booking_id": booking["id"],
                                "payload": {"name": person["name"], "booking_id": booking["id"],
                                            "timezone": person["timezone"], "ics": invite, **values}})
    if guest and only is None:
        guest_reason = {"cancelled": f"by {organizer}", "guest_cancelled": "at your request"}.get(event)
        messages.emails.append(guest_email(
            GUEST_EVENTS[event]["guest"], booking, organizer,
            ics={"method": CALENDAR_METHOD[event], "event": guest_event_data(booking, organizer, domain, config.mail_address)},
            reason=guest_reason))
    return messages


def guest_email(template, booking, host_name, **extra):
    """An email to the booking's guest, in their zone, with the link to manage the booking."""
    guest = booking["guest"]
    payload = {"name": guest["name"], "host": host_name, "booking_id": booking["id"], "timezone": guest["timezone"],
               "title": booking["title"], "start": booking["start_time"].isoformat(),
               "end": booking["end_time"].isoformat(), "location": booking["location"] or "not given",
               "manage": links.manage_link(booking["guest_token_salt"])}
    return {"to": guest["email"], "template": template, "booking_id": booking["id"],
            "payload": payload | {key: value for key, value in extra.items() if value is not None}}


def reminder_emails(booking, recipients, now, only=None):
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
    if booking["guest"] and only is None:
        host_name = next(p["name"] for p in recipients if p["user_id"] == booking["user_id"])
        for minutes in GUEST_REMINDERS:
            due = booking["start_time"] - timedelta(minutes=minutes)
            if due > now:
                messages.emails.append(guest_email("GUEST_REMINDER", booking, host_name) |
                                       {"reminder_minutes": minutes, "send_after": due})
    return messages


def booking_created(cur, booking, recipients):
    return write(cur, booking_messages("created", booking, recipients, settings())
                 + reminder_emails(booking, recipients, clock.now())
                 + booking_webhook("booking.created", booking, recipients))


def booking_updated(cur, booking, recipients, *, moved):
    """A change of title or times: reminders are made afresh; only a move is emailed, any
    change goes to webhooks."""
    outbox.void_reminders(cur, booking["id"])
    messages = booking_messages("updated", booking, recipients, settings()) if moved else Messages()
    return write(cur, messages + reminder_emails(booking, recipients, clock.now())
                 + booking_webhook("booking.updated", booking, recipients))


def booking_cancelled(cur, booking, recipients):
    outbox.void_reminders(cur, booking["id"])
    return write(cur, booking_messages("cancelled", booking, recipients, settings())
                 + booking_webhook("booking.cancelled", booking, recipients))


def guest_moved(cur, booking, recipients):
    """The guest rescheduled through their manage link: the host hears of it, the guest gets
    the updated invitation, and reminders are made afresh."""
    outbox.void_reminders(cur, booking["id"])
    return write(cur, booking_messages("guest_moved", booking, recipients, settings())
                 + reminder_emails(booking, recipients, clock.now())
                 + booking_webhook("booking.updated", booking, recipients, by="guest"))


def guest_cancelled(cur, booking, recipients, reason):
    outbox.void_reminders(cur, booking["id"])
    return write(cur, booking_messages("guest_cancelled", booking, recipients, settings(), reason=reason)
                 + booking_webhook("booking.cancelled", booking, recipients, by="guest", reason=reason))


def attendance_answered(cur, booking, recipients, person, status):
    """An attendee accepted or declined: the owner hears of it; the attendee's reminders follow;
    webhooks get the booking and who answered."""
    outbox.void_reminders(cur, booking["id"], person["id"])
    note = {"user_id": booking["user_id"], "kind": "ATTENDANCE_UPDATED",
            "title": f'{person["name"]} {status} "{booking["title"]}"', "message": None,
            "metadata": {"booking_id": booking["id"], "user_id": person["id"], "status": status}}
    [attendee] = [a for a in attendee_list(recipients) if a["user_id"] == person["id"]]
    return write(cur, Messages(notes=[note]) + reminder_emails(booking, recipients, clock.now(), only=person["id"])
                 + booking_webhook("attendee.responded", booking, recipients, attendee=attendee))


def user_registered(cur, user):
    return write(cur, Messages(emails=[{"to": user["email"], "template": "WELCOME", "user_id": user["id"],
                                        "payload": {"name": user["name"]}}]))


def member_added(cur, organization, invitee, role, added_by):
    name = organization["name"]
    return write(cur, Messages(
        notes=[{"user_id": invitee["id"], "kind": "ORG_INVITE", "title": f'You\'ve been added to "{name}"',
                "message": f'You are now a {role} of the organization "{name}". Accept the invitation '
                           "to share your availability with its members and be invited to their bookings.",
                "metadata": {"organization_id": organization["id"]}}],
        emails=[{"to": invitee["email"], "template": "ORG_INVITE", "user_id": invitee["id"],
                 "payload": {"name": invitee["name"], "organization": name, "role": role,
                             "invited_by": added_by["name"]}}],
    ))


def webhook_disabled(cur, endpoint, managers, reason):
    """The worker stopped sending to an endpoint: everyone who manages it hears why, in the app
    and by email. Called by the worker, so it reads no request context."""
    title = f"Webhook disabled: {endpoint['url']}"
    message = (f"We stopped sending events to {endpoint['url']}: {reason}. Fix the receiver, enable the webhook "
               "again, and retry the deliveries you need from its log.")
    return write(cur, Messages(
        notes=[{"user_id": p["id"], "kind": "WEBHOOK_DISABLED", "title": title, "message": message,
                "metadata": {"webhook_id": endpoint["id"]}} for p in managers],
        emails=[{"to": p["email"], "template": "WEBHOOK_DISABLED", "user_id": p["id"],
                 "payload": {"name": p["name"], "url": endpoint["url"], "reason": reason,
                             "webhook_id": endpoint["id"]}} for p in managers],
    ))
