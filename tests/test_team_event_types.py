"""Team booking links, the host's side: an organisation's slug, and its event types with their
hosts (round robin or collective)."""

import pytest

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
