"""An organisation's event types (team booking links) and their hosts, as its owner and admins
manage them (a new one is written by event_types.insert). What a guest is offered of one is
team_offer() in sql/functions.sql."""

COLUMNS = ("t.id, t.organization_id, t.kind, t.slug, t.title, t.description, t.location, t.duration, t.step, "
           "t.buffer_before, t.buffer_after, t.minimum_notice, t.booking_window, t.daily_limit, t.weekly_limit, "
           "t.max_occurrences, t.requires_confirmation, t.confirmation_hours, t.seats, t.cancel_notice, "
           "t.reschedule_notice, t.active, t.embed_origins, t.created_at, t.updated_at")
# Its hosts, each `active` while a member of the organisation who accepted it: the hosts
# team_offer() offers. One who left stays listed, inactive, until the host list is changed.
HOSTS = """
    coalesce((SELECT json_agg(json_build_object('user_id', u.id, 'name', u.name, 'weight', h.weight,
                                                'active', m.accepted_at IS NOT NULL) ORDER BY u.id)
              FROM event_type_hosts h
              JOIN users u ON u.id = h.user_id
              LEFT JOIN organization_members m ON m.organization_id = t.organization_id AND m.user_id = h.user_id
              WHERE h.event_type_id = t.id), '[]') AS hosts"""


def list_for_organization(cur, org_id):
    cur.execute(f"SELECT {COLUMNS}, {HOSTS} FROM event_types t WHERE t.organization_id = %(org_id)s ORDER BY t.id",
                {"org_id": org_id})
    return cur.fetchall()


def find(cur, org_id, event_type_id):
    cur.execute(f"SELECT {COLUMNS}, {HOSTS} FROM event_types t WHERE t.id = %(id)s AND t.organization_id = %(org_id)s",
                {"id": event_type_id, "org_id": org_id})
    return cur.fetchone()


def update(cur, org_id, event_type_id, changes):
    """Sets the given columns (names from the caller's own model, never from the client; none
    at all when only the hosts change) of the organisation's type, which stays locked until the
    transaction ends, so that changes of its hosts take turns. False if it has no such type."""
    assignments = "".join(f"{column} = %({column})s, " for column in changes)
    cur.execute(
        f"UPDATE event_types SET {assignments}updated_at = now() WHERE id = %(id)s AND organization_id = %(org_id)s",
        changes | {"id": event_type_id, "org_id": org_id},
    )
    return cur.rowcount == 1


def host_weights(cur, event_type_id):
    """{user id: weight} of the type's hosts."""
    cur.execute("SELECT user_id, weight FROM event_type_hosts WHERE event_type_id = %(id)s", {"id": event_type_id})
    return {row["user_id"]: row["weight"] for row in cur.fetchall()}


def replace_hosts(cur, event_type_id, weights):
    """Makes the type's hosts exactly the keys of `weights` ({user id: weight}). Hosts who stay
    keep their row, so round robin's last_assigned_at; an unchanged weight is not rewritten."""
    cur.execute(
        "DELETE FROM event_type_hosts WHERE event_type_id = %(id)s AND user_id <> ALL(%(hosts)s::bigint[])",
        {"id": event_type_id, "hosts": list(weights)},
    )
    cur.execute(
        """
        INSERT INTO event_type_hosts AS h (event_type_id, user_id, weight)
        SELECT %(id)s, host.user_id, host.weight
        FROM unnest(%(hosts)s::bigint[], %(weights)s::integer[]) AS host (user_id, weight)
        ON CONFLICT (event_type_id, user_id) DO UPDATE SET weight = excluded.weight
        WHERE h.weight <> excluded.weight
        """,
        {"id": event_type_id, "hosts": list(weights), "weights": list(weights.values())},
    )


def delete(cur, org_id, event_type_id):
    cur.execute("DELETE FROM event_types WHERE id = %(id)s AND organization_id = %(org_id)s",
                {"id": event_type_id, "org_id": org_id})
    return cur.rowcount == 1
