"""Team booking links: round robin (one host per booking, chosen by a rule a customer can read,
inside the write under every candidate's lock) and collective (every host attends)."""

import threading
from collections import Counter
from datetime import timedelta

import psycopg2

from tests.booking_links import GUEST, at, local_day
from tests.team_links import TEAM, make_team_type, team, team_book, team_starts  # noqa: F401 (fixtures)
from tests.test_guest_bookings import calendars, sent_to
from tests.test_races import at_once, no_overlaps

DAY = 10


def own_booking(client, person, start, minutes=60):
    end = start + timedelta(minutes=minutes)
    r = client.post("/api/v1/bookings", json={"title": "Busy", "start": start.isoformat(), "end": end.isoformat()},
                    headers=person.auth)
    assert r.status_code == 201, r.json
    return r.json["booking"]


def hosts_of(db):
    """{booking id: owner id} of the confirmed bookings."""
    with db.cursor() as cur:
        cur.execute("SELECT id, user_id FROM bookings WHERE status = 'confirmed' AND guest_email IS NOT NULL")
        return dict(cur.fetchall())


def slot_times(answer):
    return [s["start"][11:16] for s in answer["slots"]]


# What strangers see

def test_the_team_link_shows_the_type_kind_team_and_hosts_names_only(client, team, make_team_type):
    make_team_type(description="A short demo", location="Online")
    r = client.get(f"{TEAM}/demo")
    assert r.status_code == 200
    assert r.json == {"title": "Demo", "description": "A short demo", "location": "Online", "duration": 30,
                      "max_occurrences": 1, "kind": "round_robin", "team": {"name": "Team"},
                      "policy": {"requires_confirmation": False, "seats": None, "cancel_notice": 0,
                                 "reschedule_notice": 0},
                      "hosts": [{"name": "Ann"}, {"name": "Ben"}, {"name": "Cat"}]}
    owner, _, hosts = team
    day = local_day(DAY)
    slots = team_starts(client, at(day, "00:00"), at(day, "23:59"))
    made = team_book(client, at(day, "10:00")).json
    text = str(r.json) + str(slots) + str(made)
    assert not any(h.email in text or f"'user_id': {h.id}" in text for h in hosts)


def test_unknown_inactive_and_hostless_team_links_are_the_same_404(client, team, make_team_type, db):
    owner, org, hosts = team
    made = make_team_type(hosts=hosts[:1])
    assert client.get(f"{TEAM}/nope").status_code == 404
    assert client.get(f"{PUBLIC_TEAMS}/nobody/demo").status_code == 404
    assert client.delete(f"/api/v1/organizations/{org['id']}/members/{hosts[0].id}",
                         headers=owner.auth).status_code == 200
    r = client.get(f"{TEAM}/demo")
    assert r.status_code == 404 and r.json["error"] == "Booking link not found"
    client.patch(f"/api/v1/organizations/{org['id']}/event-types/{made['id']}", json={"active": False},
                 headers=owner.auth)
    assert client.get(f"{TEAM}/demo/slots").status_code == 404


PUBLIC_TEAMS = "/api/v1/public/teams"


# Round robin: slots and assignment

def test_round_robin_offers_a_start_while_one_host_is_free(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type()
    day = local_day(DAY)
    own_booking(client, ann, at(day, "10:00"))
    own_booking(client, ben, at(day, "10:00"))
    assert "10:00" in slot_times(team_starts(client, at(day, "09:00"), at(day, "12:00")))
    own_booking(client, cat, at(day, "10:00"))
    assert "10:00" not in slot_times(team_starts(client, at(day, "09:00"), at(day, "12:00")))
    r = team_book(client, at(day, "10:00"))
    assert r.status_code == 409 and r.json["error"] == "That time is no longer available"


def test_round_robin_gives_the_booking_to_the_host_who_is_free(client, team, make_team_type, db):
    _, _, (ann, ben, cat) = team
    make_team_type()
    day = local_day(DAY)
    own_booking(client, ann, at(day, "10:00"))
    own_booking(client, cat, at(day, "10:00"))
    r = team_book(client, at(day, "10:00"))
    assert r.status_code == 201, r.json
    assert r.json["assignment"] == {"host": {"name": "Ben"}, "reason": "only_host_free"}
    assert r.json["booking"]["host"] == {"name": "Ben"} and r.json["booking"]["hosts"] == [{"name": "Ben"}]


def test_round_robin_spreads_bookings_and_says_which_rule_decided(client, team, make_team_type):
    """The reason is the rule that finally told the chosen host from the next in line."""
    make_team_type()
    day = local_day(DAY)
    answers = [team_book(client, at(day, f"{h:02}:00"), email=f"g{h}@example.com").json["assignment"]
               for h in range(9, 15)]
    assert answers == [
        {"host": {"name": "Ann"}, "reason": "lowest_id"},  # none has one, none was assigned one
        {"host": {"name": "Ben"}, "reason": "lowest_id"},  # Ben and Cat have none
        {"host": {"name": "Cat"}, "reason": "fewest_bookings"},
        {"host": {"name": "Ann"}, "reason": "least_recently_assigned"},  # one each
        {"host": {"name": "Ben"}, "reason": "least_recently_assigned"},  # Ben and Cat one each
        {"host": {"name": "Cat"}, "reason": "fewest_bookings"},
    ]


def test_a_host_busy_at_the_start_is_passed_over_whatever_their_count(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type()
    day = local_day(DAY)
    team_book(client, at(day, "09:00"), email="a@example.com")  # Ann
    own_booking(client, ben, at(day, "10:00"))
    own_booking(client, cat, at(day, "10:00"))
    r = team_book(client, at(day, "10:00"), email="b@example.com")
    assert r.json["assignment"] == {"host": {"name": "Ann"}, "reason": "only_host_free"}


def test_weights_divide_the_counts(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type(hosts=[ann, ben], weights={str(ann.id): 3, str(ben.id): 1})
    day = local_day(DAY)
    names = [team_book(client, at(day, f"{h:02}:00"), email=f"g{h}@example.com").json["booking"]["host"]["name"]
             for h in range(9, 17)]
    assert Counter(names) == {"Ann": 6, "Ben": 2}


def test_limits_count_per_host(client, team, make_team_type):
    make_team_type(daily_limit=1)
    day = local_day(DAY)
    statuses = [team_book(client, at(day, f"{h:02}:00"), email=f"g{h}@example.com").status_code for h in range(9, 13)]
    assert statuses == [201, 201, 201, 409]
    assert team_starts(client, at(day, "00:00"), at(day, "23:59"))["days"] == [
        {"date": day.isoformat(), "reason": "fully_booked"}]


def test_a_host_who_leaves_the_organisation_is_no_longer_offered(client, team, make_team_type):
    owner, org, (ann, ben, cat) = team
    make_team_type()
    assert client.delete(f"/api/v1/organizations/{org['id']}/members/{ann.id}", headers=ann.auth).status_code == 200
    day = local_day(DAY)
    assert client.get(f"{TEAM}/demo").json["hosts"] == [{"name": "Ben"}, {"name": "Cat"}]
    names = {team_book(client, at(day, f"{h:02}:00"), email=f"g{h}@example.com").json["booking"]["host"]["name"]
             for h in range(9, 13)}
    assert names == {"Ben", "Cat"}


def test_a_host_leaving_while_a_guest_books_is_not_given_the_booking(app, client, team, make_team_type,
                                                                      database_url, db):
    """The write holds the hosts' memberships: a removal in flight is waited for, and then counts."""
    owner, org, (ann, ben, cat) = team
    make_team_type()
    day = local_day(DAY)
    own_booking(client, ben, at(day, "10:00"))
    own_booking(client, cat, at(day, "10:00"))
    leaving = psycopg2.connect(database_url)
    with leaving.cursor() as cur:
        cur.execute("DELETE FROM organization_members WHERE organization_id = %s AND user_id = %s", (org["id"], ann.id))
    answers = []
    guest = threading.Thread(target=lambda: answers.append(team_book(app.test_client(), at(day, "10:00"))))
    guest.start()
    guest.join(1.0)
    assert guest.is_alive(), "the booking did not wait for the removal in flight"
    leaving.commit()
    leaving.close()
    guest.join(10)
    [r] = answers
    assert r.status_code == 409, r.json
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings WHERE guest_email IS NOT NULL")
        assert cur.fetchone()[0] == 0


def test_three_hosts_sixty_parallel_guests_over_twenty_slots(app, client, team, make_team_type, db):
    make_team_type()
    day = local_day(DAY)
    starts = [at(day + timedelta(days=d), f"{h:02}:00") for d in range(3) for h in range(9, 16)][:20]
    calls = [("POST", f"{TEAM}/demo/bookings",
              {"start": start.isoformat(), "name": f"Guest {n}", "email": f"guest{n}@example.com"}, {})
             for n, start in enumerate(starts * 3)]
    answers = at_once(app, calls)
    assert {status for status, _, _ in answers} <= {201, 409}
    assert no_overlaps(db)
    with db.cursor() as cur:
        cur.execute("""SELECT start_time, count(*) FROM bookings WHERE status = 'confirmed' GROUP BY start_time""")
        per_slot = dict(cur.fetchall())
    assert max(per_slot.values()) <= 3
    totals = Counter(hosts_of(db).values())
    assert sum(totals.values()) == sum(1 for status, _, _ in answers if status == 201)
    assert max(totals.values()) - min(totals.values()) <= 1, totals


# Collective

def test_collective_offers_a_start_only_when_every_host_is_free(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type(kind="collective")
    day = local_day(DAY)
    assert "10:00" in slot_times(team_starts(client, at(day, "09:00"), at(day, "12:00")))
    own_booking(client, cat, at(day, "10:00"))
    assert "10:00" not in slot_times(team_starts(client, at(day, "09:00"), at(day, "12:00")))
    r = team_book(client, at(day, "10:00"))
    assert r.status_code == 409
    r = team_book(client, at(day, "11:00"))
    assert r.status_code == 201, r.json
    assert r.json["assignment"] is None
    assert r.json["booking"]["hosts"] == [{"name": "Ann"}, {"name": "Ben"}, {"name": "Cat"}]


def test_collective_time_off_of_one_host_empties_the_day(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type(kind="collective")
    day = local_day(DAY)
    r = client.post("/api/v1/users/me/time-off", json={"start": at(day, "00:00").isoformat(),
                                                       "end": at(day, "23:59").isoformat()}, headers=ben.auth)
    assert r.status_code == 201, r.json
    answer = team_starts(client, at(day, "00:00"), at(day, "23:59"))
    assert answer["slots"] == [] and answer["days"][0]["reason"] in ("time_off", "no_free_time")
    r = team_book(client, at(day, "10:00"))
    assert r.status_code == 409 and r.json["error"] == "That time is not available"


def test_twenty_parallel_guests_for_one_collective_slot_one_wins(app, team, make_team_type, db):
    make_team_type(kind="collective")
    start = at(local_day(DAY), "10:00")
    answers = at_once(app, [("POST", f"{TEAM}/demo/bookings",
                             {"start": start.isoformat(), "name": f"Guest {n}", "email": f"g{n}@example.com"}, {})
                            for n in range(20)])
    assert sorted(status for status, _, _ in answers) == [201] + [409] * 19
    assert no_overlaps(db)


# Messages

def test_the_guest_and_the_chosen_host_are_told_the_others_hear_nothing(client, team, make_team_type, mailbox,
                                                                        worker):
    _, _, (ann, ben, cat) = team
    make_team_type()
    day = local_day(DAY)
    own_booking(client, ann, at(day, "10:00"))
    worker()
    mailbox.clear()
    assert team_book(client, at(day, "10:00")).json["booking"]["host"] == {"name": "Ben"}
    worker()
    assert [m["Subject"] for m in sent_to(mailbox, "gus@example.com")] == ["Booked: Demo with Ben"]
    assert [m["Subject"] for m in sent_to(mailbox, ben.email)] == ["New booking: Demo with Gus Guest"]
    assert sent_to(mailbox, ann.email) == [] and sent_to(mailbox, cat.email) == []
    [(method, guest_copy)] = calendars(mailbox, "gus@example.com")
    [(host_method, host_copy)] = calendars(mailbox, ben.email)
    assert method == host_method == "REQUEST" and guest_copy["UID"] == host_copy["UID"]
    assert str(guest_copy["ORGANIZER"].params["CN"]) == "Ben"


def test_collective_hosts_are_all_told_as_hosts(client, team, make_team_type, mailbox, worker):
    _, _, hosts = team
    make_team_type(kind="collective")
    worker()
    mailbox.clear()
    assert team_book(client, at(local_day(DAY), "10:00")).status_code == 201
    worker()
    for host in hosts:
        assert [m["Subject"] for m in sent_to(mailbox, host.email)] == ["New booking: Demo with Gus Guest"]


def test_webhooks_reach_the_organisation_and_the_chosen_host_only(client, team, make_team_type, receiver,
                                                                 webhook_worker):
    owner, org, (ann, ben, cat) = team
    make_team_type(hosts=[ann, ben])
    hooks = {name: receiver() for name in ("org", "ann", "ben", "cat")}
    for name, person, org_id in (("org", owner, org["id"]), ("ann", ann, None), ("ben", ben, None), ("cat", cat, None)):
        body = {"url": hooks[name].url, "events": ["booking.created"]} | ({"organization_id": org_id} if org_id else {})
        assert client.post("/api/v1/webhooks", json=body, headers=person.auth).status_code == 201
    day = local_day(DAY)
    own_booking(client, ann, at(day, "10:00"))
    webhook_worker()
    for hook in hooks.values():
        hook.requests.clear()
    assert team_book(client, at(day, "10:00")).json["booking"]["host"] == {"name": "Ben"}
    webhook_worker()
    assert {name: len(hook.received()) for name, hook in hooks.items()} == {"org": 1, "ann": 0, "ben": 1, "cat": 0}


# The guest's side afterwards

def test_a_reschedule_keeps_the_host_when_free(client, team, make_team_type):
    make_team_type()
    day = local_day(DAY)
    made = team_book(client, at(day, "10:00")).json
    r = client.post(f"{GUEST}/{made['manage_token']}/reschedule", json={"start": at(day, "11:00").isoformat()})
    assert r.status_code == 200, r.json
    assert r.json["booking"]["host"] == made["booking"]["host"]
    assert r.json["assignment"] == {"host": made["booking"]["host"], "reason": "same_host"}


def test_a_reschedule_hands_the_booking_over_when_the_host_is_busy(client, team, make_team_type, mailbox, worker,
                                                                   db):
    _, _, (ann, ben, cat) = team
    make_team_type(hosts=[ann, ben])
    day = local_day(DAY)
    made = team_book(client, at(day, "10:00")).json
    assert made["booking"]["host"] == {"name": "Ann"}
    own_booking(client, ann, at(day, "14:00"))
    worker()
    mailbox.clear()
    r = client.post(f"{GUEST}/{made['manage_token']}/reschedule", json={"start": at(day, "14:00").isoformat()})
    assert r.status_code == 200, r.json
    assert r.json["booking"]["host"] == {"name": "Ben"} and r.json["booking"]["hosts"] == [{"name": "Ben"}]
    assert r.json["assignment"] == {"host": {"name": "Ben"}, "reason": "only_host_free"}
    assert no_overlaps(db)
    shown = client.get(f"{GUEST}/{made['manage_token']}").json["booking"]
    assert shown["host"] == {"name": "Ben"} and shown["start"][11:16] == "14:00"
    worker()
    assert [m["Subject"] for m in sent_to(mailbox, ann.email)] == ["Booking handed over: Demo with Gus Guest"]
    assert [m["Subject"] for m in sent_to(mailbox, ben.email)] == ["New booking: Demo with Gus Guest"]
    assert [m["Subject"] for m in sent_to(mailbox, "gus@example.com")] == ["Booking moved: Demo with Ben"]
    # One calendar event throughout: the previous host's copy is cancelled, the new host's and the
    # guest's are the event at its new time.
    [(gone, ann_copy)] = calendars(mailbox, ann.email)
    [(_, ben_copy)] = calendars(mailbox, ben.email)
    [(_, guest_copy)] = calendars(mailbox, "gus@example.com")
    assert gone == "CANCEL" and ann_copy["UID"] == ben_copy["UID"] == guest_copy["UID"]
    assert ben_copy["DTSTART"].dt == guest_copy["DTSTART"].dt == at(day, "14:00")
    [taken_over] = client.get("/api/v1/bookings", headers=ben.auth).json
    assert [a["name"] for a in taken_over["attendees"]] == ["Ben"] and taken_over["start_time"][11:16] == "14:00"
    assert [b["title"] for b in client.get("/api/v1/bookings", headers=ann.auth).json] == ["Busy"]


def test_a_collective_guest_is_told_every_host(client, team, make_team_type, mailbox, worker):
    make_team_type(kind="collective")
    assert team_book(client, at(local_day(DAY), "10:00")).status_code == 201
    worker()
    [confirmation] = sent_to(mailbox, "gus@example.com")
    assert confirmation["Subject"] == "Booked: Demo with Ann, Ben and Cat"


def test_a_collective_host_cannot_step_out_of_a_guest_booking_alone(client, team, make_team_type):
    _, _, (ann, ben, cat) = team
    make_team_type(kind="collective")
    made = team_book(client, at(local_day(DAY), "10:00")).json
    [booking] = client.get("/api/v1/bookings", headers=cat.auth).json
    r = client.patch(f"/api/v1/bookings/{booking['id']}/attendance", json={"status": "declined"}, headers=cat.auth)
    assert r.status_code == 409 and "organiser" in r.json["error"]
    assert client.get(f"{GUEST}/{made['manage_token']}").json["booking"]["hosts"] == [
        {"name": "Ann"}, {"name": "Ben"}, {"name": "Cat"}]


def test_the_guest_cancels_a_collective_booking_and_every_host_hears(client, team, make_team_type, mailbox, worker):
    _, _, hosts = team
    make_team_type(kind="collective")
    made = team_book(client, at(local_day(DAY), "10:00")).json
    worker()
    mailbox.clear()
    r = client.post(f"{GUEST}/{made['manage_token']}/cancel", json={})
    assert r.status_code == 200, r.json
    worker()
    for host in hosts:
        assert [m["Subject"] for m in sent_to(mailbox, host.email)] == ["Booking cancelled: Demo with Gus Guest"]


def test_idempotency_keys_work_for_team_bookings(client, team, make_team_type, db):
    make_team_type()
    body = {"start": at(local_day(DAY), "10:00").isoformat(), "name": "Gus", "email": "gus@example.com"}
    first = client.post(f"{TEAM}/demo/bookings", json=body, headers={"Idempotency-Key": "k1"})
    again = client.post(f"{TEAM}/demo/bookings", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert len(hosts_of(db)) == 1
