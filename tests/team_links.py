"""Shared set-up for the team booking-link tests: an organisation "acme" whose members work
every day, and its team event types."""

import pytest

from tests.booking_links import EVERY_DAY, PUBLIC

TEAM = f"{PUBLIC}/teams/acme"


@pytest.fixture
def team(register, set_profile, org_of, client):
    """Owner Olga and hosts Ann, Ben and Cat, all accepted members of "acme", working 09-17 UTC
    every day; (owner, org, [hosts])."""
    owner = register("Olga")
    hosts = [register(name) for name in ("Ann", "Ben", "Cat")]
    for person in (owner, *hosts):
        set_profile(person, working_hours=EVERY_DAY)
    org = org_of(owner, *hosts)
    r = client.patch(f"/api/v1/organizations/{org['id']}", json={"slug": "acme"}, headers=owner.auth)
    assert r.status_code == 200, r.json
    return owner, org, hosts


@pytest.fixture
def make_team_type(client, team):
    def make(kind="round_robin", hosts=None, **fields):
        owner, org, members = team
        body = {"slug": "demo", "title": "Demo", "duration": 30, "kind": kind,
                "hosts": [h.id for h in (hosts or members)]} | fields
        r = client.post(f"/api/v1/organizations/{org['id']}/event-types", json=body, headers=owner.auth)
        assert r.status_code == 201, r.json
        return r.json["event_type"]
    return make


def team_book(client, start, link="demo", name="Gus Guest", email="gus@example.com", **extra):
    body = {"start": start if isinstance(start, str) else start.isoformat(), "name": name, "email": email} | extra
    return client.post(f"{TEAM}/{link}/bookings", json=body)


def team_starts(client, start, end, zone="UTC", link="demo"):
    r = client.get(f"{TEAM}/{link}/slots", query_string={"from": start.isoformat(), "to": end.isoformat(),
                                                        "timezone": zone})
    assert r.status_code == 200, r.json
    return r.json
