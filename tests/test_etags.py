from helpers import answer_behind, at, slot
from scheduler.openapi import build

BOOKINGS = "/api/v1/bookings"


def booked(client, user, **extra):
    return client.post(BOOKINGS, json=slot("09:00", "10:00", title="Plan") | extra, headers=user.auth).json["booking"]


def read(client, user, booking_id, **headers):
    return client.get(f"{BOOKINGS}/{booking_id}", headers={**user.auth, **headers})


def row(db, booking_id):
    with db.cursor() as cur:
        cur.execute("SELECT title, start_time, status, updated_at FROM bookings WHERE id = %s", (booking_id,))
        return cur.fetchone()


def test_the_description_names_the_conditional_headers(app):
    item = build(app)["paths"]["/api/v1/bookings/{booking_id}"]
    headers = {method: [p["name"] for p in op["parameters"] if p["in"] == "header"] for method, op in item.items()}
    assert headers == {"get": ["If-None-Match"], "patch": ["If-Match"], "delete": ["If-Match"]}
    assert "304" in item["get"]["responses"] and "412" in item["patch"]["responses"] and "412" in item["delete"]["responses"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"] and "ETag" in item["patch"]["responses"]["200"]["headers"]


def test_get_has_a_strong_etag_that_changes_with_the_booking(client, alice):
    b = booked(client, alice)
    first = read(client, alice, b["id"])
    tag = first.headers["ETag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    assert read(client, alice, b["id"]).headers["ETag"] == tag
    patched = client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Renamed"}, headers=alice.auth)
    assert patched.headers["ETag"] != tag
    assert patched.headers["ETag"] == read(client, alice, b["id"]).headers["ETag"]


def test_if_none_match_is_304_without_a_body(client, alice):
    b = booked(client, alice)
    tag = read(client, alice, b["id"]).headers["ETag"]
    r = read(client, alice, b["id"], **{"If-None-Match": f'W/{tag}, "other"'})
    assert r.status_code == 304 and r.get_data() == b"" and r.headers["ETag"] == tag
    assert read(client, alice, b["id"], **{"If-None-Match": '"other"'}).status_code == 200


def test_patch_with_the_current_tag_succeeds(client, alice):
    b = booked(client, alice)
    tag = read(client, alice, b["id"]).headers["ETag"]
    r = client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "New"}, headers={**alice.auth, "If-Match": tag})
    assert r.status_code == 200 and r.json["booking"]["title"] == "New"


def test_stale_if_match_is_412_and_changes_nothing(client, alice, db):
    b = booked(client, alice)
    stale = read(client, alice, b["id"]).headers["ETag"]
    client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Theirs"}, headers=alice.auth)
    before = row(db, b["id"])
    r = client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Mine", "start": at("11:00"), "end": at("12:00")},
                     headers={**alice.auth, "If-Match": stale})
    assert r.status_code == 412 and "changed" in r.json["error"]
    d = client.delete(f"{BOOKINGS}/{b['id']}", headers={**alice.auth, "If-Match": stale})
    assert d.status_code == 412
    assert row(db, b["id"]) == before


def test_a_weak_tag_never_matches_if_match(client, alice):
    b = booked(client, alice)
    tag = read(client, alice, b["id"]).headers["ETag"]
    r = client.delete(f"{BOOKINGS}/{b['id']}", headers={**alice.auth, "If-Match": f"W/{tag}"})
    assert r.status_code == 412


def test_delete_with_the_current_tag_or_a_star_cancels(client, alice):
    one, two = booked(client, alice), client.post(BOOKINGS, json=slot("11:00", "12:00"), headers=alice.auth).json["booking"]
    tag = read(client, alice, one["id"]).headers["ETag"]
    assert client.delete(f"{BOOKINGS}/{one['id']}", headers={**alice.auth, "If-Match": tag}).status_code == 200
    assert client.delete(f"{BOOKINGS}/{two['id']}", headers={**alice.auth, "If-Match": "*"}).status_code == 200


def test_an_attendees_answer_changes_the_tag(client, alice, bob, org_of):
    org_of(alice, bob)
    b = booked(client, alice, attendees=[bob.email])
    tag = read(client, alice, b["id"]).headers["ETag"]
    client.patch(f"{BOOKINGS}/{b['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    r = client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "X"}, headers={**alice.auth, "If-Match": tag})
    assert r.status_code == 412


def test_if_match_is_checked_under_the_row_lock(app, alice, database_url, db):
    """Two editors with the same tag: the second waits for the first's lock, then sees the new
    booking and gets 412, instead of checking before the lock and overwriting."""
    client = app.test_client()
    b = booked(client, alice)
    tag = read(client, alice, b["id"]).headers["ETag"]

    def first(cur):  # the first editor, mid-transaction
        cur.execute("SELECT 1 FROM bookings WHERE id = %s FOR UPDATE", (b["id"],))
        cur.execute("UPDATE bookings SET title = 'First', updated_at = now() WHERE id = %s", (b["id"],))

    second = answer_behind(database_url, first, lambda: app.test_client().patch(
        f"{BOOKINGS}/{b['id']}", json={"title": "Second"}, headers={**alice.auth, "If-Match": tag}))
    assert second.status_code == 412
    assert row(db, b["id"])[0] == "First"


def test_without_if_match_nothing_changes(client, alice):
    b = booked(client, alice)
    client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "A"}, headers=alice.auth)
    assert client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "B"}, headers=alice.auth).status_code == 200
