-- Anyone can be added to an organisation without being asked (the HTTP contract), so being a
-- member shares nothing of one's calendar until one accepts: NULL means not accepted yet.
ALTER TABLE organization_members ADD COLUMN accepted_at timestamptz;
-- Memberships from before this change keep the sharing they had.
UPDATE organization_members SET accepted_at = joined_at;
