COLUMNS = "id, name, slug, owner_id, created_at, updated_at"
# An organisation as one member sees it: their role in it and when they accepted.
WITH_MY_ROLE = "o.id, o.name, o.slug, o.owner_id, o.created_at, o.updated_at, m.role AS my_role, m.accepted_at"
# The organisations a user (%(user_id)s) owns or administers: whose webhooks and API keys they manage.
MANAGED_BY_USER = """
    (SELECT m.organization_id FROM organization_members m WHERE m.user_id = %(user_id)s AND m.role = 'admin'
     UNION ALL
     SELECT o.id FROM organizations o WHERE o.owner_id = %(user_id)s)"""
MEMBER_COLUMNS = "m.id AS membership_id, m.role, m.joined_at, m.accepted_at, u.id AS user_id, u.name, u.email"


def insert(cur, *, name, owner_id):
    cur.execute(
        f"INSERT INTO organizations (name, owner_id) VALUES (%(name)s, %(owner_id)s) RETURNING {COLUMNS}",
        {"name": name, "owner_id": owner_id},
    )
    return cur.fetchone()


def list_for_member(cur, user_id):
    """The organisations the user belongs to, each with the user's role in it."""
    cur.execute(
        """
        SELECT o.id, o.name, o.slug, o.owner_id, o.created_at, o.updated_at, m.role, m.accepted_at
        FROM organization_members m
        JOIN organizations o ON o.id = m.organization_id
        WHERE m.user_id = %(user_id)s
        ORDER BY o.created_at DESC, o.id DESC
        """,
        {"user_id": user_id},
    )
    return cur.fetchall()


def find_with_role(cur, org_id, user_id):
    """The organisation plus the user's role in it and when they accepted; None unless the
    user is a member."""
    cur.execute(
        f"""
        SELECT {WITH_MY_ROLE}
        FROM organizations o
        JOIN organization_members m ON m.organization_id = o.id AND m.user_id = %(user_id)s
        WHERE o.id = %(org_id)s
        """,
        {"org_id": org_id, "user_id": user_id},
    )
    return cur.fetchone()


def update(cur, org_id, changes):
    """Sets the given columns (names from the caller's own model, never from the client)."""
    assignments = ", ".join(f"{column} = %({column})s" for column in changes)
    cur.execute(
        f"UPDATE organizations SET {assignments}, updated_at = now() WHERE id = %(id)s RETURNING {COLUMNS}",
        changes | {"id": org_id},
    )
    return cur.fetchone()


def delete(cur, org_id):
    cur.execute("DELETE FROM organizations WHERE id = %(id)s", {"id": org_id})


def add_member(cur, org_id, user_id, role, *, accepted=False):
    cur.execute(
        """
        INSERT INTO organization_members (organization_id, user_id, role, accepted_at)
        VALUES (%(org_id)s, %(user_id)s, %(role)s, CASE WHEN %(accepted)s THEN now() END)
        RETURNING id, organization_id, user_id, role, joined_at, accepted_at
        """,
        {"org_id": org_id, "user_id": user_id, "role": role, "accepted": accepted},
    )
    return cur.fetchone()


def accept(cur, org_id, user_id):
    """Marks the membership accepted (once) and returns the organisation with the user's role
    in it, as find_with_role does; None unless the user is a member."""
    cur.execute(
        f"""
        UPDATE organization_members m SET accepted_at = coalesce(m.accepted_at, now())
        FROM organizations o
        WHERE o.id = m.organization_id AND m.organization_id = %(org_id)s AND m.user_id = %(user_id)s
        RETURNING {WITH_MY_ROLE}
        """,
        {"org_id": org_id, "user_id": user_id},
    )
    return cur.fetchone()


def list_members(cur, org_id):
    cur.execute(
        f"""
        SELECT {MEMBER_COLUMNS}
        FROM organization_members m
        JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = %(org_id)s
        ORDER BY m.joined_at, m.id
        """,
        {"org_id": org_id},
    )
    return cur.fetchall()


def remove_member(cur, org_id, user_id):
    cur.execute(
        "DELETE FROM organization_members WHERE organization_id = %(org_id)s AND user_id = %(user_id)s",
        {"org_id": org_id, "user_id": user_id},
    )
    return cur.rowcount == 1


def colleagues(cur, user_id, *, ids, keys):
    """Of the given ids and e-mail identity keys, the users who share an organisation with `user_id`, both
    having accepted its invitation."""
    cur.execute(
        """
        SELECT DISTINCT u.id, u.email_key
        FROM users u
        JOIN organization_members theirs ON theirs.user_id = u.id AND theirs.accepted_at IS NOT NULL
        JOIN organization_members mine ON mine.organization_id = theirs.organization_id
                                      AND mine.user_id = %(user_id)s AND mine.accepted_at IS NOT NULL
        WHERE u.id = ANY(%(ids)s::bigint[]) OR u.email_key = ANY(%(keys)s::text[])
        """,
        {"user_id": user_id, "ids": list(ids), "keys": list(keys)},
    )
    return cur.fetchall()


def accepted_members(cur, org_id, user_ids=None):
    """Ids of the members who accepted (of `user_ids`, or all), for finding a common time."""
    cur.execute(
        """
        SELECT m.user_id AS id
        FROM organization_members m
        WHERE m.organization_id = %(org_id)s AND m.accepted_at IS NOT NULL
          AND (%(user_ids)s::bigint[] IS NULL OR m.user_id = ANY(%(user_ids)s::bigint[]))
        ORDER BY m.user_id
        """,
        {"org_id": org_id, "user_ids": list(user_ids) if user_ids is not None else None},
    )
    return [row["id"] for row in cur.fetchall()]


def hold_accepted_members(cur, org_id, user_ids):
    """Of `user_ids`, those who are members of the organisation and accepted it. Their
    memberships then can't be removed until the transaction ends (FOR KEY SHARE, which a DELETE
    waits for), so that a member leaving meanwhile does so after what was checked is written."""
    cur.execute(
        """
        SELECT m.user_id AS id
        FROM organization_members m
        WHERE m.organization_id = %(org_id)s AND m.user_id = ANY(%(user_ids)s::bigint[]) AND m.accepted_at IS NOT NULL
        FOR KEY SHARE
        """,
        {"org_id": org_id, "user_ids": list(user_ids)},
    )
    return {row["id"] for row in cur.fetchall()}


def slug_of(cur, org_id):
    """The organisation's slug (None if it has none or is gone)."""
    cur.execute("SELECT slug FROM organizations WHERE id = %(id)s", {"id": org_id})
    row = cur.fetchone()
    return row["slug"] if row else None
