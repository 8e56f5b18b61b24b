"""The messages an event sends out beside the change itself: its notifications and outbox emails are
written, and its webhook subscribers looked up, in one statement that every booking write runs.
Its parts are database functions (sql/functions.sql), planned once per connection; the messages go
to them as JSON, one parameter however many there are."""

import orjson


def write(cur, *, notes, emails, webhook_events):
    """Inserts the notifications ({user_id, kind, title, message, metadata}) and the emails
    ({to, template, payload} and optionally user_id, booking_id, and for reminders
    reminder_minutes and send_after; a reminder already scheduled or sent for the same person,
    booking, offset and time is skipped), and finds the enabled endpoints subscribed to each
    webhook event that belong to one of its `people` or to an organisation one of them has
    accepted. Returns the ids of the emails to send now (not the scheduled reminders) and, per
    event, the ids of its endpoints."""
    lookups = "".join(f", webhook_subscribers(%(type_{i})s, %(people_{i})s::bigint[]) AS endpoints_{i}"
                      for i in range(len(webhook_events)))
    params = {"notes": orjson.dumps(notes).decode(), "emails": orjson.dumps(emails).decode()}
    for i, event in enumerate(webhook_events):
        params |= {f"type_{i}": event.type, f"people_{i}": list(event.people)}
    cur.execute(f"SELECT add_notifications(%(notes)s::json), add_emails(%(emails)s::json) AS send_now{lookups}", params)
    row = cur.fetchone()
    return row["send_now"], [row[f"endpoints_{i}"] for i in range(len(webhook_events))]
