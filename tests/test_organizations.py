import pytest

from helpers import YEAR

ORGS = "/api/v1/organizations"


@pytest.fixture
def org(client, alice):
    return client.post(ORGS, json={"name": "Team"}, headers=alice.auth).json["organization"]


def add(client, org, by, user, role=None):
    body = {"email": user.email} | ({"role": role} if role else {})
    return client.post(f"{ORGS}/{org['id']}/members", json=body, headers=by.auth)


def test_creator_is_owner_and_admin_member(client, alice, org):
    assert org["owner_id"] == alice.id and org["name"] == "Team"
    listed = client.get(ORGS, headers=alice.auth).json
    assert [(o["id"], o["role"]) for o in listed] == [(org["id"], "admin")]
    detail = client.get(f"{ORGS}/{org['id']}", headers=alice.auth).json
    assert [(m["user_id"], m["role"]) for m in detail["members"]] == [(alice.id, "admin")]
    assert "password_hash" not in str(detail)


def test_organization_needs_a_name(client, alice):
    assert client.post(ORGS, json={}, headers=alice.auth).status_code == 400
    assert client.post(ORGS, json={"name": "x" * 101}, headers=alice.auth).status_code == 400


def test_member_sees_org_in_list_with_member_role(client, alice, bob, org):
    assert add(client, org, alice, bob).status_code == 201
    assert [(o["id"], o["role"]) for o in client.get(ORGS, headers=bob.auth).json] == [(org["id"], "member")]


def test_adding_members(client, alice, bob, org):
    r = add(client, org, alice, bob)
    assert r.status_code == 201 and r.json["member"]["role"] == "member"
    assert add(client, org, alice, bob).status_code == 409
    ghost = client.post(f"{ORGS}/{org['id']}/members", json={"email": "ghost@example.com"}, headers=alice.auth)
    assert ghost.status_code == 404
    invites = client.get("/api/v1/notifications", headers=bob.auth).json
    assert [n["type"] for n in invites] == ["ORG_INVITE"]
    assert len(client.get(f"{ORGS}/{org['id']}/members", headers=bob.auth).json) == 2


def test_the_invitation_names_the_role_in_good_english(client, alice, bob, register, org):
    carol = register("Carol")
    assert add(client, org, alice, bob, role="admin").status_code == 201
    assert add(client, org, alice, carol).status_code == 201
    [to_bob] = client.get("/api/v1/notifications", headers=bob.auth).json
    [to_carol] = client.get("/api/v1/notifications", headers=carol.auth).json
    assert "You are now an admin of" in to_bob["message"] and "You are now a member of" in to_carol["message"]


def test_member_roles_are_validated(client, alice, bob, org):
    r = add(client, org, alice, bob, role="superuser")
    assert r.status_code == 400 and "role" in r.json["fields"]


def test_plain_members_cannot_manage_members(client, alice, bob, register, org):
    carol = register("Carol")
    add(client, org, alice, bob)
    assert add(client, org, bob, carol).status_code == 403
    assert client.delete(f"{ORGS}/{org['id']}/members/{alice.id}", headers=bob.auth).status_code == 400
    add(client, org, alice, carol)
    assert client.delete(f"{ORGS}/{org['id']}/members/{carol.id}", headers=bob.auth).status_code == 403


def test_org_admins_manage_members_but_only_the_owner_renames_or_deletes(client, alice, bob, register, org):
    carol = register("Carol")
    add(client, org, alice, bob, role="admin")
    assert add(client, org, bob, carol).status_code == 201
    assert client.delete(f"{ORGS}/{org['id']}/members/{carol.id}", headers=bob.auth).status_code == 200
    assert client.patch(f"{ORGS}/{org['id']}", json={"name": "Mine"}, headers=bob.auth).status_code == 403
    assert client.delete(f"{ORGS}/{org['id']}", headers=bob.auth).status_code == 403
    assert client.delete(f"{ORGS}/{org['id']}/members/{alice.id}", headers=bob.auth).status_code == 400


def test_nobody_removes_the_owner(client, alice, org):
    r = client.delete(f"{ORGS}/{org['id']}/members/{alice.id}", headers=alice.auth)
    assert r.status_code == 400


def test_a_member_can_leave(client, alice, bob, org):
    add(client, org, alice, bob)
    assert client.delete(f"{ORGS}/{org['id']}/members/{bob.id}", headers=bob.auth).status_code == 200
    assert client.get(f"{ORGS}/{org['id']}", headers=bob.auth).status_code == 404


def test_removing_a_non_member_is_404(client, alice, bob, org):
    assert client.delete(f"{ORGS}/{org['id']}/members/{bob.id}", headers=alice.auth).status_code == 404


def test_organizations_are_private_to_members(client, alice, bob, org):
    for method, path, body in [("GET", "", None), ("GET", "/members", None), ("PATCH", "", {"name": "x"}),
                               ("DELETE", "", None), ("POST", "/members", {"email": bob.email})]:
        r = client.open(f"{ORGS}/{org['id']}{path}", method=method, json=body, headers=bob.auth)
        assert r.status_code == 404, (method, path)


def test_owner_renames_and_deletes(client, alice, bob, org):
    add(client, org, alice, bob)
    r = client.patch(f"{ORGS}/{org['id']}", json={"name": "Renamed"}, headers=alice.auth)
    assert r.status_code == 200 and r.json["organization"]["name"] == "Renamed"
    assert client.delete(f"{ORGS}/{org['id']}", headers=alice.auth).status_code == 200
    assert client.get(f"{ORGS}/{org['id']}", headers=alice.auth).status_code == 404
    assert client.get(ORGS, headers=bob.auth).json == []


def test_an_added_member_shares_no_calendar_until_they_accept(client, alice, bob, org):
    """Anyone can be added (the contract), but nobody learns or books a stranger's time that way."""
    add(client, org, alice, bob)
    client.post("/api/v1/bookings", json={"title": "Private", "start": f"{YEAR}-07-01T10:00:00Z",
                                          "end": f"{YEAR}-07-01T11:00:00Z"}, headers=bob.auth)
    meeting = {"title": "Probe", "start": f"{YEAR}-07-01T00:00:00Z", "end": f"{YEAR}-07-02T00:00:00Z", "attendees": [bob.id]}
    window = f"{ORGS}/{org['id']}/availability?from={YEAR}-07-01T00:00:00Z&to={YEAR}-07-02T00:00:00Z"

    refused = client.post("/api/v1/bookings", json=meeting, headers=alice.auth)
    assert refused.status_code == 400 and "10:00" not in str(refused.json)
    assert client.get(f"{window}&members={bob.id}", headers=alice.auth).status_code == 400
    assert client.get(window, headers=alice.auth).json["members"] == [alice.id]
    assert client.get(window, headers=bob.auth).status_code == 403

    accepted = client.post(f"{ORGS}/{org['id']}/accept", headers=bob.auth)
    assert accepted.status_code == 200 and accepted.json["organization"]["accepted_at"]
    assert client.get(window, headers=alice.auth).json["members"] == [alice.id, bob.id]
    assert client.post("/api/v1/bookings", json=meeting, headers=alice.auth).status_code == 409


def test_accepting_is_for_members_and_idempotent(client, alice, bob, register, org):
    add(client, org, alice, bob)
    assert client.post(f"{ORGS}/{org['id']}/accept", headers=register("Eve").auth).status_code == 404
    first = client.post(f"{ORGS}/{org['id']}/accept", headers=bob.auth).json["organization"]["accepted_at"]
    assert client.post(f"{ORGS}/{org['id']}/accept", headers=bob.auth).json["organization"]["accepted_at"] == first
    members = {m["user_id"]: m["accepted_at"] for m in client.get(f"{ORGS}/{org['id']}/members", headers=alice.auth).json}
    assert members[alice.id] and members[bob.id] == first


def test_accepting_a_membership_removed_meanwhile_is_404_not_500(app, alice, bob, org):
    """Accepting is one statement, so a removal racing with it leaves nothing to find: the
    repository answers None (it raised TypeError when the row had gone)."""
    from scheduler.repositories import organizations
    with app.extensions["runtime"].db.transaction() as cur:
        assert organizations.accept(cur, org["id"], bob.id) is None
