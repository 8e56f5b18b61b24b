-- The database's functions, all of them, as they are now. migrate.py applies this file on every
-- run, after the migrations, in the same transaction and under the same lock, so an edit here
-- reaches every database at its next deploy (a function in a migration ran once, never again).
-- Migrations change tables.
--
-- Only CREATE [OR REPLACE] FUNCTION (or PROCEDURE) statements, with unqualified names, and no
-- DROP FUNCTION: migrate.py runs the file in a scratch schema first to learn what it defines,
-- drops the functions the file no longer defines or whose arguments or result (RETURNS TABLE
-- included) changed, which CREATE OR REPLACE can't change, then runs it for real; the others
-- are replaced in place (same oid). A function that something depends on can't be dropped so:
-- the run fails and changes nothing. To change a trigger function's signature, let a migration
-- move the trigger onto a placeholder of the new function, as 001 does for its trigger.
-- Migrations run before this file: one that writes bookings runs with the trigger body the
-- last deploy left, not this one.
--
-- Each function gets the comment "managed by sql/functions.sql"; migrate.py drops only
-- functions so marked (or named as one here), never one someone else put in the schema.
--
-- The booking write's functions are PL/pgSQL: PostgreSQL plans a plain statement each time it
-- runs, but a function's statements once per connection. Planning the booking insert and the
-- webhook lookup cost more than running them (about 200 µs each of PostgreSQL CPU per booking,
-- measured). Prepared statements would do the same but do not survive PgBouncer's transaction
-- mode; these need no session state. A session that has a replaced function cached compiles
-- the new one at its next call.

-- Keeps each attendee's copy of the booking's times and state (booking_attendees, migrations
-- 001, 006, 007) in step with the booking, and marks every attendee's row on any change to it
-- (a rename too), for incremental sync. Trigger bookings_attendees_follow (migration 007).
-- `confirmed` is whether the booking holds its time: confirmed, or pending (migration 024).
CREATE OR REPLACE FUNCTION booking_attendees_follow_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE booking_attendees
    SET start_time = NEW.start_time, end_time = NEW.end_time, confirmed = (NEW.status IN ('confirmed', 'pending')),
        block_start = NEW.start_time - make_interval(mins => NEW.buffer_before),
        block_end = NEW.end_time + make_interval(mins => NEW.buffer_after),
        changed_xid = pg_current_xact_id()
    WHERE booking_id = NEW.id;
    RETURN NULL;
END
$$;

-- The one lock order for calendars (scheduler/repositories/locks.py): each person's
-- transaction-scoped advisory lock, in ascending user id. A free lock is taken at once; a
-- taken one is waited for by wait_for_person.
CREATE OR REPLACE FUNCTION lock_people(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    person bigint;
BEGIN
    FOREACH person IN ARRAY ARRAY(SELECT DISTINCT id FROM unnest(p_ids) AS id ORDER BY id) LOOP
        IF NOT pg_try_advisory_xact_lock(person) THEN
            PERFORM wait_for_person(person);
        END IF;
    END LOOP;
END
$$;

-- Waits for a person's lock, failing with lock_not_available (55P03, the API's 503) only when
-- one transaction has held it through a whole `scheduler.lock_timeout` of the wait: a stuck
-- holder, not a queue. PostgreSQL's lock_timeout alone counts the whole wait, across every
-- holder the queue passes through, so it would fail the last of many brief writers; here each
-- slice of that length that ends with the lock still taken looks at who holds it, and waits
-- again if that changed since the slice before. So a stuck holder costs a waiter between one
-- and two `scheduler.lock_timeout`s. The setting is a database default (migrate.py, from
-- DB_LOCK_TIMEOUT); unset, it waits as long as the statement may run.
CREATE OR REPLACE FUNCTION wait_for_person(p_person bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    slice text := coalesce(nullif(current_setting('scheduler.lock_timeout', true), ''), '0');
    previous text := current_setting('lock_timeout');
    holder text;
    held_before text;
BEGIN
    LOOP
        BEGIN
            PERFORM set_config('lock_timeout', slice, true);
            PERFORM pg_advisory_xact_lock(p_person);
            PERFORM set_config('lock_timeout', previous, true);
            RETURN;
        EXCEPTION WHEN lock_not_available THEN
            -- A single-key advisory lock: the key's high and low 32 bits, objsubid 1.
            SELECT l.virtualtransaction INTO holder FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = (p_person >> 32)::oid AND l.objid = (p_person & 4294967295)::oid;
            IF holder = held_before THEN
                RAISE;
            END IF;
            held_before := holder;
        END;
    END LOOP;
END
$$;

-- A seated booking's seats as scheduler/repositories/bookings.py's COLUMNS show them. A function,
-- so that the lists' statements (planned anew on every request) do not plan its query each time
-- for the many bookings that have no seats: it is planned once per connection, and called only
-- for seated bookings.
CREATE OR REPLACE FUNCTION booking_seats(p_booking bigint, p_capacity integer, p_taken integer) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN json_build_object(
        'capacity', p_capacity, 'taken', p_taken,
        'guests', (SELECT coalesce(json_agg(json_build_object(
                              'id', s.id, 'name', s.guest_name, 'email', s.guest_email, 'timezone', s.guest_timezone,
                              'language', coalesce(s.guest_language, 'en'), 'notes', s.guest_notes,
                              'status', s.status, 'no_show', s.no_show) ORDER BY s.id), '[]')
                   FROM booking_seats s WHERE s.booking_id = p_booking));
END
$$;

-- A booking and its attendees (the owner accepted, the others needs-action; a guest booking's
-- attendees are its hosts, who accepted by offering the type), confirmed or (p_status) a
-- pending request until p_expires_at, seated (p_seats, its capacity) or not, after taking
-- everyone's lock; either exclusion constraint refuses it if anyone would be double-booked
-- or the blocked span (the booking with its buffers) would touch a commitment or its
-- buffers. Returns the booking as scheduler/repositories/bookings.py's COLUMNS and INTERNAL
-- show it (spelt out here: a function returning it is planned once, a query around one is
-- not), and its recipients: each attendee with what their messages need, by user id.
-- p_guest_language (migration 027) comes last with a default, so processes of the release before,
-- which pass one argument fewer, still book while a deploy's migration has already run.
CREATE OR REPLACE FUNCTION insert_booking(
    p_owner bigint, p_people bigint[], p_title text, p_start timestamptz, p_end timestamptz,
    p_event_type_id bigint, p_location text, p_buffer_before integer, p_buffer_after integer,
    p_guest_name text, p_guest_email text, p_guest_timezone text, p_guest_notes text,
    p_guest_token_hash text, p_guest_token_salt text, p_series_id bigint, p_occurrence integer,
    p_status text, p_expires_at timestamptz, p_seats integer, p_guest_language text DEFAULT NULL
) RETURNS TABLE (
    id bigint, user_id bigint, title text, start_time timestamptz, end_time timestamptz, status text,
    created_at timestamptz, updated_at timestamptz, event_type_id bigint, location text, guest json,
    series_id bigint, occurrence integer, expires_at timestamptz, seats json, no_show json, sequence integer,
    calendar_uid text, guest_token_salt text, recipients json
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lock_people(p_people);
    RETURN QUERY
    WITH created AS (
        INSERT INTO bookings AS b (user_id, title, start_time, end_time, event_type_id, location, buffer_before,
                                   buffer_after, guest_name, guest_email, guest_timezone, guest_notes,
                                   guest_token_hash, guest_token_salt, series_id, occurrence, status, expires_at,
                                   seats, guest_language)
        VALUES (p_owner, p_title, p_start, p_end, p_event_type_id, p_location, p_buffer_before,
                p_buffer_after, p_guest_name, p_guest_email, p_guest_timezone, p_guest_notes,
                p_guest_token_hash, p_guest_token_salt, p_series_id, p_occurrence, p_status, p_expires_at, p_seats,
                p_guest_language)
        RETURNING b.*
    ), attendees AS (
        INSERT INTO booking_attendees AS a (booking_id, user_id, status, start_time, end_time, confirmed,
                                            block_start, block_end)
        SELECT b.id, person.id,
               CASE WHEN person.id = p_owner OR p_guest_email IS NOT NULL THEN 'accepted' ELSE 'needs-action' END,
               b.start_time, b.end_time, true,
               b.start_time - make_interval(mins => b.buffer_before),
               b.end_time + make_interval(mins => b.buffer_after)
        FROM created b, unnest(p_people) AS person (id)
        RETURNING a.user_id, a.status
    )
    SELECT b.id, b.user_id, b.title, b.start_time, b.end_time, b.status, b.created_at, b.updated_at,
           b.event_type_id, b.location,
           CASE WHEN b.guest_email IS NOT NULL THEN json_build_object(
               'name', b.guest_name, 'email', b.guest_email, 'timezone', b.guest_timezone,
               'language', coalesce(b.guest_language, 'en'), 'notes', b.guest_notes)
           END,
           b.series_id, b.occurrence, b.expires_at,
           CASE WHEN b.seats IS NOT NULL THEN booking_seats(b.id, b.seats, b.seats_taken) END,
           json_build_object('guest', false, 'user_ids', '[]'::json),
           b.sequence, b.calendar_uid, b.guest_token_salt,
           (SELECT json_agg(json_build_object('user_id', u.id, 'name', u.name, 'email', u.email,
                                              'timezone', u.timezone, 'reminders', u.reminders,
                                              'status', attendees.status) ORDER BY u.id)
            FROM attendees JOIN users u ON u.id = attendees.user_id)
    FROM created b;
END
$$;

-- The enabled endpoints subscribed to an event type that belong to one of the people or to
-- an organisation one of them has accepted. Every booking write calls it. While its tables
-- have never been analysed (autovacuum analyses a table once 50 of its rows have changed, so
-- a deployment with few endpoints may never), the generic plan is estimated dearer than a
-- custom one and PostgreSQL planned it afresh on every call: 89 µs a call, 18-20 µs with the
-- plan kept; the setting costs about 5 µs where it is not needed (docs/performance.md, issue 25).
CREATE OR REPLACE FUNCTION webhook_subscribers(p_type text, p_people bigint[]) RETURNS bigint[]
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN ARRAY(
        SELECT e.id FROM webhook_endpoints e
        WHERE e.enabled AND p_type = ANY(e.events)
          AND (e.user_id = ANY(p_people)
               OR e.organization_id IN (SELECT m.organization_id FROM organization_members m
                                        WHERE m.user_id = ANY(p_people) AND m.accepted_at IS NOT NULL))
        ORDER BY e.id);
END
$$;

-- What an event sends out, from JSON arrays: one parameter however many messages, so the
-- statement is planned once instead of parsed anew with every message's text in it.

-- In-app notifications: [{user_id, kind, title, message, metadata}].
CREATE OR REPLACE FUNCTION add_notifications(p_notes json) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (user_id, type, title, message, metadata)
    SELECT n.user_id, n.kind, n.title, n.message, n.metadata
    FROM json_to_recordset(p_notes) AS n (user_id bigint, kind text, title text, message text, metadata jsonb);
END
$$;

-- Outbox emails: [{to, template, payload, user_id?, booking_id?, seat_id?, reminder_minutes?, send_after?}].
-- A reminder already scheduled or sent for the same person (or seat), booking, offset and time is
-- skipped: none is ever sent twice. Returns the ids of the emails to send now (the others are
-- scheduled reminders), in the order given.
CREATE OR REPLACE FUNCTION add_emails(p_emails json) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    send_now bigint[];
BEGIN
    WITH written AS (
        INSERT INTO email_outbox (recipient, template, payload, user_id, booking_id, seat_id, reminder_minutes,
                                  send_after)
        SELECT e."to", e.template, e.payload, e.user_id, e.booking_id, e.seat_id, e.reminder_minutes,
               coalesce(e.send_after, now())
        FROM json_to_recordset(p_emails) AS e ("to" text, template text, payload jsonb, user_id bigint,
                                               booking_id bigint, seat_id bigint, reminder_minutes integer,
                                               send_after timestamptz)
        ON CONFLICT (booking_id, user_id, seat_id, reminder_minutes, send_after)
            WHERE reminder_minutes IS NOT NULL AND status <> 'void'
        DO NOTHING
        RETURNING id, reminder_minutes
    )
    SELECT coalesce(array_agg(id ORDER BY id) FILTER (WHERE reminder_minutes IS NULL), '{}') INTO send_now FROM written;
    RETURN send_now;
END
$$;

-- The hours of a person's schedule (p_schedule, or their default one when NULL): its zone, its
-- weekly hours and its date overrides as {"YYYY-MM-DD": hours}. The default schedule's zone and
-- hours are the person's own (migration 018).
CREATE OR REPLACE FUNCTION schedule_hours(p_user bigint, p_schedule bigint)
RETURNS TABLE (timezone text, working_hours jsonb, overrides jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT coalesce(s.timezone, u.timezone), coalesce(s.working_hours, u.working_hours),
               (SELECT coalesce(jsonb_object_agg(o.day, o.hours), '{}') FROM schedule_overrides o
                WHERE o.schedule_id = s.id)
        FROM users u LEFT JOIN schedules s ON s.user_id = u.id AND (s.id = p_schedule OR (p_schedule IS NULL AND s.is_default))
        WHERE u.id = p_user;
END
$$;

-- An event type with what its slot rules need of its host: who they are and the hours of the
-- type's schedule. By link (the host's username and the type's slug; active types only) or by
-- id (p_id; a booking's type, active or not). A function, so that every slot list and guest
-- booking runs a plan made once per connection.
CREATE OR REPLACE FUNCTION event_type_offer(p_username text, p_slug text, p_id bigint)
RETURNS TABLE (id bigint, user_id bigint, slug text, title text, description text, location text, duration integer,
               step integer, buffer_before integer, buffer_after integer, minimum_notice integer,
               booking_window integer, daily_limit integer, weekly_limit integer, max_occurrences integer,
               requires_confirmation boolean, confirmation_hours integer, seats integer, cancel_notice integer,
               reschedule_notice integer, schedule_id bigint, active boolean, created_at timestamptz, updated_at timestamptz,
               embed_origins text[], host_id bigint, host_name text, username text, host_timezone text, working_hours jsonb, overrides jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id bigint := p_id;
BEGIN
    IF v_id IS NULL THEN
        SELECT t.id INTO v_id FROM users h JOIN event_types t ON t.user_id = h.id
        WHERE h.username = lower(p_username) AND t.slug = lower(p_slug) AND t.active;
    END IF;
    RETURN QUERY
        SELECT t.id, t.user_id, t.slug, t.title, t.description, t.location, t.duration, t.step, t.buffer_before,
               t.buffer_after, t.minimum_notice, t.booking_window, t.daily_limit, t.weekly_limit, t.max_occurrences,
               t.requires_confirmation, t.confirmation_hours, t.seats, t.cancel_notice, t.reschedule_notice,
               t.schedule_id, t.active, t.created_at, t.updated_at, t.embed_origins, h.id, h.name, h.username, s.timezone, s.working_hours, s.overrides
        FROM event_types t JOIN users h ON h.id = t.user_id CROSS JOIN LATERAL schedule_hours(h.id, t.schedule_id) s
        WHERE t.id = v_id;
END
$$;

-- A team's event type (migration 022) with what its slot rules need of each host: by link
-- (the organisation's slug and the type's slug; active types only) or by id (p_id; a
-- booking's type, active or not). `hosts` are those still accepted members of the
-- organisation, by user id: [{user_id, name, weight, timezone, working_hours, overrides}], each
-- with their default schedule's hours.
CREATE OR REPLACE FUNCTION team_offer(p_org_slug text, p_slug text, p_id bigint)
RETURNS TABLE (id bigint, organization_id bigint, organization_name text, kind text, slug text, title text,
               description text, location text, duration integer, step integer, buffer_before integer,
               buffer_after integer, minimum_notice integer, booking_window integer, daily_limit integer,
               weekly_limit integer, max_occurrences integer, requires_confirmation boolean,
               confirmation_hours integer, seats integer, cancel_notice integer, reschedule_notice integer,
               active boolean, embed_origins text[], hosts json)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id bigint := p_id;
BEGIN
    IF v_id IS NULL THEN
        SELECT t.id INTO v_id FROM organizations o JOIN event_types t ON t.organization_id = o.id
        WHERE o.slug = lower(p_org_slug) AND t.slug = lower(p_slug) AND t.active;
    END IF;
    RETURN QUERY
        SELECT t.id, t.organization_id, o.name, t.kind, t.slug, t.title, t.description, t.location, t.duration,
               t.step, t.buffer_before, t.buffer_after, t.minimum_notice, t.booking_window, t.daily_limit,
               t.weekly_limit, t.max_occurrences, t.requires_confirmation, t.confirmation_hours, t.seats,
               t.cancel_notice, t.reschedule_notice, t.active, t.embed_origins,
               coalesce((SELECT json_agg(json_build_object(
                                 'user_id', u.id, 'name', u.name, 'weight', h.weight, 'timezone', s.timezone,
                                 'working_hours', s.working_hours, 'overrides', s.overrides) ORDER BY u.id)
                         FROM event_type_hosts h
                         JOIN organization_members m ON m.organization_id = t.organization_id
                                                    AND m.user_id = h.user_id AND m.accepted_at IS NOT NULL
                         JOIN users u ON u.id = h.user_id
                         CROSS JOIN LATERAL schedule_hours(u.id, NULL) s
                         WHERE h.event_type_id = t.id), '[]')
        FROM event_types t JOIN organizations o ON o.id = t.organization_id
        WHERE t.id = v_id;
END
$$;

-- A person's time (docs/architecture.md): what blocks it besides bookings, whatever their
-- schedules say: time off, and the busy times read from their own calendars (with the
-- calendar's id). `source` names where each span comes from, and is all that anyone but its
-- owner learns of it.
CREATE OR REPLACE FUNCTION unavailable(p_people bigint[], p_start timestamptz, p_end timestamptz)
RETURNS TABLE (user_id bigint, start_time timestamptz, end_time timestamptz, source text, calendar_id bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT t.user_id, t.start_time, t.end_time, 'time_off'::text, NULL::bigint FROM time_off t
        WHERE t.user_id = ANY(p_people) AND tstzrange(t.start_time, t.end_time) && tstzrange(p_start, p_end)
        UNION ALL
        SELECT c.user_id, c.start_time, c.end_time, 'calendar'::text, c.calendar_id FROM calendar_busy c
        WHERE c.user_id = ANY(p_people) AND tstzrange(c.start_time, c.end_time) && tstzrange(p_start, p_end);
END
$$;

-- Everything that blocks people's time in [p_start, p_end): their confirmed or pending, not
-- declined bookings with buffers (but `p_excluding`, a booking being moved) and what `unavailable`
-- returns. The bookings are found through the overlap constraint's GiST index (user_id and
-- the blocked range, over the same confirmed, not declined rows), which reads only what
-- overlaps the span. (Bounded by start time in the (user_id, start_time) btree, every earlier
-- booking of the person was read: a 52-week series checked against calendars of 5,000
-- bookings spent ~45 ms in blocked_spans; see docs/performance.md, issue 21.)
CREATE OR REPLACE FUNCTION blocked_time(p_people bigint[], p_start timestamptz, p_end timestamptz,
                                        p_excluding bigint)
RETURNS TABLE (user_id bigint, start_time timestamptz, end_time timestamptz, source text, calendar_id bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT a.user_id, a.block_start, a.block_end, 'booking'::text, NULL::bigint
        FROM booking_attendees a
        WHERE a.user_id = ANY(p_people) AND a.confirmed AND a.status <> 'declined'
          AND tstzrange(a.block_start, a.block_end) && tstzrange(p_start, p_end)
          AND a.booking_id IS DISTINCT FROM p_excluding
        UNION ALL
        SELECT u.user_id, u.start_time, u.end_time, u.source, u.calendar_id FROM unavailable(p_people, p_start, p_end) u;
END
$$;

-- What blocks people's time in each of several spans (a series' occurrences with their buffers,
-- or one start's): blocked_time's who and source, with the 1-based number of the span it
-- touches. One call, one plan per connection, however many spans.
CREATE OR REPLACE FUNCTION blocked_spans(p_people bigint[], p_starts timestamptz[], p_ends timestamptz[],
                                         p_excluding bigint)
RETURNS TABLE (span integer, user_id bigint, source text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
        SELECT DISTINCT s.n::integer, b.user_id, b.source
        FROM unnest(p_starts, p_ends) WITH ORDINALITY AS s (lo, hi, n)
        CROSS JOIN LATERAL blocked_time(p_people, s.lo, s.hi, p_excluding) b;
END
$$;

-- Bookings written back to calendars (migration 020, scheduler/delivery/calendars.py), per
-- booking event: [{booking_id, event, holders, dropped}], the booking's event, which the
-- write_to calendars of `holders` (user ids) should hold and those of `dropped` should not;
-- `p_people` is everyone in them. Most people have no write_to calendar: for them the answer is
-- one probe of a small index, and the JSON is not even read. A removal changes nothing for a
-- calendar that doesn't hold the booking and isn't to (never got it, or declined it before). A
-- row being sent stays `sending`: the job sending it sees the new version when it records its
-- write, and writes again. Returns the rows to enqueue, as [[id, version], ...].
CREATE OR REPLACE FUNCTION add_calendar_writes(p_people bigint[], p_writes json) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE
    changed json;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM calendars c WHERE c.user_id = ANY(p_people) AND c.write_to IS NOT NULL) THEN
        RETURN '[]';
    END IF;
    WITH wanted AS (
        SELECT c.id AS calendar_id, w.booking_id, w.event, c.user_id = ANY(w.holders) AS held
        FROM json_to_recordset(p_writes) AS w (booking_id bigint, event jsonb, holders bigint[], dropped bigint[])
        JOIN calendars c ON c.user_id = ANY(w.holders || w.dropped) AND c.write_to IS NOT NULL
    ), written AS (
        INSERT INTO calendar_writes AS r (calendar_id, booking_id, event, held, enqueued_at)
        SELECT wanted.calendar_id, wanted.booking_id, wanted.event, wanted.held, now() FROM wanted
        WHERE wanted.held
           OR EXISTS (SELECT 1 FROM calendar_writes x
                      WHERE x.calendar_id = wanted.calendar_id AND x.booking_id = wanted.booking_id)
        ON CONFLICT (calendar_id, booking_id) DO UPDATE
        SET event = EXCLUDED.event, held = EXCLUDED.held, version = r.version + 1, attempts = 0,
            last_error = NULL, status = CASE WHEN r.status = 'sending' THEN 'sending' ELSE 'pending' END,
            next_attempt_at = now(), enqueued_at = now(), updated_at = now()
        WHERE EXCLUDED.held OR r.held OR r.on_server
        RETURNING r.id, r.version
    )
    SELECT coalesce(json_agg(json_build_array(written.id, written.version) ORDER BY written.id), '[]')
    INTO changed FROM written;
    RETURN changed;
END
$$;

-- The request's API key by its hash (scheduler/auth.py), with its owner as
-- scheduler/repositories/users.py's PUBLIC shows them (spelt out: a function is planned once
-- per connection, and the query in it cost more to plan than to run), whether it has expired,
-- and whether an organisation's key still has a maker who owns or administers it (read now:
-- a demoted admin's keys lose the reach at once). Marks last_used_at, to the minute, at most
-- once a minute: no write on most requests. Nothing for an unknown key.
CREATE OR REPLACE FUNCTION api_key_for_request(p_hash bytea) RETURNS TABLE (
    id bigint, name text, email text, role text, username text, timezone text, working_hours jsonb,
    reminders integer[], locale text, created_at timestamptz, updated_at timestamptz,
    key_id bigint, key_prefix text, key_scopes text[], key_organization_id bigint, key_expired boolean,
    key_maker_manages boolean
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k api_keys%ROWTYPE;
    expired boolean;
BEGIN
    SELECT * INTO k FROM api_keys WHERE key_hash = p_hash;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    expired := k.expires_at IS NOT NULL AND k.expires_at <= now();
    IF NOT expired AND (k.last_used_at IS NULL OR k.last_used_at < date_trunc('minute', now())) THEN
        UPDATE api_keys SET last_used_at = date_trunc('minute', now())
        WHERE api_keys.id = k.id AND (last_used_at IS NULL OR last_used_at < date_trunc('minute', now()));
    END IF;
    RETURN QUERY
    SELECT u.id, u.name, u.email, u.role, u.username, u.timezone, u.working_hours, u.reminders, u.locale,
           u.created_at, u.updated_at, k.id, k.prefix, k.scopes, k.organization_id, expired,
           k.organization_id IS NULL
               OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = k.organization_id AND o.owner_id = u.id)
               OR EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = k.organization_id
                          AND m.user_id = u.id AND m.role = 'admin')
    FROM users u WHERE u.id = k.user_id;
END
$$;
