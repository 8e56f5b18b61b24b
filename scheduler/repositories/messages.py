"""The messages an event sends out beside the change itself: its notifications, outbox emails and
calendar writes are written, and its webhook subscribers looked up, in one statement that every
booking write runs. Its parts are database functions (sql/functions.sql), planned once per
connection; the messages go to them as JSON, one parameter however many there are."""

import orjson


def write(cur, *, notes, emails, webhook_events, calendars):
    """Inserts the notifications ({user_id, kind, title, message, metadata}) and the emails
    ({to, template, payload} and optionally user_id, booking_id, and for reminders
    reminder_minutes and send_after; a reminder already scheduled or sent for the same person,
    booking, offset and time is skipped), finds the enabled endpoints subscribed to each
    webhook event that belong to one of its `people` or to an organisation one of them has
    accepted, and sets what the write_to calendars of the people in `calendars` ({booking_id,
    event, holders, dropped}) should hold. Returns the ids of the emails to send now (not the
    scheduled reminders), per event the ids of its endpoints, and the changed calendar writes
    as [id, version] pairs."""
    lookups = "".join(f", webhook_subscribers(%(type_{i})s, %(people_{i})s::bigint[]) AS endpoints_{i}"
                      for i in range(len(webhook_events)))
    params = {"notes": orjson.dumps(notes).decode(), "emails": orjson.dumps(emails).decode()}
    if calendars:
        lookups += ", add_calendar_writes(%(calendar_people)s::bigint[], %(calendars)s::json) AS calendar_writes"
        params |= {"calendars": orjson.dumps(calendars).decode(),
                   "calendar_people": sorted({p for c in calendars for p in c["holders"] + c["dropped"]})}
    for i, event in enumerate(webhook_events):
        params |= {f"type_{i}": event.type, f"people_{i}": list(event.people)}
    cur.execute(f"SELECT add_notifications(%(notes)s::json), add_emails(%(emails)s::json) AS send_now{lookups}", params)
    row = cur.fetchone()
    return (row["send_now"], [row[f"endpoints_{i}"] for i in range(len(webhook_events))],
            row["calendar_writes"] if calendars else [])
