"""Public handles (usernames) and event types: the host's side of booking links."""

import pytest

from tests.booking_links import TYPES, at, book, host, local_day, make_type  # noqa: F401 (fixtures)

ME = "/api/v1/users/me"


def test_a_username_is_set_lowercased_and_shown(client, alice):
    r = client.patch(ME, json={"username": "  Ada-Lovelace  "}, headers=alice.auth)
    assert r.status_code == 200 and r.json["user"]["username"] == "ada-lovelace"
    assert client.get(ME, headers=alice.auth).json["username"] == "ada-lovelace"


def test_usernames_are_unique_regardless_of_case(client, alice, bob):
    client.patch(ME, json={"username": "ada"}, headers=alice.auth)
    r = client.patch(ME, json={"username": "ADA"}, headers=bob.auth)
    assert r.status_code == 409 and "taken" in r.json["error"]
    assert client.get(ME, headers=bob.auth).json["username"] is None


@pytest.mark.parametrize("username, why", [
    ("ab", "at least 3"), ("a" * 41, "at most 40"), ("ada lovelace", "a-z, 0-9"), ("ada_l", "a-z, 0-9"),
    ("adé", "a-z, 0-9"), ("admin", "reserved"), ("Book", "reserved"), ("manage", "reserved"), ("api", "reserved"),
    (42, "string"),
])
def test_bad_or_reserved_usernames_are_400(client, alice, username, why):
    r = client.patch(ME, json={"username": username}, headers=alice.auth)
    assert r.status_code == 400 and why in r.json["fields"]["username"]


def test_an_event_type_gets_the_defaults_and_its_booking_url(client, host, make_type):
    event_type = make_type(duration=45)
    assert {k: event_type[k] for k in ("slug", "title", "description", "location", "duration", "step",
                                       "buffer_before", "buffer_after", "minimum_notice", "booking_window",
                                       "daily_limit", "weekly_limit", "schedule_id", "embed_origins", "active")} == {
        "slug": "intro", "title": "Intro call", "description": None, "location": None, "duration": 45, "step": 45,
        "buffer_before": 0, "buffer_after": 0, "minimum_notice": 60, "booking_window": 60, "daily_limit": None,
        "weekly_limit": None, "schedule_id": None, "embed_origins": [], "active": True}
    assert event_type["booking_url"] == "http://localhost/book/hana/intro"
    assert client.get(TYPES, headers=host.auth).json == [event_type]


def test_booking_url_is_null_until_the_host_has_a_username(client, alice, make_type):
    assert make_type(owner=alice)["booking_url"] is None


@pytest.mark.parametrize("field, value", [
    ("slug", ""), ("slug", "a" * 61), ("slug", "no spaces"), ("duration", 4), ("duration", 721), ("step", 4),
    ("buffer_before", -1), ("buffer_after", 241), ("minimum_notice", -5), ("booking_window", 0),
    ("booking_window", 366), ("daily_limit", 0), ("daily_limit", 101), ("title", ""), ("active", "yes"),
    ("location", "x" * 501), ("duration", "30"), ("weekly_limit", 0), ("weekly_limit", 501), ("weekly_limit", "5"),
])
def test_invalid_event_type_fields_are_400_and_nothing_is_made(client, host, field, value):
    body = {"slug": "intro", "title": "Intro", "duration": 30} | {field: value}
    r = client.post(TYPES, json=body, headers=host.auth)
    assert r.status_code == 400 and field in r.json["fields"]
    assert client.get(TYPES, headers=host.auth).json == []


def test_embed_origins_are_stored_normalised_and_null_or_empty_clears(client, host, make_type):
    event_type = make_type(embed_origins=["HTTPS://Example.COM:443", "https://shop.example.com:8443/",
                                          "http://localhost:5000", "http://127.0.0.1"])
    assert event_type["embed_origins"] == ["https://example.com", "https://shop.example.com:8443",
                                           "http://localhost:5000", "http://127.0.0.1"]
    path = f"{TYPES}/{event_type['id']}"
    assert client.get(path, headers=host.auth).json["embed_origins"] == event_type["embed_origins"]
    r = client.patch(path, json={"embed_origins": ["https://other.example"]}, headers=host.auth)
    assert r.status_code == 200 and r.json["event_type"]["embed_origins"] == ["https://other.example"]
    r = client.patch(path, json={"title": "Renamed"}, headers=host.auth)
    assert r.json["event_type"]["embed_origins"] == ["https://other.example"]
    r = client.patch(path, json={"embed_origins": None}, headers=host.auth)
    assert r.status_code == 200 and r.json["event_type"]["embed_origins"] == []
    client.patch(path, json={"embed_origins": ["https://other.example"]}, headers=host.auth)
    assert client.patch(path, json={"embed_origins": []}, headers=host.auth).json["event_type"]["embed_origins"] == []
    assert make_type(slug="nulled", embed_origins=None)["embed_origins"] == []


@pytest.mark.parametrize("origins, why", [
    (["https://example.com/book"], "no path"), (["https://example.com?x=1"], "no path, query"),
    (["https://example.com#top"], "no path"), (["https://*.example.com"], "wildcard"), (["*"], "wildcard"),
    (["example.com"], "origin"), (["ftp://example.com"], "origin"), (["https://user@example.com"], "origin"),
    (["http://example.com"], "http only for localhost"), (["http://10.0.0.1:8080"], "http only for localhost"),
    (["https://[::1]"], "IPv6"), (["https://exa_mple.com"], "origin"), (["https://-bad.example"], "valid host"),
    (["https://example..com"], "valid host"), (["https://example.com:0"], "port"), (["https://example.com:65536"], "port"),
    (["https://example.com\n"], "origin"), (["https://bücher.example"], "origin"), (["https://999.1.1.1"], "valid host"),
    (["https://example.com", "https://EXAMPLE.com:443"], "twice"), ([f"https://e{n}.example" for n in range(11)], "10"),
    ("https://example.com", "list"), ([42], "string"),
])
def test_bad_embed_origins_are_400(client, host, origins, why):
    r = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 30, "embed_origins": origins},
                    headers=host.auth)
    assert r.status_code == 400
    [(field, message)] = r.json["fields"].items()
    assert field.startswith("embed_origins") and why in message, message
    assert client.get(TYPES, headers=host.auth).json == []


def test_ten_embed_origins_are_allowed_and_the_database_refuses_more(client, host, make_type, db):
    event_type = make_type(embed_origins=[f"https://e{n}.example" for n in range(10)])
    assert len(event_type["embed_origins"]) == 10
    with db.cursor() as cur, pytest.raises(Exception, match="event_types_embed_origins_check"):
        cur.execute("UPDATE event_types SET embed_origins = embed_origins || '{https://e10.example}' WHERE id = %s",
                    (event_type["id"],))


def test_a_weekly_limit_is_1_to_500_or_none(client, host, make_type):
    assert make_type()["weekly_limit"] is None
    event_type = make_type(slug="busy", weekly_limit=500)
    assert event_type["weekly_limit"] == 500
    path = f"{TYPES}/{event_type['id']}"
    assert client.patch(path, json={"weekly_limit": 1}, headers=host.auth).json["event_type"]["weekly_limit"] == 1
    assert client.patch(path, json={"weekly_limit": None}, headers=host.auth).json["event_type"]["weekly_limit"] is None
    r = client.patch(path, json={"weekly_limit": 501}, headers=host.auth)
    assert r.status_code == 400 and "weekly_limit" in r.json["fields"]


def test_a_whole_number_written_with_a_fraction_is_an_integer(client, host):
    """JSON Schema's "integer" (what the description says) includes 45.0; 45.5 is still a 400."""
    r = client.post(TYPES, json={"slug": "intro", "title": "Intro", "duration": 45.0, "buffer_after": 5.0},
                    headers=host.auth)
    assert r.status_code == 201 and (r.json["event_type"]["duration"], r.json["event_type"]["buffer_after"]) == (45, 5)
    r = client.post(TYPES, json={"slug": "other", "title": "Other", "duration": 45.5}, headers=host.auth)
    assert r.status_code == 400 and "duration" in r.json["fields"]


def test_slugs_are_unique_per_host(client, host, bob, make_type):
    make_type()
    r = client.post(TYPES, json={"slug": "INTRO", "title": "Again", "duration": 30}, headers=host.auth)
    assert r.status_code == 409
    make_type(owner=bob)  # another host may use the same slug


def test_patch_changes_given_fields_and_clears_nullable_ones(client, host, make_type):
    event_type = make_type(daily_limit=3, location="Room 1")
    path = f"{TYPES}/{event_type['id']}"
    r = client.patch(path, json={"title": "Longer call", "duration": 60, "daily_limit": None}, headers=host.auth)
    assert r.status_code == 200
    changed = r.json["event_type"]
    assert (changed["title"], changed["duration"], changed["step"], changed["daily_limit"], changed["location"]) == (
        "Longer call", 60, 30, None, "Room 1")
    assert client.patch(path, json={"title": None}, headers=host.auth).status_code == 400
    assert client.patch(path, json={}, headers=host.auth).status_code == 400


def test_other_hosts_event_types_are_404(client, host, bob, make_type):
    path = f"{TYPES}/{make_type()['id']}"
    assert client.get(path, headers=bob.auth).status_code == 404
    assert client.patch(path, json={"title": "Mine"}, headers=bob.auth).status_code == 404
    assert client.delete(path, headers=bob.auth).status_code == 404
    assert client.get(TYPES, headers=bob.auth).json == []
    assert client.get(path, headers=host.auth).json["title"] == "Intro call"
    assert client.get(f"{TYPES}/999999", headers=host.auth).status_code == 404


def test_deleting_or_deactivating_a_type_keeps_its_bookings(client, host, make_type):
    event_type = make_type()
    first = book(client, at(local_day(), "10:00"))
    assert first.status_code == 201
    client.patch(f"{TYPES}/{event_type['id']}", json={"active": False}, headers=host.auth)
    assert book(client, at(local_day(), "11:00")).status_code == 404
    client.delete(f"{TYPES}/{event_type['id']}", headers=host.auth)
    [kept] = client.get("/api/v1/bookings", headers=host.auth).json
    assert kept["status"] == "confirmed" and kept["event_type_id"] is None and kept["guest"]["name"] == "Gus Guest"
