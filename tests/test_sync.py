from datetime import timedelta

import psycopg2

from helpers import at, slot

BOOKINGS = "/api/v1/bookings"
SYNC = "/api/v1/bookings/sync"


def book(client, user, start, end, **extra):
    r = client.post(BOOKINGS, json=slot(start, end) | extra, headers=user.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]


def sync(client, user, token=None, limit=None):
    params = {k: v for k, v in {"token": token, "limit": limit}.items() if v is not None}
    r = client.get(SYNC, query_string=params, headers=user.auth)
    assert r.status_code == 200, r.json
    return r.json


def sync_all(client, user, token=None, limit=None):
    """Follows `more` to the end: (bookings by id, final token, pages)."""
    seen, pages = [], 0
    while True:
        page = sync(client, user, token, limit)
        seen += page["bookings"]
        token, pages = page["next_token"], pages + 1
        if not page["more"]:
            return seen, token, pages


def ids(bookings):
    return sorted(b["id"] for b in bookings)


def test_first_sync_has_every_booking_i_attend_in_every_state(client, alice, bob, org_of):
    org_of(alice, bob)
    kept = book(client, alice, "09:00", "10:00")
    cancelled = book(client, alice, "11:00", "12:00")
    client.delete(f"{BOOKINGS}/{cancelled['id']}", headers=alice.auth)
    declined = book(client, bob, "13:00", "14:00", attendees=[alice.email])
    client.patch(f"{BOOKINGS}/{declined['id']}/attendance", json={"status": "declined"}, headers=alice.auth)
    book(client, bob, "15:00", "16:00")  # not mine

    page = sync(client, alice)
    assert page["more"] is False and page["next_token"]
    by_id = {b["id"]: b for b in page["bookings"]}
    assert sorted(by_id) == sorted([kept["id"], cancelled["id"], declined["id"]])
    assert by_id[cancelled["id"]]["status"] == "cancelled"
    mine = next(a for a in by_id[declined["id"]]["attendees"] if a["user_id"] == alice.id)
    assert mine["status"] == "declined"
    assert all("updated_at" in b and "attendees" in b and "changed_xid" not in b for b in page["bookings"])


def test_nothing_changed_is_an_empty_page(client, alice):
    book(client, alice, "09:00", "10:00")
    token = sync(client, alice)["next_token"]
    page = sync(client, alice, token)
    assert page["bookings"] == [] and page["more"] is False
    assert sync(client, alice, page["next_token"])["bookings"] == []


def test_incremental_sync_sees_creation_move_rename_cancellation_and_decline(client, alice, bob, org_of):
    org_of(alice, bob)
    moved = book(client, alice, "09:00", "10:00")
    renamed = book(client, alice, "10:00", "11:00")
    cancelled = book(client, alice, "11:00", "12:00")
    invited = book(client, alice, "12:00", "13:00", attendees=[bob.email])
    untouched = book(client, alice, "14:00", "15:00")
    token = sync(client, alice)["next_token"]
    bob_token = sync(client, bob)["next_token"]

    client.patch(f"{BOOKINGS}/{moved['id']}", json={"start": at("16:00"), "end": at("17:00")}, headers=alice.auth)
    client.patch(f"{BOOKINGS}/{renamed['id']}", json={"title": "Renamed"}, headers=alice.auth)
    client.delete(f"{BOOKINGS}/{cancelled['id']}", headers=alice.auth)
    client.patch(f"{BOOKINGS}/{invited['id']}/attendance", json={"status": "declined"}, headers=bob.auth)
    created = book(client, alice, "18:00", "19:00")
    client.patch(f"{BOOKINGS}/{renamed['id']}", json={"title": "Renamed twice"}, headers=alice.auth)

    changed, token, _ = sync_all(client, alice, token)
    assert ids(changed) == sorted([moved["id"], renamed["id"], cancelled["id"], invited["id"], created["id"]])
    assert untouched["id"] not in ids(changed)
    by_id = {b["id"]: b for b in changed}
    assert by_id[moved["id"]]["start_time"].startswith(at("16:00")[:16])
    assert by_id[renamed["id"]]["title"] == "Renamed twice"
    assert by_id[cancelled["id"]]["status"] == "cancelled"
    assert {a["user_id"]: a["status"] for a in by_id[invited["id"]]["attendees"]}[bob.id] == "declined"

    bobs, _, _ = sync_all(client, bob, bob_token)
    assert ids(bobs) == [invited["id"]]
    assert sync(client, alice, token)["bookings"] == []


def test_paging_delivers_each_booking_once(client, alice):
    made = [book(client, alice, f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 15)]
    first = sync(client, alice, limit=3)
    assert len(first["bookings"]) == 3 and first["more"] is True
    seen, token, pages = sync_all(client, alice, limit=3)
    assert pages == 3 and ids(seen) == ids(made) and len(seen) == len(made)
    assert sync(client, alice, token)["bookings"] == []


def test_a_change_during_paging_comes_in_the_next_sync(client, alice):
    made = [book(client, alice, f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 12)]
    token = sync(client, alice)["next_token"]
    for b in made:
        client.patch(f"{BOOKINGS}/{b['id']}", json={"title": "Changed"}, headers=alice.auth)
    page = sync(client, alice, token, limit=2)
    assert page["more"] is True
    first_ids = ids(page["bookings"])
    client.patch(f"{BOOKINGS}/{first_ids[0]}", json={"title": "Changed again"}, headers=alice.auth)
    rest, token, _ = sync_all(client, alice, page["next_token"], limit=2)
    assert sorted(first_ids + ids(rest)) == ids(made)
    again = sync(client, alice, token)["bookings"]
    assert [(b["id"], b["title"]) for b in again] == [(first_ids[0], "Changed again")]


def test_a_change_committed_late_by_an_earlier_transaction_is_not_skipped(client, alice, database_url):
    """A slow transaction that started (and wrote) before a sync but commits after it: its change
    must come in the next sync, though a faster transaction that began later committed first."""
    slow_one = book(client, alice, "09:00", "10:00")
    fast_one = book(client, alice, "11:00", "12:00")
    token = sync(client, alice)["next_token"]
    slow = psycopg2.connect(database_url)
    try:
        with slow.cursor() as cur:
            cur.execute("UPDATE bookings SET title = 'Slow', updated_at = now() WHERE id = %s", (slow_one["id"],))
        client.patch(f"{BOOKINGS}/{fast_one['id']}", json={"title": "Fast"}, headers=alice.auth)
        page = sync(client, alice, token)
        assert [b["title"] for b in page["bookings"]] == ["Fast"]
        slow.commit()
    finally:
        slow.close()
    later = sync(client, alice, page["next_token"])
    assert [(b["id"], b["title"]) for b in later["bookings"]] == [(slow_one["id"], "Slow")]


def test_a_forged_or_foreign_token_is_410(client, alice, bob):
    book(client, alice, "09:00", "10:00")
    token = sync(client, alice)["next_token"]
    payload, _, signature = token.partition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (f"{payload}.{flipped}", "garbage", ".", token + "x", f"{payload}.", "é"):
        r = client.get(SYNC, query_string={"token": bad}, headers=alice.auth)
        assert r.status_code == 410, bad
        assert "sync again" in r.json["error"]
    assert client.get(SYNC, query_string={"token": token}, headers=bob.auth).status_code == 410


def test_an_expired_token_is_410(client, alice, travel):
    token = sync(client, alice)["next_token"]
    travel(timedelta(days=6))
    assert client.get(SYNC, query_string={"token": token}, headers=alice.auth).status_code == 200
    travel(timedelta(days=2))
    assert client.get(SYNC, query_string={"token": token}, headers=alice.auth).status_code == 410


def test_limit_is_checked(client, alice):
    for limit in ("0", "201", "x"):
        assert client.get(SYNC, query_string={"limit": limit}, headers=alice.auth).status_code == 400
    assert client.get(SYNC).status_code == 401
