-- Team booking links (docs/booking-links.md, "Team links"): an organisation's event types,
-- booked by guests with one of its hosts (round robin) or all of them (collective).

-- A team's public handle, as a username is a person's: /book/team/<slug>/<type slug>.
ALTER TABLE organizations ADD COLUMN slug text CONSTRAINT organizations_slug_check CHECK (slug ~ '^[a-z0-9-]{3,40}$');
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);

-- An event type belongs to a person or to an organisation. A team type offers each host's own
-- default schedule, so it names no schedule of its own.
ALTER TABLE event_types
    ALTER COLUMN user_id DROP NOT NULL,
    ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE,
    ADD COLUMN kind text CONSTRAINT event_types_kind_check CHECK (kind IN ('round_robin', 'collective')),
    ADD CONSTRAINT event_types_one_owner CHECK ((user_id IS NULL) <> (organization_id IS NULL)),
    ADD CONSTRAINT event_types_team_kind CHECK ((organization_id IS NULL) = (kind IS NULL)),
    ADD CONSTRAINT event_types_team_schedule CHECK (organization_id IS NULL OR schedule_id IS NULL),
    ADD CONSTRAINT event_types_organization_slug_key UNIQUE (organization_id, slug);

-- A team type's hosts. Only those who are accepted members of its organisation are offered
-- (read at booking time), so leaving the organisation stops the offers without losing the row.
-- last_assigned_at: when round robin last gave this host a booking of the type (the tie-break).
CREATE TABLE event_type_hosts (
    event_type_id bigint NOT NULL REFERENCES event_types (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    weight integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 100),
    last_assigned_at timestamptz,
    PRIMARY KEY (event_type_id, user_id)
);
CREATE INDEX event_type_hosts_user_idx ON event_type_hosts (user_id);
