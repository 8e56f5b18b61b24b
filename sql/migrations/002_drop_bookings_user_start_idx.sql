-- Bookings are listed through booking_attendees (user_id, start_time, booking_id) since 001;
-- nothing reads bookings by (user_id, start_time) any more, so the index only cost writes.
DROP INDEX IF EXISTS bookings_user_start_idx;
