"""Limits on what answers "does this person, address or name exist": adding members by e-mail
(per inviting user), profile changes with their 409 for a taken username or e-mail (per user),
and strangers' reads of booking links, guests' bookings and their pages (per client address).
Every attempt counts, whatever it answers: the 404s and 409s are the probing."""

import pytest

from helpers import PRODUCTION
from scheduler.config import ENVIRONMENTS, Settings
from tests.booking_links import GUEST, PUBLIC, at, booked, host, local_day, make_type  # noqa: F401

ORGS = "/api/v1/organizations"
ME = "/api/v1/users/me"
LIMIT = 3


def new_org(client, owner):
    return client.post(ORGS, json={"name": "Team"}, headers=owner.auth).json["organization"]


def add_member(client, org, by, email):
    return client.post(f"{ORGS}/{org['id']}/members", json={"email": email}, headers=by.auth)


def assert_limited(r, longest):
    assert r.status_code == 429, r.get_json(silent=True)
    assert 0 < int(r.headers["Retry-After"]) <= longest
    assert r.json["retry_after"] == int(r.headers["Retry-After"]) and "Too many" in r.json["error"]


class TestMemberAdds:
    @pytest.fixture
    def settings(self, settings):
        return settings.replace(member_add_rate_limit=LIMIT)

    def test_unknown_addresses_count_and_the_next_add_is_refused(self, client, register):
        owner, victim = register("Owner"), register("Victim")
        org = new_org(client, owner)
        probes = [add_member(client, org, owner, f"nobody{n}@example.com") for n in range(LIMIT)]
        assert [r.status_code for r in probes] == [404] * LIMIT  # the original's 404 stays
        refused = add_member(client, org, owner, victim.email)
        assert_limited(refused, 3600)
        # Refused before the lookup: the known person is neither added nor told.
        assert client.get(ORGS, headers=victim.auth).json == []
        assert client.get("/api/v1/notifications", headers=victim.auth).json == []

    def test_added_and_already_a_member_count_too(self, client, register):
        owner, member = register("Owner"), register("Member")
        org = new_org(client, owner)
        assert add_member(client, org, owner, member.email).status_code == 201
        assert add_member(client, org, owner, member.email).status_code == 409
        assert add_member(client, org, owner, "nobody@example.com").status_code == 404
        assert_limited(add_member(client, org, owner, register("Late").email), 3600)

    def test_each_inviting_user_has_a_count_of_their_own(self, client, register):
        owner, other = register("Owner"), register("Other")
        org, others_org = new_org(client, owner), new_org(client, other)
        for n in range(LIMIT + 1):
            add_member(client, org, owner, f"nobody{n}@example.com")
        assert add_member(client, org, owner, "nobody@example.com").status_code == 429
        assert add_member(client, others_org, other, register("Invitee").email).status_code == 201


def test_member_adds_are_limited_to_20_an_hour_in_every_mode(client, register, settings):
    for app_env in ENVIRONMENTS:
        assert Settings.from_mapping({**PRODUCTION, "APP_ENV": app_env}).member_add_rate_limit == 20
    assert settings.member_add_rate_limit == 20  # the tests' own app, as configured by conftest
    owner = register("Owner")
    org = new_org(client, owner)
    answers = [add_member(client, org, owner, f"probe{n}@example.com").status_code for n in range(21)]
    assert answers == [404] * 20 + [429]


class TestProfileChanges:
    @pytest.fixture
    def settings(self, settings):
        return settings.replace(profile_change_rate_limit=LIMIT)

    def test_taken_usernames_count_toward_the_profile_change_limit(self, client, register, set_profile):
        set_profile(register("Carol"), username="carol")
        alice = register("Alice")
        assert client.patch(ME, json={"username": "carol"}, headers=alice.auth).status_code == 409
        assert client.patch(ME, json={"username": "CAROL"}, headers=alice.auth).status_code == 409
        assert client.patch(ME, json={"name": "Alice A."}, headers=alice.auth).status_code == 200
        assert_limited(client.patch(ME, json={"username": "carol"}, headers=alice.auth), 3600)
        # The limit is on changes: other reads and the other person are untouched.
        assert client.get(ME, headers=alice.auth).json["name"] == "Alice A."

    def test_taken_emails_count_too_and_each_person_has_a_count_of_their_own(self, client, register):
        alice, bob = register("Alice"), register("Bob")
        for _ in range(LIMIT):
            assert client.patch(ME, json={"email": bob.email}, headers=alice.auth).status_code == 409
        assert client.patch(ME, json={"timezone": "Europe/Paris"}, headers=alice.auth).status_code == 429
        assert client.patch(ME, json={"timezone": "Europe/Paris"}, headers=bob.auth).status_code == 200


def test_profile_changes_are_limited_to_30_an_hour_by_default():
    for app_env in ENVIRONMENTS:
        assert Settings.from_mapping({**PRODUCTION, "APP_ENV": app_env}).profile_change_rate_limit == 30


class TestPublicReads:
    @pytest.fixture
    def settings(self, settings):
        return settings.replace(public_read_rate_limit=LIMIT)

    @pytest.fixture
    def token(self, client, host, make_type):
        make_type()
        return booked(client, at(local_day(10), "10:00"), email="gus@example.com")["manage_token"]

    def reads(self, token):
        window = {"from": at(local_day(3), "00:00").isoformat(), "to": at(local_day(5), "00:00").isoformat()}
        return [(f"{PUBLIC}/hana/intro", {}), (f"{PUBLIC}/hana/intro/slots", window),
                (f"{GUEST}/{token}", {}), (f"{GUEST}/{token}/slots", window)]

    def test_each_public_read_is_limited_per_address(self, client, token):
        for n, (path, query) in enumerate(self.reads(token)):
            address = {"REMOTE_ADDR": f"192.0.2.{n + 1}"}
            answers = [client.get(path, query_string=query, environ_base=address) for _ in range(LIMIT + 1)]
            assert [r.status_code for r in answers] == [200] * LIMIT + [429], path
            assert_limited(answers[-1], 60)

    def test_unknown_links_and_tokens_count(self, client, token):
        address = {"REMOTE_ADDR": "192.0.2.9"}
        probes = [f"{PUBLIC}/hana/nope", f"{PUBLIC}/nobody/intro", f"{GUEST}/not-a-token"]
        assert [client.get(path, environ_base=address).status_code for path in probes] == [404] * LIMIT
        assert client.get(f"{PUBLIC}/hana/intro", environ_base=address).status_code == 429

    def test_another_address_and_guests_writes_are_unaffected(self, client, token):
        for _ in range(LIMIT + 1):
            client.get(f"{PUBLIC}/hana/intro")
        assert client.get(f"{PUBLIC}/hana/intro").status_code == 429
        assert client.get(f"{PUBLIC}/hana/intro", environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 200
        moved = client.post(f"{GUEST}/{token}/reschedule", json={"start": at(local_day(10), "11:00").isoformat()})
        assert moved.status_code == 200, moved.json

    def test_pages_count_and_answer_a_429_page(self, client, token):
        for n, path in enumerate(("/book/hana/intro", f"/manage/{token}")):
            address = {"REMOTE_ADDR": f"192.0.2.{n + 1}"}
            answers = [client.get(path, environ_base=address) for _ in range(LIMIT + 1)]
            assert [r.status_code for r in answers] == [200] * LIMIT + [429], path
            refused = answers[-1]
            assert refused.mimetype == "text/html" and 0 < int(refused.headers["Retry-After"]) <= 60
            assert f"Try again in {refused.headers['Retry-After']} seconds" in refused.get_data(as_text=True)
            assert "default-src 'none'" in refused.headers["Content-Security-Policy"]

    def test_the_page_and_the_calls_its_script_makes_share_one_count(self, client, token):
        assert client.get("/book/hana/intro").status_code == 200
        assert client.get(f"{PUBLIC}/hana/intro").status_code == 200
        assert client.get(f"{PUBLIC}/hana/intro/slots").status_code == 200
        assert client.get("/book/hana/intro").status_code == 429


def test_public_reads_are_limited_in_production_by_default():
    production = Settings.from_mapping(PRODUCTION)
    assert production.public_read_rate_limit == 120
    for app_env in ("development", "test"):
        assert Settings.from_mapping({"APP_ENV": app_env}).public_read_rate_limit == 0


def test_the_settings_are_documented():
    example, operations = open(".env.example").read(), open("docs/operations.md").read()
    for name in ("PUBLIC_READ_RATE_LIMIT", "MEMBER_ADD_RATE_LIMIT", "PROFILE_CHANGE_RATE_LIMIT"):
        assert f"\n{name}=" in example and f"`{name}`" in operations, name
