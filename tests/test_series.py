"""Recurring series: every occurrence is checked as one booking is, set-based and under the
people's locks; all are written or none (or, asked to, the free ones); each is a booking of its
own that can be moved and cancelled alone or with the rest; calendars see one event."""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from tests.booking_links import GUEST, at, book, booked, host, local_day, make_type, next_transition  # noqa: F401
from tests.team_links import make_team_type, team, team_book  # noqa: F401
from tests.test_races import assert_orderly, at_once, no_overlaps

BOOKINGS = "/api/v1/bookings"
UTC = timezone.utc


def series_body(start, *, minutes=60, title="Coaching", **recurrence):
    return {"title": title, "start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat(),
            "recurrence": {"freq": "weekly"} | recurrence}


def stored(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def counts(db):
    [row] = stored(db, "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM booking_series)")
    return row


def instances(ics, start, end):
    calendar = icalendar.Calendar.from_ical(ics)
    return sorted(e["DTSTART"].dt for e in recurring_ical_events.of(calendar).between(start, end))


def test_a_conflict_in_week_7_of_12_is_named_and_nothing_is_written(client, alice, db):
    first = at(local_day(10), "10:00")
    taken = client.post(BOOKINGS, json={"title": "Dentist", "start": (first + timedelta(weeks=6, minutes=30)).isoformat(),
                                        "end": (first + timedelta(weeks=6, minutes=90)).isoformat()}, headers=alice.auth)
    assert taken.status_code == 201
    before = counts(db)
    r = client.post(BOOKINGS, json=series_body(first, count=12), headers=alice.auth)
    assert r.status_code == 409, r.json
    assert [(c["occurrence"], c["user_id"], c["reason"]) for c in r.json["conflicts"]] == [(7, alice.id, "busy")]
    assert datetime.fromisoformat(r.json["conflicts"][0]["start"]) == first + timedelta(weeks=6)
    assert counts(db) == before


def test_every_clashing_occurrence_is_listed_not_just_the_first(client, alice, bob, org_of, db):
    org_of(alice, bob)
    first = at(local_day(10), "10:00")
    for week in (2, 5):
        client.post(BOOKINGS, json={"title": "Busy", "start": (first + timedelta(weeks=week)).isoformat(),
                                    "end": (first + timedelta(weeks=week, hours=1)).isoformat()}, headers=bob.auth)
    r = client.post("/api/v1/users/me/time-off", json={"start": (first + timedelta(weeks=8)).isoformat(),
                                                       "end": (first + timedelta(weeks=8, hours=2)).isoformat()},
                    headers=bob.auth)
    assert r.status_code == 201, r.json
    r = client.post(BOOKINGS, json=series_body(first, count=10) | {"attendees": [bob.email]}, headers=alice.auth)
    assert r.status_code == 409
    assert [(c["occurrence"], c["user_id"], c["reason"]) for c in r.json["conflicts"]] == [
        (3, bob.id, "busy"), (6, bob.id, "busy"), (9, bob.id, "away")]


def test_skip_books_the_free_occurrences_and_lists_the_others(client, alice, db):
    first = at(local_day(10), "10:00")
    client.post(BOOKINGS, json={"title": "Dentist", "start": (first + timedelta(weeks=1)).isoformat(),
                                "end": (first + timedelta(weeks=1, hours=1)).isoformat()}, headers=alice.auth)
    r = client.post(BOOKINGS, json=series_body(first, count=4) | {"on_conflict": "skip"}, headers=alice.auth)
    assert r.status_code == 201, r.json
    assert r.json["series"]["count"] == 3 and r.json["series"]["recurrence"] == {"freq": "weekly", "interval": 1,
                                                                                 "count": 4}
    assert [b["occurrence"] for b in r.json["bookings"]] == [1, 3, 4]
    assert {b["series_id"] for b in r.json["bookings"]} == {r.json["series"]["id"]}
    assert [s["occurrence"] for s in r.json["skipped"]] == [2]
    # Nothing free at all is still a 409.
    again = client.post(BOOKINGS, json=series_body(first, count=4) | {"on_conflict": "skip"}, headers=alice.auth)
    assert again.status_code == 409 and len(again.json["conflicts"]) == 4


def test_occurrences_are_bookings_listed_read_and_synced_with_their_series(client, alice):
    first = at(local_day(10), "10:00")
    made = client.post(BOOKINGS, json=series_body(first, count=3), headers=alice.auth).json
    listed = client.get(BOOKINGS, headers=alice.auth).json
    assert [(b["series_id"], b["occurrence"]) for b in listed] == [(made["series"]["id"], n) for n in (1, 2, 3)]
    one = client.get(f"{BOOKINGS}/{made['bookings'][1]['id']}", headers=alice.auth).json
    assert one["occurrence"] == 2 and one["start_time"] == made["bookings"][1]["start_time"]
    synced = client.get(f"{BOOKINGS}/sync", headers=alice.auth).json["bookings"]
    assert sorted(b["occurrence"] for b in synced) == [1, 2, 3]


def test_a_weekly_series_keeps_its_local_time_across_a_clock_change(client, alice, set_profile):
    zone = "Europe/London"
    set_profile(alice, timezone=zone)
    change = next_transition(zone)
    first = at(change - timedelta(days=14), "10:00", zone)
    r = client.post(BOOKINGS, json=series_body(first, count=6), headers=alice.auth)
    assert r.status_code == 201, r.json
    starts = [datetime.fromisoformat(b["start_time"]) for b in r.json["bookings"]]
    assert {s.astimezone(ZoneInfo(zone)).strftime("%H:%M") for s in starts} == {"10:00"}
    assert len({s.astimezone(ZoneInfo(zone)).utcoffset() for s in starts}) == 2


def test_a_local_time_the_clocks_skip_on_some_date_is_a_400_naming_it(client, alice, set_profile, db):
    zone = "Europe/London"
    set_profile(alice, timezone=zone)
    spring = next(day for day in (next_transition(zone), next_transition(zone, 2))
                  if at(day, "01:30", zone).astimezone(UTC).astimezone(ZoneInfo(zone)).hour != 1)
    first = at(spring - timedelta(days=2), "01:30", zone)
    r = client.post(BOOKINGS, json=series_body(first, minutes=20) | {"recurrence": {"freq": "daily", "count": 5}},
                    headers=alice.auth)
    assert r.status_code == 400
    assert spring.isoformat() in r.json["fields"]["recurrence"]
    assert counts(db) == (0, 0)


def test_the_first_occurrence_is_the_start_to_the_microsecond(client, alice):
    first = at(local_day(10), "10:00") + timedelta(microseconds=322643)
    r = client.post(BOOKINGS, json=series_body(first, count=2) | {"recurrence": {
        "freq": "daily", "count": 2, "byday": [first.strftime("%a")[:2].lower(), "mo"]}}, headers=alice.auth)
    assert r.status_code == 201, r.json
    assert datetime.fromisoformat(r.json["bookings"][0]["start_time"]) == first


def test_series_rules_are_checked(client, alice):
    first = at(local_day(10), "10:00")
    for recurrence, field in [({"freq": "weekly"}, "recurrence"),
                              ({"freq": "weekly", "count": 4, "until": "2099-01-01"}, "recurrence"),
                              ({"freq": "weekly", "count": 53}, "recurrence.count"),
                              ({"freq": "weekly", "count": 1}, "recurrence.count"),
                              ({"freq": "daily", "until": (first + timedelta(days=80)).date().isoformat()},
                               "recurrence.until"),
                              ({"freq": "monthly", "interval": 12, "count": 3}, "recurrence.count"),
                              ({"freq": "weekly", "count": 3, "byday": ["mo", "mo"]}, "recurrence"),
                              ({"freq": "hourly", "count": 3}, "recurrence.freq")]:
        r = client.post(BOOKINGS, json=series_body(first) | {"recurrence": recurrence}, headers=alice.auth)
        assert r.status_code == 400 and field in r.json["fields"], (recurrence, r.json)
    monday = first + timedelta(days=-first.weekday() % 7)
    left_out = series_body(monday) | {"recurrence": {"freq": "weekly", "count": 3, "byday": ["tu", "th"]}}
    r = client.post(BOOKINGS, json=left_out, headers=alice.auth)
    assert r.status_code == 400 and "Monday" in r.json["fields"]["recurrence.byday"]
    unknown = series_body(first) | {"recurrence": {"freq": "monthly", "count": 3, "bymonthday": [1]}}
    assert client.post(BOOKINGS, json=unknown, headers=alice.auth).status_code == 400
    overlapping = series_body(first, minutes=26 * 60) | {"recurrence": {"freq": "daily", "count": 3}}
    assert client.post(BOOKINGS, json=overlapping, headers=alice.auth).status_code == 400


def test_two_overlapping_series_raced_twenty_times_one_wins_each_clash(app, alice, bob, org_of, db):
    """Each round two series race at its own hour: Alice's weekly one of 3, and Bob's daily one
    of 8 with Alice invited, which meets hers on its first and its eighth day. Even rounds all
    or nothing (one 201, one 409 naming both clashes); odd rounds skip (both 201, each clash
    held by exactly one)."""
    org_of(alice, bob)
    day = local_day(10)
    for hour in range(20):
        weekly = series_body(at(day, f"{hour:02d}:00"), minutes=40, count=3)
        daily = series_body(at(day, f"{hour:02d}:20"), minutes=30) | {"recurrence": {"freq": "daily", "count": 8},
                                                                       "attendees": [alice.email]}
        skip = {"on_conflict": "skip"} if hour % 2 else {}
        answers = at_once(app, [("POST", BOOKINGS, weekly | skip, alice.auth), ("POST", BOOKINGS, daily | skip, bob.auth)])
        assert_orderly(answers, {201, 409})
        statuses = sorted(status for status, _, _ in answers)
        if skip:
            assert statuses == [201, 201]
            written = sorted(len(a["bookings"]) for _, _, a in answers)
            assert written in ([1, 8], [3, 6]), written
        else:
            assert statuses == [201, 409]
            [refusal] = [a for status, _, a in answers if status == 409]
            assert len(refusal["conflicts"]) == 2
    assert no_overlaps(db)


def test_cancel_this_following_and_all(client, alice, db):
    first = at(local_day(10), "10:00")
    made = client.post(BOOKINGS, json=series_body(first, count=6), headers=alice.auth).json
    ids = [b["id"] for b in made["bookings"]]

    def statuses():
        return [s for (s,) in stored(db, "SELECT status FROM bookings WHERE series_id = %s ORDER BY occurrence",
                                     made["series"]["id"])]

    def calendar_starts():
        ics = client.get(f"{BOOKINGS}/{ids[0]}/ics", headers=alice.auth).data
        return instances(ics, first - timedelta(days=1), first + timedelta(weeks=10))

    assert len(calendar_starts()) == 6
    r = client.delete(f"{BOOKINGS}/{ids[1]}", headers=alice.auth)
    assert r.status_code == 200 and [b["id"] for b in r.json["bookings"]] == [ids[1]]
    assert statuses() == ["confirmed", "cancelled", "confirmed", "confirmed", "confirmed", "confirmed"]
    assert first + timedelta(weeks=1) not in calendar_starts() and len(calendar_starts()) == 5
    r = client.delete(f"{BOOKINGS}/{ids[3]}?scope=following", headers=alice.auth)
    assert r.status_code == 200 and [b["id"] for b in r.json["bookings"]] == ids[3:]
    assert statuses() == ["confirmed", "cancelled", "confirmed", "cancelled", "cancelled", "cancelled"]
    assert calendar_starts() == [first, first + timedelta(weeks=2)]
    r = client.delete(f"{BOOKINGS}/{ids[5]}?scope=all", headers=alice.auth)
    assert r.status_code == 200 and [b["id"] for b in r.json["bookings"]] == [ids[0], ids[2]]
    assert statuses() == ["cancelled"] * 6
    assert calendar_starts() == []
    assert client.delete(f"{BOOKINGS}/{ids[0]}?scope=all", headers=alice.auth).status_code == 404


def test_a_scope_on_a_booking_in_no_series_is_the_booking_itself(client, alice):
    first = at(local_day(10), "10:00")
    for scope in ("following", "all"):
        one = client.post(BOOKINGS, json={"title": "One-off", "start": first.isoformat(),
                                          "end": (first + timedelta(hours=1)).isoformat()}, headers=alice.auth).json
        r = client.delete(f"{BOOKINGS}/{one['booking']['id']}?scope={scope}", headers=alice.auth)
        assert r.status_code == 200 and r.json["booking"]["status"] == "cancelled"
        assert [b["id"] for b in r.json["bookings"]] == [one["booking"]["id"]]


def test_an_occurrence_moved_alone_shows_as_an_override(client, alice):
    first = at(local_day(10), "10:00")
    ids = [b["id"] for b in client.post(BOOKINGS, json=series_body(first, count=4), headers=alice.auth).json["bookings"]]
    moved = first + timedelta(weeks=2, hours=3)
    r = client.patch(f"{BOOKINGS}/{ids[2]}", json={"start": moved.isoformat(),
                                                   "end": (moved + timedelta(hours=1)).isoformat()}, headers=alice.auth)
    assert r.status_code == 200, r.json
    ics = client.get(f"{BOOKINGS}/{ids[0]}/ics", headers=alice.auth).data
    assert ics.count(b"UID:") == 2 and len({line for line in ics.splitlines() if line.startswith(b"UID:")}) == 1
    assert instances(ics, first, first + timedelta(weeks=5)) == [
        first, first + timedelta(weeks=1), moved, first + timedelta(weeks=3)]


def test_renaming_following_renames_the_rest_and_a_time_needs_scope_this(client, alice):
    first = at(local_day(10), "10:00")
    ids = [b["id"] for b in client.post(BOOKINGS, json=series_body(first, count=4), headers=alice.auth).json["bookings"]]
    r = client.patch(f"{BOOKINGS}/{ids[1]}?scope=following", json={"title": "Coaching (new room)"}, headers=alice.auth)
    assert r.status_code == 200 and [b["id"] for b in r.json["bookings"]] == ids[1:]
    titles = [b["title"] for b in client.get(BOOKINGS, headers=alice.auth).json]
    assert titles == ["Coaching"] + ["Coaching (new room)"] * 3
    r = client.patch(f"{BOOKINGS}/{ids[1]}?scope=all", json={"start": first.isoformat()}, headers=alice.auth)
    assert r.status_code == 400 and "scope" in r.json["fields"]


def test_the_series_is_told_once_with_one_invitation_and_each_occurrence_has_its_reminders(client, alice, bob,
                                                                                          org_of, db):
    org_of(alice, bob)
    first = at(local_day(10), "10:00")
    r = client.post(BOOKINGS, json=series_body(first, count=5) | {"attendees": [bob.email]}, headers=alice.auth)
    assert r.status_code == 201
    sent = stored(db, "SELECT recipient, template FROM email_outbox WHERE booking_id IS NOT NULL "
                      "AND reminder_minutes IS NULL ORDER BY id")
    assert sent == [(alice.email, "SERIES_CONFIRMATION"), (bob.email, "SERIES_INVITATION")]
    [(invite,)] = stored(db, "SELECT payload->'ics' FROM email_outbox WHERE recipient = %s AND booking_id IS NOT NULL "
                             "AND reminder_minutes IS NULL", bob.email)
    assert invite["method"] == "REQUEST" and "FREQ=WEEKLY" in invite["event"]["series"]["rrule"]
    [(reminded,)] = stored(db, "SELECT count(DISTINCT booking_id) FROM email_outbox WHERE reminder_minutes IS NOT NULL")
    assert reminded == 5
    [(notes,)] = stored(db, "SELECT count(*) FROM notifications WHERE user_id = %s AND type LIKE 'SERIES%%'", alice.id)
    assert notes == 1


def test_guests_book_a_series_only_where_the_type_allows(client, host, make_type, db):
    make_type()
    start = at(local_day(10), "10:00")
    r = book(client, start, recurrence={"freq": "weekly", "count": 3})
    assert r.status_code == 400 and "recurrence" in r.json["fields"]
    make_type(slug="coaching", max_occurrences=4)
    r = book(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 5})
    assert r.status_code == 400 and "at most 4" in r.json["fields"]["recurrence"]
    assert counts(db) == (0, 0)
    r = book(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 4})
    assert r.status_code == 201, r.json
    assert [b["occurrence"] for b in r.json["bookings"]] == [1, 2, 3, 4]
    tokens = {b["manage_token"] for b in r.json["bookings"]}
    assert len(tokens) == 4 and r.json["manage_token"] == r.json["bookings"][0]["manage_token"]
    shown = client.get(f"{GUEST}/{r.json['bookings'][2]['manage_token']}").json["booking"]
    assert (shown["series_id"], shown["occurrence"]) == (r.json["series"]["id"], 3)


def test_a_guest_series_against_a_daily_limit_names_the_full_day(client, host, make_type, db):
    make_type(slug="coaching", max_occurrences=6, daily_limit=1)
    start = at(local_day(10), "10:00")
    booked(client, start + timedelta(weeks=2, hours=2), link="hana/coaching", email="other@example.com")
    before = counts(db)
    r = book(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 4})
    assert r.status_code == 409
    assert [(c["occurrence"], c["reason"]) for c in r.json["conflicts"]] == [(3, "fully_booked")]
    assert "user_id" not in r.json["conflicts"][0]
    assert counts(db) == before


def test_a_guest_series_counts_its_own_occurrences_toward_a_limit(client, host, make_type):
    make_type(slug="daily", max_occurrences=7, weekly_limit=2)
    day = local_day(10)
    monday = day + timedelta(days=-day.weekday() % 7)
    r = book(client, at(monday, "10:00"), link="hana/daily", recurrence={"freq": "daily", "count": 4})
    assert r.status_code == 409
    assert [(c["occurrence"], c["reason"]) for c in r.json["conflicts"]] == [(3, "fully_booked"), (4, "fully_booked")]


def test_later_occurrences_outside_the_window_are_conflicts_and_can_be_skipped(client, host, make_type):
    make_type(slug="coaching", max_occurrences=12, booking_window=30)
    start = at(local_day(10), "10:00")
    r = book(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 6})
    assert r.status_code == 409
    assert {c["reason"] for c in r.json["conflicts"]} == {"too_far_ahead"}
    r = book(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 6}, on_conflict="skip")
    assert r.status_code == 201 and r.json["series"]["count"] == len(r.json["bookings"]) < 6


def test_a_guest_cancels_one_occurrence_or_the_rest(client, host, make_type, db):
    make_type(slug="coaching", max_occurrences=5)
    start = at(local_day(10), "10:00")
    made = booked(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 5})
    tokens = [b["manage_token"] for b in made["bookings"]]
    r = client.post(f"{GUEST}/{tokens[1]}/cancel", json={})
    assert r.status_code == 200 and len(r.json["bookings"]) == 1
    r = client.post(f"{GUEST}/{tokens[2]}/cancel", json={"scope": "following", "reason": "Moving away"})
    assert r.status_code == 200 and [b["occurrence"] for b in r.json["bookings"]] == [3, 4, 5]
    statuses = [s for (s,) in stored(db, "SELECT status FROM bookings WHERE series_id = %s ORDER BY occurrence",
                                     made["series"]["id"])]
    assert statuses == ["confirmed"] + ["cancelled"] * 4
    assert client.post(f"{GUEST}/{tokens[3]}/cancel", json={"scope": "following"}).status_code == 409


def test_a_guest_who_cancelled_the_first_can_still_cancel_the_rest(client, host, make_type, db):
    """The confirmation links to the first occurrence only: once that one is cancelled, its
    manage link still reaches the later ones."""
    make_type(slug="coaching", max_occurrences=4)
    made = booked(client, at(local_day(10), "10:00"), link="hana/coaching", recurrence={"freq": "weekly", "count": 4})
    first = made["manage_token"]
    assert client.get(f"{GUEST}/{first}").json["booking"]["later"] == 3
    assert client.post(f"{GUEST}/{first}/cancel", json={}).status_code == 200
    shown = client.get(f"{GUEST}/{first}").json["booking"]
    assert (shown["can_change"], shown["later"]) == (False, 3)
    r = client.post(f"{GUEST}/{first}/cancel", json={"scope": "following"})
    assert r.status_code == 200, r.json
    assert [b["occurrence"] for b in r.json["bookings"]] == [2, 3, 4] and r.json["booking"]["occurrence"] == 1
    assert client.get(f"{GUEST}/{first}").json["booking"]["later"] == 0
    assert client.post(f"{GUEST}/{first}/cancel", json={"scope": "following"}).status_code == 409


def test_guest_and_host_get_one_email_for_a_guest_series(client, host, make_type, mailbox, worker):
    make_type(slug="coaching", max_occurrences=4)
    start = at(local_day(10), "10:00")
    made = booked(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 4})
    worker()
    guest = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    to_host = [m for m in mailbox.received() if m["To"] == host.email and "Welcome" not in m["Subject"]]
    assert [m["Subject"] for m in guest] == ["Series booked: Intro call with Hana"]
    assert [m["Subject"] for m in to_host] == ["New series: Intro call with Gus Guest"]
    text = guest[0].get_body(("plain",)).get_content()
    assert "every week, 4 times" in text and made["manage_url"] in text
    ics = next(p for p in guest[0].iter_attachments() if p.get_content_type() == "text/calendar").get_content()
    assert "RRULE:FREQ=WEEKLY;COUNT=4" in ics and host.email not in ics


def test_an_occurrence_s_ics_download_is_the_series_the_guest_was_invited_to(client, host, make_type, mailbox,
                                                                              worker):
    """The manage page's .ics of an occurrence holds what the last invitation e-mailed for it
    does: the whole series (one UID, its SEQUENCE, a moved date as its override), so a calendar
    that has the series from the e-mail updates it instead of adding a second event."""
    make_type(slug="coaching", max_occurrences=4)
    start = at(local_day(10), "10:00")
    made = booked(client, start, link="hana/coaching", recurrence={"freq": "weekly", "count": 4})
    token = made["bookings"][1]["manage_token"]
    r = client.post(f"{GUEST}/{token}/reschedule", json={"start": (start + timedelta(weeks=1, hours=2)).isoformat()})
    assert r.status_code == 200, r.json
    worker()
    *_, moved = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    invitation = next(p for p in moved.iter_attachments() if p.get_content_type() == "text/calendar").get_content()
    r = client.get(f"/manage/{token}/booking.ics")
    assert r.status_code == 200 and host.email not in r.text

    def components(ics):
        return [(str(e["UID"]), e["SEQUENCE"], e.get("RECURRENCE-ID") and e["RECURRENCE-ID"].dt, e["DTSTART"].dt)
                for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")]

    assert components(r.data) == components(invitation)
    assert len(components(r.data)) == 2  # the series and its moved date
    span = (start - timedelta(days=1), start + timedelta(weeks=5))
    assert instances(r.data, *span) == instances(invitation, *span) != []


def test_the_feed_shows_a_series_as_one_event_beside_single_bookings(client, alice):
    first = at(local_day(10), "10:00")
    ids = [b["id"] for b in client.post(BOOKINGS, json=series_body(first, count=5), headers=alice.auth).json["bookings"]]
    client.delete(f"{BOOKINGS}/{ids[4]}", headers=alice.auth)
    client.post(BOOKINGS, json={"title": "One-off", "start": (first + timedelta(hours=3)).isoformat(),
                                "end": (first + timedelta(hours=4)).isoformat()}, headers=alice.auth)
    url = client.post("/api/v1/users/me/calendar-feed", headers=alice.auth).json["url"]
    ics = client.get(re.sub(r"^https?://[^/]+", "", url)).data
    uids = {line for line in ics.splitlines() if line.startswith(b"UID:")}
    assert len(uids) == 2
    assert len(instances(ics, first - timedelta(days=1), first + timedelta(weeks=6))) == 4 + 1


def test_a_round_robin_series_goes_to_one_host_free_for_all_of_it(client, team, make_team_type, db):
    _, _, (ann, ben, cat) = team
    make_team_type(hosts=[ann, ben], max_occurrences=4)
    start = at(local_day(10), "10:00")
    client.post(BOOKINGS, json={"title": "Busy", "start": (start + timedelta(weeks=1)).isoformat(),
                                "end": (start + timedelta(weeks=1, hours=1)).isoformat()}, headers=ann.auth)
    r = team_book(client, start, recurrence={"freq": "weekly", "count": 4})
    assert r.status_code == 201, r.json
    assert r.json["assignment"] == {"host": {"name": "Ben"}, "reason": "only_host_free"}
    owners = stored(db, "SELECT DISTINCT user_id FROM bookings WHERE series_id = %s", r.json["series"]["id"])
    assert owners == [(ben.id,)]


def test_a_collective_series_needs_every_host_at_each_occurrence(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type(kind="collective", hosts=[ann, ben], max_occurrences=4)
    start = at(local_day(10), "10:00")
    client.post(BOOKINGS, json={"title": "Busy", "start": (start + timedelta(weeks=2)).isoformat(),
                                "end": (start + timedelta(weeks=2, hours=1)).isoformat()}, headers=ben.auth)
    r = team_book(client, start, recurrence={"freq": "weekly", "count": 4})
    assert r.status_code == 409 and [c["occurrence"] for c in r.json["conflicts"]] == [3]
    r = team_book(client, start, recurrence={"freq": "weekly", "count": 4}, on_conflict="skip")
    assert r.status_code == 201 and [b["occurrence"] for b in r.json["bookings"]] == [1, 2, 4]
    assert {h["name"] for h in r.json["bookings"][0]["hosts"]} == {"Ann", "Ben"}
