-- What reading external calendars needs beyond 019 (docs/calendars.md).
-- A password is sealed with the SECRET_KEYS ring, which makes bytes, as webhook secrets are
-- (nothing has been written to the column yet).
ALTER TABLE calendars ALTER COLUMN password_sealed TYPE bytea USING convert_to(password_sealed, 'UTF8');
-- CalDAV: the account's calendar home, found once by discovery, and the calendar collections
-- in it as last listed ([{href, name, events}]), so the API can show them and `read` can name them.
ALTER TABLE calendars ADD COLUMN home_url text CHECK (length(home_url) <= 2000),
    ADD COLUMN collections jsonb;
-- The CalDAV object (its href) a busy time comes from; NULL for an iCalendar subscription. A
-- sync-collection refresh replaces the rows of the objects that changed, in one transaction.
ALTER TABLE calendar_busy ADD COLUMN href text;
DROP INDEX calendar_busy_calendar_idx;
CREATE INDEX calendar_busy_calendar_href_idx ON calendar_busy (calendar_id, href);
