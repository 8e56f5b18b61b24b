"""Embedding a booking page on the host's own site (docs/booking-links.md, "Embedding"): the
pages' frame-ancestors are exactly the type's embed_origins, /embed.js may be loaded from other
sites, and in headless Chromium a page served from another loopback origin embeds a person's
or a team's booking page, books through it and hears `scheduler:booked`, while a page whose
origin is not listed is refused its frame."""

import http.server
import threading

import pytest
from selenium.webdriver.common.by import By

from browser import wait_for
from tests.test_pages import WEEK, choose_and_book, css, host, offered, same_moment, show_day  # noqa: F401 (host is a fixture)

FRAME = "iframe[data-scheduler-frame]"


def frame_ancestors(response):
    [directive] = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")
                   if d.strip().startswith("frame-ancestors")]
    return directive.removeprefix("frame-ancestors ")


def set_origins(client, host, origins, slug="intro"):
    [event_type] = [t for t in client.get("/api/v1/event-types", headers=host.auth).json if t["slug"] == slug]
    r = client.patch(f"/api/v1/event-types/{event_type['id']}", json={"embed_origins": origins}, headers=host.auth)
    assert r.status_code == 200, r.json


def test_a_booking_page_is_framed_by_no_one_until_its_type_lists_origins(client, host):
    r = client.get("/book/hana/intro")
    assert frame_ancestors(r) == "'none'" and r.headers["X-Frame-Options"] == "DENY"
    assert 'data-embed-origins=""' in r.text

    set_origins(client, host, ["https://Shop.example:443", "http://localhost:8080"])
    r = client.get("/book/hana/intro")
    assert r.status_code == 200
    assert frame_ancestors(r) == "https://shop.example http://localhost:8080"
    assert "X-Frame-Options" not in r.headers
    # The rest of the policy is the pages' own.
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert 'data-embed-origins="https://shop.example http://localhost:8080"' in r.text

    set_origins(client, host, None)
    r = client.get("/book/hana/intro")
    assert frame_ancestors(r) == "'none'" and r.headers["X-Frame-Options"] == "DENY"


@pytest.fixture
def team_link(client, register, set_profile, org_of):
    """Makes Olga's team "acme" (Olga its one host, free 08:00-18:00 UTC every day) and its
    round-robin link /book/team/acme/demo, framed by `origins`; returns Olga."""
    def make(origins):
        owner = register("Olga")
        set_profile(owner, timezone="UTC", working_hours={day: [{"start": "08:00", "end": "18:00"}] for day in WEEK})
        org = org_of(owner)
        client.patch(f"/api/v1/organizations/{org['id']}", json={"slug": "acme"}, headers=owner.auth)
        r = client.post(f"/api/v1/organizations/{org['id']}/event-types", headers=owner.auth, json={
            "slug": "demo", "title": "Product demo", "duration": 30, "kind": "round_robin", "hosts": [owner.id],
            "embed_origins": origins})
        assert r.status_code == 201, r.json
        return owner
    return make


def test_a_team_page_is_framed_by_its_types_origins(client, team_link):
    team_link(["https://acme.example"])
    r = client.get("/book/team/acme/demo")
    assert r.status_code == 200
    assert frame_ancestors(r) == "https://acme.example" and "X-Frame-Options" not in r.headers


def test_manage_and_not_found_pages_are_framed_by_no_one(client, host):
    set_origins(client, host, ["https://shop.example"])
    for path in ("/manage/not-a-token", "/book/hana/nothing"):
        r = client.get(path)
        assert r.status_code == 404
        assert frame_ancestors(r) == "'none'" and r.headers["X-Frame-Options"] == "DENY"


def test_the_embed_script_may_be_loaded_by_other_sites(client):
    r = client.get("/embed.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert b"data-scheduler-embed" in r.data


class HostSite:
    """Another origin's site: a plain http.server at http://localhost:<port> (the app is at
    http://127.0.0.1:<port>, so they are different origins) serving pages that embed `path`."""

    def __init__(self, app_url):
        self.app_url = app_url
        self.pages = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = site.pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def embedding(self, name, path):
        self.pages[f"/{name}"] = f"""<!doctype html>
<html><head><title>Host site</title></head><body>
<h1>Book with us</h1>
<div id="booking-widget" data-scheduler-embed="{self.app_url}{path}"></div>
<script>
  window.booked = [];
  document.addEventListener("scheduler:booked", (event) => window.booked.push({{ on: event.target.id, detail: event.detail }}));
</script>
<script src="{self.app_url}/embed.js" async></script>
</body></html>"""
        return f"{self.origin}/{name}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_site(live_server):
    site = HostSite(live_server.url)
    yield site
    site.stop()


def book_in_frame(browser, client, page_url, owner):
    """Books a time through the booking page that the host site's page at `page_url` embeds,
    and checks that the frame follows the page's height, that the host's page hears
    `scheduler:booked` with the booking `owner` now has, and that the browser logged nothing."""
    browser.get_log("browser")
    browser.get(page_url)
    frame = wait_for(browser, lambda d: css(d, FRAME))[0]
    # The frame follows the page's height, as the page reports it.
    wait_for(browser, lambda d: frame.value_of_css_property("height") != "640px")

    browser.switch_to.frame(frame)
    show_day(browser)
    chosen = offered(browser)[1]
    choose_and_book(browser, chosen, "Grace Guest", "grace@example.com")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    height = browser.execute_script("return Math.ceil(document.documentElement.getBoundingClientRect().height)")
    browser.switch_to.default_content()

    [received] = wait_for(browser, lambda d: d.execute_script("return window.booked"))
    [booking] = client.get("/api/v1/bookings", headers=owner.auth).json
    assert received == {"on": "booking-widget", "detail": {
        "start": received["detail"]["start"], "end": received["detail"]["end"], "status": "confirmed"}}
    assert received["detail"]["start"] == chosen and same_moment(booking["start_time"], chosen)
    assert same_moment(booking["end_time"], received["detail"]["end"])
    wait_for(browser, lambda d: frame.value_of_css_property("height") == f"{height}px")
    # Nothing refused, failed or threw (but the host site's own missing favicon).
    assert [entry["message"] for entry in browser.get_log("browser") if "favicon.ico" not in entry["message"]] == []


def test_a_page_embedded_on_a_listed_origin_books_and_tells_the_host_page(browser, live_server, client, host,
                                                                           host_site):
    set_origins(client, host, [host_site.origin])
    book_in_frame(browser, client, host_site.embedding("book", "/book/hana/intro"), host)


def test_a_team_page_embedded_on_a_listed_origin_books_and_tells_the_host_page(browser, client, team_link,
                                                                                host_site):
    owner = team_link([host_site.origin])
    book_in_frame(browser, client, host_site.embedding("team", "/book/team/acme/demo"), owner)


def test_a_page_embedded_on_an_origin_not_listed_is_refused_by_the_browser(browser, live_server, client, host,
                                                                           host_site):
    set_origins(client, host, ["https://shop.example"])
    browser.get_log("browser")
    browser.get(host_site.embedding("refused", "/book/hana/intro"))
    frame = wait_for(browser, lambda d: css(d, FRAME))[0]
    browser.switch_to.frame(frame)
    # The browser puts its own error document in the frame instead of the page.
    wait_for(browser, lambda d: d.execute_script("return document.readyState === 'complete' && location.href"))
    assert browser.execute_script("return location.href") != live_server("/book/hana/intro")
    assert css(browser, "#booking") == []
    browser.switch_to.default_content()
    assert frame.value_of_css_property("height") == "640px"  # no page spoke to the host's
    assert browser.execute_script("return window.booked") == []
    assert any("frame-ancestors" in entry["message"] for entry in browser.get_log("browser"))
