-- Idempotency keys, and what incremental sync reads to know what changed.

-- One row per (caller, Idempotency-Key): the request's fingerprint and the response it got,
-- written in the same transaction as the request's own writes, so a replay never repeats them.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    status       smallint NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
-- The worker's purge of expired keys.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- The transaction that last changed what this attendee sees of the booking: the booking
-- itself (title, times, state) or any attendee's answer. Sync tokens hold database snapshots,
-- so "changed since" is decided by transaction visibility, not by timestamps or sequence values
-- that can commit out of order.
ALTER TABLE booking_attendees ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX booking_attendees_user_changed_idx ON booking_attendees (user_id, changed_xid, booking_id);

-- Any change to a booking (a rename too, not only times and state) marks every attendee's row
-- (booking_attendees_follow_booking in sql/functions.sql sets changed_xid).
DROP TRIGGER bookings_attendees_follow ON bookings;
CREATE TRIGGER bookings_attendees_follow
    AFTER UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_attendees_follow_booking();
