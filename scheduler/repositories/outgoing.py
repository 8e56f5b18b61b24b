"""What an event sends out beside the change itself: its notifications and outbox emails are
written, and its webhook subscribers looked up, in one statement (every booking write runs it,
and one round trip costs less than three)."""

from . import notifications, outbox, webhooks


def write(cur, *, notes, emails, webhook_events):
    """Inserts the notifications and the emails, and finds the endpoints subscribed to each
    webhook event (`type`, `people`). Returns the ids of the emails to send now (not the
    scheduled reminders) and, per event, the ids of its endpoints."""
    parts = [f"notes AS ({notifications.insert(cur, notes)})"] if notes else []
    if emails:
        parts.append(f"emails AS ({outbox.insert(cur, emails)})")
    columns = ["ARRAY(SELECT id FROM emails WHERE reminder_minutes IS NULL) AS send_now" if emails
               else "'{}'::bigint[] AS send_now"]
    columns += [f"{webhooks.subscribed(cur, type=event.type, people=event.people)} AS endpoints_{i}"
                for i, event in enumerate(webhook_events)]
    cur.execute((f"WITH {', '.join(parts)} " if parts else "") + f"SELECT {', '.join(columns)}")
    row = cur.fetchone()
    return row["send_now"], [row[f"endpoints_{i}"] for i in range(len(webhook_events))]
