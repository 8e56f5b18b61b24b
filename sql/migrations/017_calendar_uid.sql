-- Calendar UIDs that say nothing: `booking-<id>@domain` told anyone invited how many bookings
-- the service had taken. New bookings get a random one from the column's default (so the
-- booking write's insert needs no change); existing rows stay NULL and keep the old form
-- (scheduler/calendar.py), so the calendars already holding them keep updating them. The
-- default is set after the column is added: a volatile default in ADD COLUMN would fill
-- (and rewrite) every existing row.
ALTER TABLE bookings ADD COLUMN calendar_uid text;
ALTER TABLE bookings ALTER COLUMN calendar_uid SET DEFAULT replace(gen_random_uuid()::text, '-', '');
