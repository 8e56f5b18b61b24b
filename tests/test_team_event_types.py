"""Team booking links, the host's side: an organisation's slug, and its event types with their
hosts (round robin or collective)."""

import pytest

from helpers import answer_behind

ORGS = "/api/v1/organizations"


@pytest.fixture
def team(client, alice, bob, org_of):
    """Alice owns it; Bob is a member who accepted."""
    return org_of(alice, bob)


def org_path(org):
    return f"{ORGS}/{org['id']}"


def test_an_org_slug_is_set_lowercased_shown_and_cleared(client, alice, bob, team):
    r = client.patch(org_path(team), json={"slug": "  Sales-Team "}, headers=alice.auth)
    assert r.status_code == 200 and r.json["organization"]["slug"] == "sales-team"
    assert r.json["organization"]["name"] == "Team"
    assert client.get(org_path(team), headers=bob.auth).json["slug"] == "sales-team"
    assert [o["slug"] for o in client.get(ORGS, headers=bob.auth).json] == ["sales-team"]
    r = client.patch(org_path(team), json={"slug": None}, headers=alice.auth)
    assert r.status_code == 200 and r.json["organization"]["slug"] is None


def test_a_new_organization_has_no_slug(client, alice):
    org = client.post(ORGS, json={"name": "New"}, headers=alice.auth).json["organization"]
    assert org["slug"] is None


def test_org_slugs_are_unique(client, alice, bob, team):
    assert client.patch(org_path(team), json={"slug": "sales"}, headers=alice.auth).status_code == 200
    other = client.post(ORGS, json={"name": "Other"}, headers=bob.auth).json["organization"]
    r = client.patch(org_path(other), json={"slug": "SALES"}, headers=bob.auth)
    assert r.status_code == 409 and "taken" in r.json["error"]
    assert client.get(org_path(other), headers=bob.auth).json["slug"] is None


@pytest.mark.parametrize("slug, why", [
    ("ab", "at least 3"), ("a" * 41, "at most 40"), ("sales team", "a-z, 0-9"), ("sales_team", "a-z, 0-9"),
    ("admin", "reserved"), ("Team", "reserved"), ("book", "reserved"), (42, "string"), ("", "at least 3"),
])
def test_bad_or_reserved_org_slugs_are_400(client, alice, team, slug, why):
    r = client.patch(org_path(team), json={"slug": slug}, headers=alice.auth)
    assert r.status_code == 400 and why in r.json["fields"]["slug"]
    assert client.get(org_path(team), headers=alice.auth).json["slug"] is None


def test_admins_set_the_slug_but_only_the_owner_renames(client, alice, bob, register, team):
    carol = register("Carol")
    client.post(f"{org_path(team)}/members", json={"email": carol.email, "role": "admin"}, headers=alice.auth)
    r = client.patch(org_path(team), json={"slug": "sales"}, headers=carol.auth)
    assert r.status_code == 200 and r.json["organization"]["slug"] == "sales"
    r = client.patch(org_path(team), json={"name": "Mine", "slug": "mine"}, headers=carol.auth)
    assert r.status_code == 403 and "owner" in r.json["error"]
    assert client.get(org_path(team), headers=alice.auth).json["slug"] == "sales"


def test_plain_members_and_strangers_cannot_set_the_slug(client, bob, register, team):
    r = client.patch(org_path(team), json={"slug": "sales"}, headers=bob.auth)
    assert r.status_code == 403 and "admins" in r.json["error"]
    assert client.patch(org_path(team), json={"slug": "sales"}, headers=register("Eve").auth).status_code == 404


def test_an_org_patch_needs_a_field_and_a_name_is_never_null(client, alice, team):
    assert client.patch(org_path(team), json={}, headers=alice.auth).status_code == 400
    r = client.patch(org_path(team), json={"name": None}, headers=alice.auth)
    assert r.status_code == 400 and "name" in r.json["fields"]


@pytest.fixture
def carol(register, client, alice, team):
    """An admin of the team, who accepted."""
    user = register("Carol")
    client.post(f"{org_path(team)}/members", json={"email": user.email, "role": "admin"}, headers=alice.auth)
    client.post(f"{org_path(team)}/accept", headers=user.auth)
    return user


@pytest.fixture
def dave(register, client, alice, team):
    """Added to the team, not yet accepted."""
    user = register("Dave")
    client.post(f"{org_path(team)}/members", json={"email": user.email}, headers=alice.auth)
    return user


def types_path(org):
    return f"{org_path(org)}/event-types"


def body(hosts, **fields):
    return {"slug": "demo", "title": "Product demo", "duration": 30, "kind": "round_robin", "hosts": hosts} | fields


@pytest.fixture
def make_team_type(client, alice, team):
    def make(hosts, by=alice, **fields):
        r = client.post(types_path(team), json=body(hosts, **fields), headers=by.auth)
        assert r.status_code == 201, r.json
        return r.json["event_type"]
    return make


def stored_types(db):
    with db.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM event_types), (SELECT count(*) FROM event_type_hosts)")
        return cur.fetchone()


def test_a_team_type_gets_the_defaults_its_hosts_and_no_schedule(client, alice, bob, team, make_team_type):
    event_type = make_team_type([bob.id, alice.id], weights={str(bob.id): 3})
    assert {k: v for k, v in event_type.items() if k not in ("id", "created_at", "updated_at")} == {
        "organization_id": team["id"], "kind": "round_robin", "slug": "demo", "title": "Product demo",
        "description": None, "location": None, "duration": 30, "step": 30, "buffer_before": 0, "buffer_after": 0,
        "minimum_notice": 60, "booking_window": 60, "daily_limit": None, "weekly_limit": None, "max_occurrences": 1,
            "requires_confirmation": False, "confirmation_hours": 24, "seats": None, "cancel_notice": 0,
            "reschedule_notice": 0, "embed_origins": [],
        "active": True, "hosts": [{"user_id": alice.id, "name": "Alice", "weight": 1, "active": True},
                  {"user_id": bob.id, "name": "Bob", "weight": 3, "active": True}],
        "booking_url": None}
    assert client.get(types_path(team), headers=alice.auth).json == [event_type]
    assert client.get(f"{types_path(team)}/{event_type['id']}", headers=bob.auth).json == event_type


def test_a_collective_type_takes_every_field_of_a_personal_one(client, alice, bob, make_team_type):
    event_type = make_team_type([alice.id, bob.id], kind="collective", description="Two of us\nwith you",
                                location="Room 2", step=15, buffer_before=5, buffer_after=10, minimum_notice=0,
                                booking_window=30, daily_limit=4, weekly_limit=10, active=False)
    assert (event_type["kind"], event_type["step"], event_type["buffer_after"], event_type["weekly_limit"],
            event_type["active"]) == ("collective", 15, 10, 10, False)


def test_booking_url_is_null_until_the_organization_has_a_slug(client, alice, team, make_team_type):
    event_type = make_team_type([alice.id])
    assert event_type["booking_url"] is None
    client.patch(org_path(team), json={"slug": "sales"}, headers=alice.auth)
    shown = client.get(f"{types_path(team)}/{event_type['id']}", headers=alice.auth).json
    assert shown["booking_url"] == "http://localhost/book/team/sales/demo"


def test_owner_and_admins_write_members_who_accepted_read(client, alice, bob, carol, dave, register, team,
                                                          make_team_type):
    made = make_team_type([alice.id, carol.id], by=carol)
    path = f"{types_path(team)}/{made['id']}"
    assert client.patch(path, json={"title": "Renamed"}, headers=carol.auth).status_code == 200
    assert client.get(path, headers=bob.auth).json["title"] == "Renamed"
    assert [t["id"] for t in client.get(types_path(team), headers=bob.auth).json] == [made["id"]]

    for member in (bob, dave):
        assert client.post(types_path(team), json=body([alice.id], slug="mine"), headers=member.auth).status_code == 403
        assert client.patch(path, json={"title": "Mine"}, headers=member.auth).status_code == 403
        assert client.delete(path, headers=member.auth).status_code == 403
    r = client.get(types_path(team), headers=dave.auth)
    assert r.status_code == 403 and "Accept" in r.json["error"]
    assert client.get(path, headers=dave.auth).status_code == 403

    eve = register("Eve")
    for method, where, sent in [("GET", types_path(team), None), ("POST", types_path(team), body([eve.id])),
                                ("GET", path, None), ("PATCH", path, {"title": "x"}), ("DELETE", path, None)]:
        assert client.open(where, method=method, json=sent, headers=eve.auth).status_code == 404, (method, where)
    assert client.get(path, headers=alice.auth).json["title"] == "Renamed"


def test_another_organizations_type_is_404(client, alice, bob, team, make_team_type):
    event_type = make_team_type([alice.id])
    other = client.post(ORGS, json={"name": "Other"}, headers=alice.auth).json["organization"]
    path = f"{types_path(other)}/{event_type['id']}"
    assert client.get(path, headers=alice.auth).status_code == 404
    assert client.patch(path, json={"title": "Moved"}, headers=alice.auth).status_code == 404
    assert client.delete(path, headers=alice.auth).status_code == 404
    assert client.get(types_path(other), headers=alice.auth).json == []
    assert client.get(f"{types_path(team)}/999999", headers=alice.auth).status_code == 404


@pytest.mark.parametrize("hosts, why", [
    ([], "at least 1"), (list(range(1, 52)), "at most 50"), ("1,2", "list"), ([0], "greater than or equal to 1"),
    (["1"], "integer"), (None, "list"),
])
def test_malformed_hosts_are_400_and_nothing_is_written(client, alice, team, db, hosts, why):
    r = client.post(types_path(team), json=body(hosts), headers=alice.auth)
    assert r.status_code == 400 and any(name.startswith("hosts") and why in problem
                                        for name, problem in r.json["fields"].items()), r.json
    assert stored_types(db) == (0, 0)


def test_hosts_must_be_distinct_members_who_accepted(client, alice, bob, dave, register, team, db):
    eve = register("Eve")
    r = client.post(types_path(team), json=body([alice.id, alice.id]), headers=alice.auth)
    assert r.status_code == 400 and "twice" in r.json["fields"]["hosts"]
    r = client.post(types_path(team), json=body([alice.id, eve.id, dave.id, 999999]), headers=alice.auth)
    assert r.status_code == 400
    assert r.json["fields"]["hosts"] == f"not members of this organization who accepted its invitation: {eve.id}, {dave.id}, 999999"
    assert str(eve.id) in r.json["error"]
    assert stored_types(db) == (0, 0)


@pytest.mark.parametrize("weights, field", [
    ({"1": 0}, "weights.1"), ({"1": 101}, "weights.1"), ({"1": "3"}, "weights.1"), ({"1": 2.5}, "weights.1"),
    ({"ada": 2}, "weights.ada.[key]"), ({"01": 2}, "weights.01.[key]"), ([1], "weights"), (None, "weights"),
])
def test_malformed_weights_are_400_and_nothing_is_written(client, alice, team, db, weights, field):
    r = client.post(types_path(team), json=body([1], weights=weights), headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert stored_types(db) == (0, 0)


def test_weights_are_for_hosts_only(client, alice, bob, team, db):
    r = client.post(types_path(team), json=body([alice.id], weights={str(bob.id): 2}), headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"]["weights"] == f"not hosts of this event type: {bob.id}"
    assert stored_types(db) == (0, 0)


@pytest.mark.parametrize("field, value", [
    ("slug", ""), ("slug", "a" * 61), ("slug", "no spaces"), ("title", ""), ("title", None), ("duration", 4),
    ("duration", "30"), ("step", 721), ("buffer_before", -1), ("buffer_after", 241), ("minimum_notice", -5),
    ("booking_window", 366), ("daily_limit", 0), ("weekly_limit", 501), ("location", "x" * 501),
    ("description", "x" * 5001), ("active", "yes"), ("kind", "solo"), ("kind", None), ("title", "a\u202eb"),
])
def test_invalid_team_type_fields_are_400_and_nothing_is_written(client, alice, team, db, field, value):
    r = client.post(types_path(team), json=body([alice.id]) | {field: value}, headers=alice.auth)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert stored_types(db) == (0, 0)


@pytest.mark.parametrize("missing", ["slug", "title", "duration", "kind", "hosts"])
def test_required_team_type_fields(client, alice, team, db, missing):
    sent = {k: v for k, v in body([alice.id]).items() if k != missing}
    r = client.post(types_path(team), json=sent, headers=alice.auth)
    assert r.status_code == 400 and missing in r.json["fields"]
    assert stored_types(db) == (0, 0)


def test_a_schedule_is_not_a_team_types_field(client, alice, team, make_team_type):
    """Each host is offered on their own default schedule: a schedule_id sent is ignored, as any unknown field."""
    event_type = make_team_type([alice.id], schedule_id=12345)
    assert "schedule_id" not in event_type


def test_slugs_are_unique_per_organization_but_not_across(client, alice, bob, team, make_team_type, db):
    make_team_type([alice.id])
    r = client.post(types_path(team), json=body([alice.id], slug="DEMO"), headers=alice.auth)
    assert r.status_code == 409 and r.json["error"] == "This organization already has an event type with this slug"
    assert stored_types(db) == (1, 1)
    other = client.post(ORGS, json={"name": "Other"}, headers=alice.auth).json["organization"]
    assert client.post(types_path(other), json=body([alice.id]), headers=alice.auth).status_code == 201
    personal = client.post("/api/v1/event-types", json={"slug": "demo", "title": "Mine", "duration": 30},
                           headers=alice.auth)
    assert personal.status_code == 201
    assert [t["slug"] for t in client.get("/api/v1/event-types", headers=alice.auth).json] == ["demo"]


def test_patch_changes_fields_and_kind(client, alice, team, make_team_type):
    event_type = make_team_type([alice.id], location="Room 1", daily_limit=2)
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json={"kind": "collective", "duration": 60, "daily_limit": None, "slug": "Deep-Dive"},
                     headers=alice.auth)
    assert r.status_code == 200 and r.json["message"] == "Event type updated"
    changed = r.json["event_type"]
    assert (changed["kind"], changed["duration"], changed["step"], changed["daily_limit"], changed["location"],
            changed["slug"], changed["hosts"]) == ("collective", 60, 30, None, "Room 1", "deep-dive", event_type["hosts"])
    assert changed["updated_at"] != event_type["updated_at"]


def test_a_team_type_takes_embed_origins_as_a_personal_one(client, alice, team, make_team_type):
    event_type = make_team_type([alice.id], embed_origins=["https://Team.example:443"])
    assert event_type["embed_origins"] == ["https://team.example"]
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json={"embed_origins": ["http://localhost:8080", "https://team.example"]}, headers=alice.auth)
    assert r.status_code == 200 and r.json["event_type"]["embed_origins"] == ["http://localhost:8080",
                                                                              "https://team.example"]
    r = client.patch(path, json={"embed_origins": None}, headers=alice.auth)
    assert r.status_code == 200 and r.json["event_type"]["embed_origins"] == []


@pytest.mark.parametrize("change", [{}, {"title": None}, {"kind": None}, {"hosts": None}, {"weights": None},
                                    {"hosts": []}, {"kind": "solo"}, {"duration": 4}, {"schedule_id": None},
                                    {"embed_origins": "https://example.com"}])
def test_invalid_patches_are_400_and_change_nothing(client, alice, team, make_team_type, change):
    event_type = make_team_type([alice.id])
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json=change, headers=alice.auth)
    assert r.status_code == 400
    assert all(name in r.json["fields"] for name in change if name != "schedule_id")
    assert client.get(path, headers=alice.auth).json == event_type


def test_patching_hosts_replaces_them_keeping_weights_and_turns_of_those_who_stay(client, alice, bob, carol, team,
                                                                                  make_team_type, db):
    event_type = make_team_type([alice.id, bob.id], weights={str(alice.id): 5, str(bob.id): 7})
    with db.cursor() as cur:
        cur.execute("UPDATE event_type_hosts SET last_assigned_at = '2030-01-01T10:00:00Z' WHERE user_id = %s",
                    (bob.id,))
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json={"hosts": [bob.id, carol.id], "weights": {str(carol.id): 4}}, headers=alice.auth)
    assert r.status_code == 200
    assert r.json["event_type"]["hosts"] == [{"user_id": bob.id, "name": "Bob", "weight": 7, "active": True},
                                             {"user_id": carol.id, "name": "Carol", "weight": 4, "active": True}]
    with db.cursor() as cur:
        cur.execute("SELECT user_id, last_assigned_at IS NOT NULL FROM event_type_hosts WHERE event_type_id = %s "
                    "ORDER BY user_id", (event_type["id"],))
        assert cur.fetchall() == [(bob.id, True), (carol.id, False)]


def test_patching_weights_alone_changes_those_named(client, alice, bob, team, make_team_type, db):
    event_type = make_team_type([alice.id, bob.id], weights={str(bob.id): 7})
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json={"weights": {str(alice.id): 100}}, headers=alice.auth)
    assert [(h["user_id"], h["weight"]) for h in r.json["event_type"]["hosts"]] == [(alice.id, 100), (bob.id, 7)]
    r = client.patch(path, json={"weights": {"999999": 2}}, headers=alice.auth)
    assert r.status_code == 400 and "999999" in r.json["fields"]["weights"]


def test_patching_in_a_stranger_is_400_and_changes_nothing(client, alice, bob, dave, team, make_team_type):
    event_type = make_team_type([alice.id])
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.patch(path, json={"title": "New title", "hosts": [alice.id, dave.id]}, headers=alice.auth)
    assert r.status_code == 400 and str(dave.id) in r.json["fields"]["hosts"]
    assert client.get(path, headers=alice.auth).json == event_type


def test_a_host_who_leaves_stays_listed_inactive(client, alice, bob, team, make_team_type):
    event_type = make_team_type([alice.id, bob.id])
    assert client.delete(f"{org_path(team)}/members/{bob.id}", headers=bob.auth).status_code == 200
    hosts = client.get(f"{types_path(team)}/{event_type['id']}", headers=alice.auth).json["hosts"]
    assert [(h["user_id"], h["active"]) for h in hosts] == [(alice.id, True), (bob.id, False)]
    # Keeping them as a host is naming a non-member: they must be invited again first.
    path = f"{types_path(team)}/{event_type['id']}"
    assert client.patch(path, json={"hosts": [alice.id, bob.id]}, headers=alice.auth).status_code == 400
    r = client.patch(path, json={"hosts": [alice.id]}, headers=alice.auth)
    assert [h["user_id"] for h in r.json["event_type"]["hosts"]] == [alice.id]


def test_deleting_a_team_type(client, alice, bob, team, make_team_type, db):
    event_type = make_team_type([alice.id, bob.id])
    path = f"{types_path(team)}/{event_type['id']}"
    r = client.delete(path, headers=alice.auth)
    assert r.status_code == 200 and r.json == {"message": "Event type deleted"}
    assert client.get(path, headers=alice.auth).status_code == 404
    assert client.delete(path, headers=alice.auth).status_code == 404
    assert stored_types(db) == (0, 0)


def test_deleting_the_organization_deletes_its_types(client, alice, team, make_team_type, db):
    make_team_type([alice.id])
    assert client.delete(org_path(team), headers=alice.auth).status_code == 200
    assert stored_types(db) == (0, 0)


def test_a_host_leaving_meanwhile_is_waited_for_and_refused(app, alice, bob, team, database_url, db):
    """The hosts' memberships are read FOR KEY SHARE: a removal not yet committed is waited for,
    and once it is, the host is a non-member (400), not a host who left before the type existed."""
    def leave(cur):
        cur.execute("DELETE FROM organization_members WHERE organization_id = %s AND user_id = %s", (team["id"], bob.id))

    r = answer_behind(database_url, leave, lambda: app.test_client().post(
        types_path(team), json=body([alice.id, bob.id]), headers=alice.auth))
    assert r.status_code == 400 and str(bob.id) in r.json["fields"]["hosts"]
    assert stored_types(db) == (0, 0)
