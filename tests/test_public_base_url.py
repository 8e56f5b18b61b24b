"""Every link the service writes starts with PUBLIC_BASE_URL, whatever Host (or forwarded
host and scheme) the request names: answers, emails sent by the real worker to the real SMTP
server (reminders included), the feed URL, booking links and the next-page Link."""

import re
from datetime import timedelta

import pytest

from scheduler import clock
from scheduler.config import ConfigError, Settings
from scheduler.delivery import emails as delivery
from tests.booking_links import at, host, local_day, make_type  # noqa: F401
from helpers import PRODUCTION

BASE = "https://book.example.test"
# What an attacker puts in a request so that links would lead to a server of theirs.
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture
def settings(settings):
    # Trusting a proxy as production does behind nginx: forwarded headers still name no link.
    return settings.replace(public_base_url=BASE, trusted_proxies=1)


def links_in(message):
    return LINK.findall(message.get_body(("plain",)).get_content() + message.get_body(("html",)).get_content())


def test_a_guest_booking_with_a_forged_host_gets_links_on_the_public_base_url(
        client, host, make_type, mailbox, worker, travel):
    make_type()
    start = at(local_day(3), "10:00")
    r = client.post("/api/v1/public/hana/intro/bookings", headers=FORGED,
                    json={"start": start.isoformat(), "name": "Gus Guest", "email": "gus@example.com"})
    assert r.status_code == 201, r.json
    manage_url = f"{BASE}/manage/{r.json['manage_token']}"
    assert r.json["manage_url"] == manage_url

    worker()
    [confirmation] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    assert links_in(confirmation) == [manage_url, manage_url]  # the text and the HTML part

    mailbox.clear()
    travel(start - timedelta(hours=24, minutes=-1) - clock.now())
    delivery.sweep(worker())
    worker()
    [reminder] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    assert reminder["Subject"].startswith("Reminder") and links_in(reminder) == [manage_url, manage_url]
    assert all("evil.example" not in m.as_string() for m in mailbox.received())


def test_feed_booking_and_next_page_urls_ignore_the_request_host(client, host):
    feed = client.post("/api/v1/users/me/calendar-feed", headers={**host.auth, **FORGED}).json["url"]
    assert re.fullmatch(re.escape(BASE) + r"/calendar/[A-Za-z0-9_-]{43}\.ics", feed)
    assert client.get(feed).status_code == 200

    created = client.post("/api/v1/event-types", headers={**host.auth, **FORGED},
                          json={"slug": "intro", "title": "Intro call", "duration": 30})
    assert created.json["event_type"]["booking_url"] == f"{BASE}/book/hana/intro"
    listed = client.get("/api/v1/event-types", headers={**host.auth, **FORGED}).json
    assert [t["booking_url"] for t in listed] == [f"{BASE}/book/hana/intro"]

    for hour in (9, 10):
        client.post("/api/v1/bookings", headers=host.auth, json={
            "title": "Solo", "start": at(local_day(2), f"{hour:02}:00").isoformat(),
            "end": at(local_day(2), f"{hour:02}:30").isoformat()})
    page = client.get("/api/v1/bookings?limit=1", headers={**host.auth, **FORGED})
    assert page.headers["Link"].startswith(f"<{BASE}/api/v1/bookings?")


def test_production_refuses_to_start_without_public_base_url():
    production = {key: value for key, value in PRODUCTION.items() if key != "PUBLIC_BASE_URL"}
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL is required in production"):
        Settings.from_mapping(production)
    assert Settings.from_mapping(production | {"PUBLIC_BASE_URL": f"{BASE}/"}).public_base_url == BASE


def test_outside_production_the_base_url_is_the_bind_address():
    assert Settings.from_mapping({"APP_ENV": "development"}).public_base_url == "http://127.0.0.1:8000"
    assert Settings.from_mapping({"APP_ENV": "test", "PORT": "8123"}).public_base_url == "http://127.0.0.1:8123"


@pytest.mark.parametrize("value, why", [
    ("book.example.com", "http:// or https://"), ("ftp://book.example.com", "http:// or https://"),
    ("https://book.example.com/?x=1", "query"), ("https://book.example.com/#top", "fragment"),
    ("https://user:pw@book.example.com", "user name or password"), ("https://book.example.com:0", "port"),
    ("https://book.example.com:99999", "ort"), ("https://book example.com", "spaces"),
])
def test_public_base_url_is_validated(value, why):
    with pytest.raises(ConfigError, match=why):
        Settings.from_mapping({"PUBLIC_BASE_URL": value})
