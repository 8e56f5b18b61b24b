-- Time zones, working hours, reminders, attendees, calendar feeds and scheduled emails.

ALTER TABLE users
    ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
    ADD COLUMN working_hours jsonb NOT NULL DEFAULT '{
        "mon": [{"start": "09:00", "end": "17:00"}], "tue": [{"start": "09:00", "end": "17:00"}],
        "wed": [{"start": "09:00", "end": "17:00"}], "thu": [{"start": "09:00", "end": "17:00"}],
        "fri": [{"start": "09:00", "end": "17:00"}], "sat": [], "sun": []}',
    -- Minutes before a booking's start at which to remind.
    ADD COLUMN reminders integer[] NOT NULL DEFAULT '{1440, 60}',
    -- sha256 of the secret in the calendar feed URL; the secret itself is never stored.
    ADD COLUMN calendar_feed_hash text UNIQUE;

-- Grows with every change, for iCalendar SEQUENCE.
ALTER TABLE bookings ADD COLUMN sequence integer NOT NULL DEFAULT 0;

CREATE TABLE booking_attendees (
    booking_id    bigint NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'needs-action' CHECK (status IN ('needs-action', 'accepted', 'declined')),
    -- Copies of the booking's times and state, kept by the trigger below, so that one
    -- constraint can see every person's commitments.
    start_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL,
    confirmed     boolean NOT NULL,
    PRIMARY KEY (booking_id, user_id),
    -- Nobody is ever double-booked: not the booker, not an attendee who has not declined.
    CONSTRAINT booking_attendees_no_overlap EXCLUDE USING gist (
        user_id WITH =, tstzrange(start_time, end_time) WITH &&
    ) WHERE (confirmed AND status <> 'declined')
);
-- A person's calendar in start order: listing, busy times, the feed.
CREATE INDEX booking_attendees_user_start_idx ON booking_attendees (user_id, start_time, booking_id);

INSERT INTO booking_attendees (booking_id, user_id, status, start_time, end_time, confirmed)
SELECT id, user_id, 'accepted', start_time, end_time, status = 'confirmed' FROM bookings;

-- The trigger needs its function to exist; the function's body is in sql/functions.sql,
-- applied after the migrations.
CREATE FUNCTION booking_attendees_follow_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_attendees_follow
    AFTER UPDATE OF start_time, end_time, status ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_attendees_follow_booking();

-- Scheduled emails (reminders) and emails voided before they were due.
ALTER TABLE email_outbox
    DROP CONSTRAINT email_outbox_status_check,
    ADD CONSTRAINT email_outbox_status_check CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'void')),
    ADD COLUMN booking_id bigint REFERENCES bookings (id) ON DELETE SET NULL,
    ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN reminder_minutes integer;

-- One reminder per person, booking, offset and start time, ever: a reminder is never sent twice.
CREATE UNIQUE INDEX email_outbox_reminder_once ON email_outbox (booking_id, user_id, reminder_minutes, send_after)
    WHERE reminder_minutes IS NOT NULL AND status <> 'void';
