"""What an event sends out beside the change itself: its notifications and outbox emails are
written, and its webhook subscribers looked up, in one statement that every booking write runs.
Its parts are database functions (migration 010), planned once per connection; the messages go
to them as JSON, one parameter however many there are."""

import orjson

from . import webhooks


def write(cur, *, notes, emails, webhook_events):
    """Inserts the notifications ({user_id, kind, title, message, metadata}) and the emails
    ({to, template, payload} and optionally user_id, booking_id, and for reminders
    reminder_minutes and send_after; a reminder already scheduled or sent for the same person,
    booking, offset and time is skipped), and finds the endpoints subscribed to each webhook
    event (`type`, `people`). Returns the ids of the emails to send now (not the scheduled
    reminders) and, per event, the ids of its endpoints."""
    lookups = "".join(f", {webhooks.subscribed(cur, type=event.type, people=event.people)} AS endpoints_{i}"
                      for i, event in enumerate(webhook_events))
    cur.execute(f"SELECT add_notifications(%(notes)s::json), add_emails(%(emails)s::json) AS send_now{lookups}",
                {"notes": orjson.dumps(notes).decode(), "emails": orjson.dumps(emails).decode()})
    row = cur.fetchone()
    return row["send_now"], [row[f"endpoints_{i}"] for i in range(len(webhook_events))]
