"""Text people read (titles, locations, descriptions, notes) refuses control characters, which
would start new lines in e-mail subjects and calendar files, and text-direction overrides, which
show other text than is stored; descriptions and notes keep their line breaks."""

import pytest

from helpers import slot
from tests.booking_links import GUEST, PUBLIC, TYPES, at, book, host, local_day, make_type  # noqa: F401

ONE_LINE = "must be one line, without control characters"
OVERRIDE = "must not contain text-direction overrides or isolates (U+202A-U+202E, U+2066-U+2069)"
UNSAFE_IN_ONE_LINE = [
    ("Review\r\nBcc: all@example.com", ONE_LINE),
    ("Review\nsecond line", ONE_LINE),
    ("Review\tnotes", ONE_LINE),
    ("Review\u2028next", ONE_LINE),      # line separator
    ("Review\x07", ONE_LINE),            # bell
    ("Pay \u202egnp.exe", OVERRIDE),     # right-to-left override
    ("\u202aReview\u202c", OVERRIDE),    # left-to-right embedding, pop
    ("Review \u2067x\u2069", OVERRIDE),  # right-to-left isolate, pop isolate
    ("\u2066Review", OVERRIDE),          # left-to-right isolate
]


@pytest.mark.parametrize("title, why", UNSAFE_IN_ONE_LINE)
def test_booking_titles_refuse_control_characters_and_overrides(client, alice, title, why):
    r = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title=title), headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {"title": why}
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title="Review"),
                          headers=alice.auth).json["booking"]
    r = client.patch(f"/api/v1/bookings/{booking['id']}", json={"title": title}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {"title": why}
    assert client.get(f"/api/v1/bookings/{booking['id']}", headers=alice.auth).json["title"] == "Review"


@pytest.mark.parametrize("field", ["title", "location"])
@pytest.mark.parametrize("text, why", UNSAFE_IN_ONE_LINE[:1] + UNSAFE_IN_ONE_LINE[5:6])
def test_event_type_titles_and_locations_are_one_line(client, alice, field, text, why):
    body = {"slug": "intro", "title": "Intro", "duration": 30, field: text}
    r = client.post(TYPES, json=body, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {field: why}
    created = client.post(TYPES, json=body | {field: "Fine"}, headers=alice.auth).json["event_type"]
    r = client.patch(f"{TYPES}/{created['id']}", json={field: text}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {field: why}


def test_descriptions_keep_line_breaks_but_not_overrides_or_other_controls(client, alice):
    body = {"slug": "intro", "title": "Intro", "duration": 30}
    r = client.post(TYPES, json=body | {"description": "Agenda:\r\n\t1. you\n\t2. me"}, headers=alice.auth)
    assert r.status_code == 201 and r.json["event_type"]["description"] == "Agenda:\r\n\t1. you\n\t2. me"
    created = r.json["event_type"]
    for text, why in (("Agenda \u202eevil", OVERRIDE),
                      ("Agenda\x1b[31m", "must not contain control characters other than line breaks and tabs")):
        r = client.patch(f"{TYPES}/{created['id']}", json={"description": text}, headers=alice.auth)
        assert r.status_code == 400 and r.json["fields"] == {"description": why}


def test_guest_notes_and_cancel_reasons_refuse_overrides(client, host, make_type):
    make_type()
    start = at(local_day(10), "10:00")
    r = book(client, start, notes="Hello \u202eevil")
    assert r.status_code == 400 and r.json["fields"] == {"notes": OVERRIDE}
    r = book(client, start, notes="Hello,\nsee you")
    assert r.status_code == 201
    token = r.json["manage_token"]
    r = client.post(f"{GUEST}/{token}/cancel", json={"reason": "Sorry \u2067x"})
    assert r.status_code == 400 and r.json["fields"] == {"reason": OVERRIDE}


def test_webhook_descriptions_refuse_overrides(client, alice):
    r = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["booking.created"],
                                              "description": "Ops \u202eevil"}, headers=alice.auth)
    assert r.status_code == 400 and r.json["fields"] == {"description": OVERRIDE}


def test_titles_keep_joined_emoji_and_scripts_that_need_joiners(client, alice):
    """Zero-width joiners and non-joiners are letters' business in Persian and Indic scripts
    and in emoji sequences; names refuse them, titles need not."""
    for title in ("\U0001f469\u200d\U0001f4bb Standup", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
                  "Caf\u00e9 \u2014 \u00bfqu\u00e9?"):
        r = client.post("/api/v1/bookings", json=slot("09:00", "10:00", title=title), headers=alice.auth)
        assert r.status_code == 201 and r.json["booking"]["title"] == title
        client.delete(f"/api/v1/bookings/{r.json['booking']['id']}", headers=alice.auth)
