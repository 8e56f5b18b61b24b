"""The booking and manage pages in headless Chromium against the real service: a guest books a
slot, sees it gone from the list, moves it and cancels it, at desktop and at phone width.

With SCREENSHOTS=<folder> set, the end-to-end test saves what the guest sees there
(`make screenshots` writes docs/screenshots/)."""

import os
import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from browser import DESKTOP, PHONE, set_time_zone, set_viewport, wait_for
from scheduler.booking_write import BookingWrite

# Half an hour off the host's UTC grid, so the guest's times are visibly not the host's
# (and a name Chromium's ICU spells as tzdata does: Asia/Kolkata would read Asia/Calcutta).
GUEST_ZONE = "America/St_Johns"
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
# The day buttons that can be chosen (days without free times are shown too, aria-disabled).
OFFERED_DAYS = "[data-days] button.choice:not([aria-disabled])"


@pytest.fixture
def host(client, register, set_profile):
    """Hana, free 08:00-18:00 UTC every day, with the booking link /book/hana/intro."""
    hana = register("Hana", email="hana@example.com")
    set_profile(hana, name="Hana Host", username="hana", timezone="UTC",
                working_hours={day: [{"start": "08:00", "end": "18:00"}] for day in WEEK})
    r = client.post("/api/v1/event-types", headers=hana.auth, json={
        "slug": "intro", "title": "Intro call", "duration": 30, "minimum_notice": 60,
        "description": "A first talk about your project.\nBring your questions.",
        "location": "Video call (the link comes with the invitation)",
    })
    assert r.status_code == 201, r.json
    return hana


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def text_of(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def offered(driver):
    """The start times (as the page got them) offered on the chosen day, once loaded."""
    buttons = wait_for(driver, lambda d: css(d, "[data-times] button.choice"))
    return [b.get_attribute("data-start") for b in buttons]


def show_day(driver, day=None, nth=1):
    """Shows the times of `day` (a day button's data-day), else of the `nth` day offered (by
    default the second: a whole working day, the first may be nearly over); returns the day shown."""
    days = wait_for(driver, lambda d: css(d, OFFERED_DAYS))
    button = driver.find_element(By.CSS_SELECTOR, f'[data-day="{day}"]') if day else days[nth]
    button.click()
    return button.get_attribute("data-day")


def choose_and_book(driver, start, name, email):
    """Chooses the offered `start` and books it as `name` <`email`>."""
    driver.find_element(By.CSS_SELECTOR, f'[data-start="{start}"]').click()
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "[data-submit]").click()


def wait_text(driver, selector, pattern):
    return wait_for(driver, lambda d: re.search(pattern, text_of(d, selector)) and text_of(d, selector))


def in_guest_zone(text):
    moment = datetime.fromisoformat(text)
    return moment.utcoffset() == moment.astimezone(ZoneInfo(GUEST_ZONE)).utcoffset() and moment.minute in (0, 30)


def same_moment(a, b):
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


def host_bookings(client, host):
    r = client.get("/api/v1/bookings", headers=host.auth)
    assert r.status_code == 200, r.json
    return r.json


def screenshot(driver, name, size):
    """The whole page at this width, when SCREENSHOTS names a folder."""
    folder = os.environ.get("SCREENSHOTS")
    if not folder:
        return
    width, height = size
    set_viewport(driver, (width, max(height, driver.execute_script("return document.documentElement.scrollHeight"))))
    driver.execute_script("document.activeElement.blur()")
    Path(folder).mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(Path(folder) / f"{name}-{'phone' if size == PHONE else 'desktop'}.png"))
    set_viewport(driver, size)


@SIZES
def test_a_guest_books_a_slot_moves_it_and_cancels_it(browser, live_server, client, host, worker, mailbox, size):
    browser.get_log("browser")  # reading empties it: from here on, this test's messages only
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/intro"))
    assert text_of(browser, "h1") == "Intro call"
    assert "Hana Host" in text_of(browser, ".event") and "30 minutes" in text_of(browser, ".event")
    assert browser.find_element(By.ID, "zone").get_attribute("value") == GUEST_ZONE

    day = show_day(browser)
    starts = offered(browser)
    assert all(in_guest_zone(start) for start in starts)
    chosen = starts[1]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{chosen}"]').click()
    browser.find_element(By.ID, "name").send_keys("Grace Guest")
    browser.find_element(By.ID, "email").send_keys("grace@example.com")
    browser.find_element(By.ID, "notes").send_keys("About the <b>roadmap</b>")
    assert "You picked" in text_of(browser, "[data-chosen]")
    screenshot(browser, "booking", size)
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()

    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert "grace@example.com" in text_of(browser, "[data-confirmation]")
    manage_url = browser.find_element(By.CSS_SELECTOR, "[data-manage-link]").get_attribute("href")
    assert manage_url.startswith(live_server("/manage/"))
    screenshot(browser, "booked", size)
    [booked] = host_bookings(client, host)
    assert same_moment(booked["start_time"], chosen) and booked["guest"]["name"] == "Grace Guest"

    browser.refresh()
    show_day(browser, day)
    assert chosen not in offered(browser)

    browser.get(manage_url)
    wait_text(browser, "[data-state]", "Booked for Grace Guest")
    assert text_of(browser, "h1") == "Intro call"
    show_day(browser, day)
    new_start = offered(browser)[2]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{new_start}"]').click()
    screenshot(browser, "manage", size)
    browser.find_element(By.CSS_SELECTOR, "[data-move]").click()
    wait_text(browser, "[data-done]", "moved to")
    [booking] = host_bookings(client, host)
    assert same_moment(booking["start_time"], new_start) and booking["id"] == booked["id"]
    show_day(browser, day)
    assert new_start not in offered(browser) and chosen in offered(browser)

    browser.find_element(By.ID, "reason").send_keys("Something came up")
    browser.find_element(By.CSS_SELECTOR, "[data-cancel-form] button").click()
    confirm_cancel(browser)
    wait_text(browser, "[data-state]", "cancelled")
    assert not browser.find_element(By.CSS_SELECTOR, "[data-actions]").is_displayed()
    [booking] = host_bookings(client, host)
    assert booking["status"] == "cancelled"
    browser.get(live_server("/book/hana/intro"))
    show_day(browser, day)
    assert new_start in offered(browser)

    # Nothing the pages did was refused by their Content-Security-Policy, failed or threw.
    assert [entry["message"] for entry in browser.get_log("browser")] == []

    worker()
    to_guest = [m for m in mailbox.received() if m["To"] == "grace@example.com"]
    assert len(to_guest) >= 3  # booked, moved, cancelled


def in_words(moment):
    """What any wording of `moment`'s date in the guest's zone names: weekday, month, day."""
    local = moment.astimezone(ZoneInfo(GUEST_ZONE))
    return (f"{local:%A}", f"{local:%B}", str(local.day))


def says_date(text, moment):
    return all(word in text for word in in_words(moment))


@SIZES
def test_a_guest_books_a_series_skips_a_taken_week_and_cancels_the_later_ones(browser, live_server, client, host,
                                                                              size):
    """Weekly, 4 times, the second week already taken by the host: the page lists that date and
    why, books the other 3 on request and lists them; the third's manage page cancels it and
    the fourth."""
    r = client.post("/api/v1/event-types", headers=host.auth, json={
        "slug": "coaching", "title": "Coaching", "duration": 30, "max_occurrences": 4})
    assert r.status_code == 201, r.json
    browser.get_log("browser")
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/coaching"))
    show_day(browser)
    chosen = offered(browser)[1]
    first = datetime.fromisoformat(chosen)
    weeks = [first + timedelta(weeks=n) for n in range(4)]
    r = client.post("/api/v1/bookings", headers=host.auth, json={
        "title": "Own", "start": weeks[1].isoformat(), "end": (weeks[1] + timedelta(minutes=30)).isoformat()})
    assert r.status_code == 201, r.json

    browser.find_element(By.CSS_SELECTOR, f'[data-start="{chosen}"]').click()
    assert not browser.find_element(By.ID, "count").is_displayed()
    Select(browser.find_element(By.ID, "repeat")).select_by_visible_text("Every week")
    Select(browser.find_element(By.ID, "count")).select_by_visible_text("4")
    assert text_of(browser, "[data-chosen]").endswith(", every week, 4 times.")
    browser.find_element(By.ID, "name").send_keys("Grace Guest")
    browser.find_element(By.ID, "email").send_keys("grace@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()

    wait_text(browser, "[data-alert]", "1 of the 4 dates can't be booked, so nothing is booked yet")
    assert browser.switch_to.active_element.get_attribute("data-alert") is not None
    [refused] = [item.text for item in css(browser, "[data-conflict-dates] li")]
    assert says_date(refused, weeks[1]) and refused.endswith("already taken")
    book_free = browser.find_element(By.CSS_SELECTOR, "[data-book-free]")
    assert book_free.text == "Book the other 3"
    assert len(host_bookings(client, host)) == 1
    screenshot(browser, "series-conflict", size)
    book_free.click()

    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert browser.switch_to.active_element.get_attribute("data-confirmation") is not None
    assert "Coaching with Hana Host, on 3 dates" in text_of(browser, "[data-confirmation]")
    links = css(browser, "[data-booked-dates] a")
    assert [says_date(link.text, week) for link, week in zip(links, (weeks[0], *weeks[2:]))] == [True] * 3
    [skipped] = [item.text for item in css(browser, "[data-skipped-dates] li")]
    assert says_date(skipped, weeks[1]) and skipped.endswith("already taken")
    screenshot(browser, "series-booked", size)
    series = [b for b in host_bookings(client, host) if b["series_id"]]
    assert [(b["occurrence"], b["status"]) for b in series] == [(1, "confirmed"), (3, "confirmed"), (4, "confirmed")]
    assert [datetime.fromisoformat(b["start_time"]) for b in series] == [weeks[0], weeks[2], weeks[3]]

    browser.get(links[1].get_attribute("href"))
    wait_text(browser, "[data-state]", "Booked for Grace Guest")
    assert text_of(browser, "[data-series]") == "Part of a series (occurrence 3)."
    assert says_date(text_of(browser, "[data-when]"), weeks[2])
    offered(browser)  # the page at its full height
    screenshot(browser, "series-manage", size)
    browser.find_element(By.XPATH, "//button[text()='Cancel this and later ones']").click()
    confirm_cancel(browser)
    wait_text(browser, "[data-done]", "2 bookings are cancelled: this one and the 1 after it.")
    wait_text(browser, "[data-state]", "This booking is cancelled.")
    statuses = {b["occurrence"]: b["status"] for b in host_bookings(client, host) if b["series_id"]}
    assert statuses == {1: "confirmed", 3: "cancelled", 4: "cancelled"}
    # Nothing failed or threw but the first try, which Chromium logs as a failed request.
    [refusal] = [entry["message"] for entry in browser.get_log("browser")]
    assert "/coaching/bookings" in refusal and "409" in refusal


def test_a_cancelled_first_date_s_page_still_cancels_the_later_ones(browser, live_server, client, host):
    """The series' confirmation email links to its first date: cancelled, its page still offers
    the dates after it."""
    r = client.post("/api/v1/event-types", headers=host.auth, json={
        "slug": "coaching", "title": "Coaching", "duration": 30, "max_occurrences": 3})
    assert r.status_code == 201, r.json
    day = datetime.now(timezone.utc).date() + timedelta(days=10)
    r = client.post("/api/v1/public/hana/coaching/bookings", json={
        "start": f"{day.isoformat()}T10:00:00Z", "name": "Gus Guest", "email": "gus@example.com",
        "recurrence": {"freq": "weekly", "count": 3}})
    assert r.status_code == 201, r.json
    browser.get(live_server(f"/manage/{r.json['manage_token']}"))
    wait_text(browser, "[data-state]", "Booked for Gus Guest")
    browser.find_element(By.XPATH, "//button[text()='Cancel this one']").click()
    confirm_cancel(browser)
    wait_text(browser, "[data-state]", "This booking is cancelled.")
    later = browser.find_element(By.XPATH, "//button[text()='Cancel the 2 later ones']")
    assert later.is_displayed() and not browser.find_element(By.CSS_SELECTOR, "[data-reschedule]").is_displayed()
    later.click()
    confirm_cancel(browser)
    wait_text(browser, "[data-done]", "2 later bookings are cancelled.")
    assert {b["status"] for b in host_bookings(client, host) if b["series_id"]} == {"cancelled"}
    assert not browser.find_element(By.CSS_SELECTOR, "[data-actions]").is_displayed()


def test_repeating_is_offered_only_where_the_link_takes_series(browser, live_server, client, host):
    browser.get(live_server("/book/hana/intro"))  # max_occurrences 1
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{offered(browser)[0]}"]').click()
    assert "You picked" in text_of(browser, "[data-chosen]")
    assert css(browser, "#repeat") == [] and css(browser, "#count") == []
    r = client.post("/api/v1/event-types", headers=host.auth,
                    json={"slug": "coaching", "title": "Coaching", "duration": 30, "max_occurrences": 3})
    assert r.status_code == 201, r.json
    browser.get(live_server("/book/hana/coaching"))
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{offered(browser)[0]}"]').click()
    repeat = Select(browser.find_element(By.ID, "repeat"))
    assert [o.text for o in repeat.options] == ["Does not repeat", "Every week", "Every 2 weeks", "Every month"]
    assert [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "count")).options] == ["2", "3"]


def test_a_series_the_link_cannot_take_is_refused_in_words(browser, live_server, client, host):
    r = client.post("/api/v1/event-types", headers=host.auth,
                    json={"slug": "coaching", "title": "Coaching", "duration": 30, "max_occurrences": 14})
    assert r.status_code == 201, r.json
    browser.get(live_server("/book/hana/coaching"))
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{offered(browser)[0]}"]').click()
    Select(browser.find_element(By.ID, "repeat")).select_by_visible_text("Every month")
    Select(browser.find_element(By.ID, "count")).select_by_visible_text("14")
    browser.find_element(By.ID, "name").send_keys("Max")
    browser.find_element(By.ID, "email").send_keys("max@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    wait_text(browser, "[data-alert]", "That series can't be booked: .*more than a year. Try fewer times.")
    assert browser.switch_to.active_element.get_attribute("data-alert") is not None
    assert host_bookings(client, host) == []


def test_a_single_booking_s_manage_page_offers_one_cancel(browser, live_server, client, host):
    r = client.post("/api/v1/public/hana/intro/bookings",
                    json={"start": offered_via_api(client, "intro"), "name": "Sam", "email": "sam@example.com"})
    assert r.status_code == 201, r.json
    browser.get(live_server(f"/manage/{r.json['manage_token']}"))
    wait_text(browser, "[data-state]", "Booked for Sam")
    buttons = [b.text for b in css(browser, "[data-cancel-form] button") if b.is_displayed()]
    assert buttons == ["Cancel booking"] and not browser.find_element(By.CSS_SELECTOR, "[data-series]").is_displayed()


def confirm_cancel(driver):
    """Answers yes in the dialog that asks before a cancel."""
    wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirm-cancel]").is_displayed())
    driver.find_element(By.CSS_SELECTOR, "[data-confirm-yes]").click()


def tab_to(driver, wanted, presses=80):
    """Presses Tab until the focused element is `wanted(element)`; returns it."""
    for _ in range(presses):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        element = driver.switch_to.active_element
        if wanted(element):
            return element
    raise AssertionError("not reached by Tab")


def test_the_booking_page_works_by_keyboard_alone(browser, live_server, client, host):
    set_viewport(browser, PHONE)
    browser.get(live_server("/book/hana/intro"))
    offered(browser)
    second_day = css(browser, OFFERED_DAYS)[1].get_attribute("data-day")
    tab_to(browser, lambda e: e.get_attribute("data-day") == second_day).send_keys(Keys.ENTER)
    first = offered(browser)[0]
    slot = tab_to(browser, lambda e: e.get_attribute("data-start") == first)
    assert browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle") != "none"
    slot.send_keys(Keys.SPACE)
    # The form's first field is next, without a Tab through the remaining times.
    assert browser.switch_to.active_element.get_attribute("id") == "name"
    browser.switch_to.active_element.send_keys("Kim Keys")
    tab_to(browser, lambda e: e.get_attribute("id") == "email").send_keys("kim@example.com")
    tab_to(browser, lambda e: e.get_attribute("data-submit") is not None).send_keys(Keys.ENTER)
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert browser.switch_to.active_element.get_attribute("data-confirmation") is not None
    [booking] = host_bookings(client, host)
    assert same_moment(booking["start_time"], first)


@SIZES
def test_days_without_free_times_say_why_and_cannot_be_chosen(browser, live_server, client, host, db, size):
    """A date the host closed, a date they are away and a date whose daily limit is reached
    each show their reason in the guest's zone; the days between still offer times."""
    r = client.post("/api/v1/event-types", headers=host.auth,
                    json={"slug": "daily", "title": "Daily check-in", "duration": 30, "daily_limit": 1})
    assert r.status_code == 201, r.json
    today = datetime.now(timezone.utc).date()
    closed, away, full = (today + timedelta(days=n) for n in (3, 5, 7))
    guest_zone = ZoneInfo(GUEST_ZONE)
    with db.cursor() as cur:
        cur.execute("INSERT INTO schedule_overrides (schedule_id, day, hours) "
                    "SELECT id, %s, '[]' FROM schedules WHERE user_id = %s AND is_default", (closed, host.id))
        # The whole of the guest's date (it holds all of the host's UTC hours of that date).
        cur.execute("INSERT INTO time_off (user_id, start_time, end_time) VALUES (%s, %s, %s)",
                    (host.id, datetime.combine(away, time(0), guest_zone),
                     datetime.combine(away + timedelta(days=1), time(0), guest_zone)))
    r = client.post("/api/v1/public/hana/daily/bookings", json={
        "start": datetime.combine(full, time(12), timezone.utc).isoformat(),
        "name": "Early", "email": "early@example.com"})
    assert r.status_code == 201, r.json

    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/daily"))
    times = offered(browser)  # the first day offered's, chosen on load
    chosen = text_of(browser, '[data-days] [aria-pressed="true"]')
    # Reached by Tab, so a keyboard or screen reader user hears why; Enter chooses nothing.
    tab_to(browser, lambda e: e.get_attribute("data-day") == closed.isoformat()).send_keys(Keys.ENTER)
    for day, reason in {closed: "Closed", away: "Away", full: "Fully booked"}.items():
        chip = browser.find_element(By.CSS_SELECTOR, f'[data-day="{day.isoformat()}"]')
        assert chip.get_attribute("aria-disabled") == "true" and chip.get_attribute("aria-pressed") is None
        assert reason in chip.text and reason in chip.accessible_name
        chip.click()
        assert offered(browser) == times and text_of(browser, '[data-days] [aria-pressed="true"]') == chosen

    shown = [chip.get_attribute("data-day") for chip in css(browser, "[data-days] button.choice")]
    assert shown == sorted(shown)
    for day in (closed + timedelta(days=1), away + timedelta(days=1)):
        show_day(browser, day.isoformat())
        assert offered(browser) and all(in_guest_zone(start) for start in offered(browser))
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def zone_options(driver):
    """The zones the time-zone list shows, in order, once it is open."""
    return wait_for(driver, lambda d: d.execute_script(
        "const list = document.getElementById('zone-options');"
        "return !list.hidden && [...list.querySelectorAll('[role=option][data-value]')].map(o => o.dataset.value)"))


def option_text(driver, zone):
    return driver.execute_script(
        "return document.querySelector(`#zone-options [data-value='${arguments[0]}']`).textContent", zone)


def in_zone(text, zone):
    moment = datetime.fromisoformat(text)
    return moment.utcoffset() == moment.astimezone(ZoneInfo(zone)).utcoffset()


def test_another_time_zone_shows_the_times_in_that_zone(browser, live_server, host):
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/intro"))
    try:
        before = offered(browser)
        zone = browser.find_element(By.ID, "zone")
        zone.click()  # selects the name: typing replaces it
        zone.send_keys("tokyo")
        wait_for(browser, lambda d: zone_options(d) == ["Asia/Tokyo"])
        assert zone.get_attribute("aria-expanded") == "true"
        assert zone.get_attribute("aria-activedescendant") == "zone-option-0"
        zone.send_keys(Keys.ENTER)
        after = wait_for(browser, lambda d: (starts := offered(d)) != before and starts)
        assert all(start.endswith("+09:00") for start in after)
        assert "(Asia/Tokyo)" in text_of(browser, "[data-times-legend]")
        assert zone.get_attribute("value") == "Asia/Tokyo" and zone.get_attribute("aria-expanded") == "false"
    finally:
        browser.execute_script("sessionStorage.clear()")


@SIZES
def test_the_time_zone_picker_searches_shows_offsets_and_keeps_the_choice(browser, live_server, host, size):
    """The browser's zone first, then common ones; typing narrows; each shows its offset and
    the time there now; the choice changes the times and is kept across a reload."""
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/intro"))
    try:
        before = offered(browser)
        zone = browser.find_element(By.ID, "zone")
        assert zone.get_attribute("value") == GUEST_ZONE
        assert re.fullmatch(r"UTC-0[23]:30, now \d{1,2}:\d{2}( [AP]M)?", text_of(browser, "#zone-now"))
        zone.click()
        everything = zone_options(browser)
        if os.environ.get("SCREENSHOTS"):  # the list open: screenshot() would blur the input and close it
            browser.save_screenshot(str(Path(os.environ["SCREENSHOTS"]) / f"time-zones-{'phone' if size == PHONE else 'desktop'}.png"))
        assert everything[0] == GUEST_ZONE
        assert everything[1:4] == ["UTC", "America/Los_Angeles", "America/Denver"]  # then common zones
        assert len(everything) > 300 and len(set(everything)) == len(everything)
        assert re.fullmatch(r"America/St_Johns \(UTC-0[23]:30, \d{1,2}:\d{2}( [AP]M)?\)", option_text(browser, GUEST_ZONE))
        assert option_text(browser, "UTC").startswith("UTC (UTC+00:00, ")

        zone.send_keys("berl")
        wait_for(browser, lambda d: zone_options(d) == ["Europe/Berlin"])
        assert re.fullmatch(r"Europe/Berlin \(UTC\+0[12]:00, \d{1,2}:\d{2}( [AP]M)?\)", option_text(browser, "Europe/Berlin"))
        browser.find_element(By.CSS_SELECTOR, "#zone-options [data-value='Europe/Berlin']").click()
        after = wait_for(browser, lambda d: (starts := offered(d)) != before and starts)
        assert all(in_zone(start, "Europe/Berlin") for start in after)
        assert zone.get_attribute("value") == "Europe/Berlin"
        assert re.fullmatch(r"UTC\+0[12]:00, now \d{1,2}:\d{2}( [AP]M)?", text_of(browser, "#zone-now"))

        browser.refresh()
        kept = offered(browser)
        assert browser.find_element(By.ID, "zone").get_attribute("value") == "Europe/Berlin"
        assert all(in_zone(start, "Europe/Berlin") for start in kept)
        browser.find_element(By.ID, "zone").click()
        assert zone_options(browser)[0] == GUEST_ZONE  # still the browser's first
    finally:
        browser.execute_script("sessionStorage.clear()")


def test_every_form_control_has_a_label(browser, live_server, host):
    browser.get(live_server("/book/hana/intro"))
    offered(browser)
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')].filter(e => !e.labels.length).map(e => e.id)")
    assert unlabelled == []


def test_a_slot_taken_meanwhile_is_said_and_the_list_refreshed(browser, live_server, client, host):
    browser.get(live_server("/book/hana/intro"))
    day = show_day(browser)
    chosen = offered(browser)[0]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{chosen}"]').click()
    r = client.post("/api/v1/public/hana/intro/bookings",
                    json={"start": chosen, "name": "Quick", "email": "quick@example.com"})
    assert r.status_code == 201, r.json
    browser.find_element(By.ID, "name").send_keys("Slow")
    browser.find_element(By.ID, "email").send_keys("slow@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    wait_text(browser, "[data-alert]", "no longer available. The free times are updated")
    assert browser.find_element(By.CSS_SELECTOR, "[data-alert]").get_attribute("role") == "alert"
    wait_text(browser, "[data-slots-status]", "free times on")
    show_day(browser, day)
    assert chosen not in offered(browser)
    assert len(host_bookings(client, host)) == 1


def test_a_time_no_longer_offered_is_said_with_the_reason(browser, live_server, client, host, set_profile):
    browser.get(live_server("/book/hana/intro"))
    chosen = offered(browser)[0]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{chosen}"]').click()
    set_profile(host, working_hours={})  # the host stops working meanwhile
    browser.find_element(By.ID, "name").send_keys("Late")
    browser.find_element(By.ID, "email").send_keys("late@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    wait_text(browser, "[data-alert]", "That time can't be booked: .+working hours")
    wait_text(browser, "[data-slots-status]", "No free times")
    assert host_bookings(client, host) == []


def test_field_errors_from_the_api_are_shown_beside_the_field(browser, live_server, client, host):
    browser.get(live_server("/book/hana/intro"))
    choose_and_book(browser, offered(browser)[0], "Typo", "not-an-address")
    wait_text(browser, "#email-error", ".")
    email = browser.find_element(By.ID, "email")
    assert email.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == email
    assert host_bookings(client, host) == []


def test_text_from_the_host_and_the_guest_is_shown_as_text(browser, live_server, client, host):
    markup = '<img src=x onerror="document.title=\'owned\'">'
    r = client.post("/api/v1/event-types", headers=host.auth,
                    json={"slug": "markup", "title": f"Call {markup}", "duration": 30, "description": markup})
    assert r.status_code == 201, r.json
    start = offered_via_api(client, "markup")
    r = client.post("/api/v1/public/hana/markup/bookings", json={"start": start, "name": f"Eve {markup}", "email": "eve@example.com"})
    assert r.status_code == 201, r.json
    browser.get(live_server("/book/hana/markup"))
    offered(browser)
    assert text_of(browser, "h1") == f"Call {markup}" and css(browser, "img") == []
    browser.get(live_server(f"/manage/{r.json['manage_token']}"))
    wait_text(browser, "[data-state]", "Booked for")
    assert markup in text_of(browser, "[data-state]") and css(browser, "img") == []
    assert browser.title != "owned"


def offered_via_api(client, slug):
    """A start offered tomorrow (never one that the minimum notice could overtake)."""
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    r = client.get(f"/api/v1/public/hana/{slug}/slots",
                   query_string={"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=7)).isoformat()})
    assert r.status_code == 200, r.json
    return r.json["slots"][0]["start"]


class TestRateLimited:
    @pytest.fixture
    def settings(self, settings):
        return settings.replace(public_rate_limit=1)

    def test_a_guest_over_the_limit_is_told_how_long_to_wait(self, browser, live_server, client, host):
        browser.get(live_server("/book/hana/intro"))
        show_day(browser)
        starts = offered(browser)
        r = client.post("/api/v1/public/hana/intro/bookings",
                        json={"start": starts[0], "name": "First", "email": "first@example.com"})
        assert r.status_code == 201, r.json
        choose_and_book(browser, starts[1], "Second", "second@example.com")
        wait_text(browser, "[data-alert]", r"Try again in \d+ seconds")
        assert len(host_bookings(client, host)) == 1


def test_the_manage_token_stays_out_of_the_request_log(client, host, caplog):
    caplog.set_level("INFO", logger="scheduler.request")
    token = client.post("/api/v1/public/hana/intro/bookings", json={
        "start": offered_via_api(client, "intro"), "name": "Gus", "email": "gus@example.com"}).json["manage_token"]
    for path in (f"/manage/{token}", f"/api/v1/guest-bookings/{token}", f"/manage//{token}"):
        client.get(path)
    assert token not in caplog.text
    assert "GET /manage/[token] 200" in caplog.text and "GET /api/v1/guest-bookings/[token] 200" in caplog.text


def test_unknown_links_are_a_404_page(client, host):
    for path in ("/book/nobody/intro", "/book/hana/nothing", "/book/team/nobody/demo", "/manage/not-a-token"):
        r = client.get(path)
        assert r.status_code == 404 and r.mimetype == "text/html", path
        assert b"Not found" in r.data


def test_other_addresses_under_the_pages_are_the_404_page_and_the_api_s_stay_json(client, host):
    for path in ("/book/", "/book/x", "/book/team/x", "/book/a/b/c", "/book/team/a/b/c", "/manage/",
                 "/manage/x/y", "/book"):
        r = client.get(path, follow_redirects=True)
        assert r.status_code == 404 and r.mimetype == "text/html", path
        assert b"Not found" in r.data and "script-src 'self'" in r.headers["Content-Security-Policy"], path
    for path in ("/api/v1/nothing", "/api/v1/public/hana", "/api/v1/guest-bookings/", "/nothing"):
        r = client.get(path)
        assert r.status_code == 404 and r.json == {"error": "Route not found"}, path


def test_pages_allow_scripts_and_calls_only_from_their_own_origin(client, host):
    r = client.get("/book/hana/intro")
    assert r.status_code == 200
    policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "connect-src 'self'" in policy
    for asset in re.findall(rb'(?:src|href)="(/static/pages/[^"]+)"', r.data):
        assert client.get(asset.decode()).status_code == 200
    assert b"http://" not in r.data and b"https://" not in r.data


@SIZES
def test_a_guest_books_a_team_and_sees_who_takes_it(browser, live_server, client, register, set_profile, org_of,
                                                     size):
    """A round-robin team page: the team's name and hosts, a time, the details, the host who took it."""
    owner = register("Olga")
    hosts = [register(name, email=f"{name.split()[0].lower()}@example.com") for name in ("Ann Host", "Ben Host")]
    for person in (owner, *hosts):
        set_profile(person, timezone="UTC", working_hours={day: [{"start": "08:00", "end": "18:00"}] for day in WEEK})
    org = org_of(owner, *hosts)
    assert client.patch(f"/api/v1/organizations/{org['id']}", json={"slug": "acme"},
                        headers=owner.auth).status_code == 200
    r = client.post(f"/api/v1/organizations/{org['id']}/event-types", headers=owner.auth, json={
        "slug": "demo", "title": "Product demo", "duration": 30, "kind": "round_robin",
        "hosts": [h.id for h in hosts]})
    assert r.status_code == 201, r.json
    browser.get_log("browser")
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/team/acme/demo"))
    assert text_of(browser, "h1") == "Product demo"
    assert "Team" in text_of(browser, ".event") and "With Ann Host or Ben Host" in text_of(browser, ".event")

    show_day(browser)
    chosen = offered(browser)[1]
    choose_and_book(browser, chosen, "Grace Guest", "grace@example.com")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert "Product demo with Ann Host" in text_of(browser, "[data-confirmation]")
    screenshot(browser, "team-booked", size)
    [booked] = host_bookings(client, hosts[0])
    assert same_moment(booked["start_time"], chosen)

    browser.get(browser.find_element(By.CSS_SELECTOR, "[data-manage-link]").get_attribute("href"))
    wait_text(browser, "[data-host]", "With Ann Host")
    assert [entry["message"] for entry in browser.get_log("browser")] == []


# Requests, seats and notices (issue 22)

def make_type(client, host, slug, **fields):
    r = client.post("/api/v1/event-types", headers=host.auth,
                    json={"slug": slug, "title": slug.title(), "duration": 30} | fields)
    assert r.status_code == 201, r.json
    return r.json["event_type"]


def shown(driver, selector):
    """The texts of the elements `selector` finds that are displayed."""
    return [element.text for element in css(driver, selector) if element.is_displayed()]


def short_words(moment):
    """What a short wording of `moment`'s date in the guest's zone names: Tue, Dec, 15."""
    local = moment.astimezone(ZoneInfo(GUEST_ZONE))
    return (f"{local:%a}", f"{local:%b}", str(local.day))


@SIZES
def test_a_guest_requests_a_time_and_sees_it_wait_for_the_host(browser, live_server, client, host, size):
    """A type that requires confirmation: the page says the host confirms and what the notices
    are, the button asks, and the confirmation and manage page say the request waits; once the
    host confirms it, the manage page offers to move it."""
    make_type(client, host, "consult", title="Consultation", requires_confirmation=True, cancel_notice=1440,
              reschedule_notice=90)
    browser.get_log("browser")
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/consult"))
    policy = text_of(browser, "[data-policy]")
    assert "Hana Host confirms each booking: you send a request" in policy
    # Moving gives up the time booked: it closes with cancelling, at the longer notice.
    assert "You can cancel or reschedule up to 1 day before the start." in policy
    # The third day offered: a start on the second can be less than a day away, inside the notice
    # to move it (run after about 08:00 UTC, the test failed).
    show_day(browser, nth=2)
    chosen = offered(browser)[1]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{chosen}"]').click()
    browser.find_element(By.ID, "name").send_keys("Grace Guest")
    browser.find_element(By.ID, "email").send_keys("grace@example.com")
    assert text_of(browser, "[data-submit]") == "Request this time"
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()

    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert browser.switch_to.active_element.get_attribute("data-confirmation") is not None
    assert text_of(browser, "[data-confirmation-heading]") == "Request sent — waiting for Hana Host to confirm"
    confirmation = text_of(browser, "[data-confirmation]")
    assert "Consultation with Hana Host" in confirmation and "grace@example.com" in confirmation
    assert "not a booking yet" in confirmation and "A confirmation is on its way" not in confirmation
    [manage_link] = [a for a in css(browser, "[data-manage-link]") if a.is_displayed()]
    assert manage_link.text == "manage your request"
    screenshot(browser, "request-sent", size)
    [booked] = host_bookings(client, host)
    assert booked["status"] == "pending" and same_moment(booked["start_time"], chosen)

    browser.get(manage_link.get_attribute("href"))
    wait_text(browser, "[data-state]", "Requested for Grace Guest .*: waiting for Hana Host to confirm.")
    notes = text_of(browser, "[data-why-not]")
    assert "A request can be rescheduled once Hana Host confirms it." in notes
    assert "You can withdraw it here until" in notes
    assert not browser.find_element(By.CSS_SELECTOR, "[data-reschedule]").is_displayed()
    assert shown(browser, "[data-cancel-form] button") == ["Withdraw request"]

    r = client.post(f"/api/v1/bookings/{booked['id']}/confirm", headers=host.auth)
    assert r.status_code == 200, r.json
    browser.refresh()
    wait_text(browser, "[data-state]", "Booked for Grace Guest")
    assert offered(browser)  # the times to move to, now that it may move
    notes = text_of(browser, "[data-why-not]")
    assert "You can cancel here until" in notes and "You can move it to another time here until" in notes
    assert shown(browser, "[data-cancel-form] button") == ["Cancel booking"]
    assert [entry["message"] for entry in browser.get_log("browser")] == []


def test_a_guest_withdraws_a_request(browser, live_server, client, host):
    make_type(client, host, "consult", requires_confirmation=True)
    r = client.post("/api/v1/public/hana/consult/bookings",
                    json={"start": offered_via_api(client, "consult"), "name": "Wes", "email": "wes@example.com"})
    assert r.status_code == 201 and r.json["booking"]["status"] == "pending", r.json
    browser.get(live_server(f"/manage/{r.json['manage_token']}"))
    wait_text(browser, "[data-state]", "waiting for Hana Host to confirm")
    assert text_of(browser, "[data-cancel-form] h2") == "Withdraw the request"
    browser.find_element(By.XPATH, "//button[text()='Withdraw request']").click()
    confirm_cancel(browser)
    wait_text(browser, "[data-done]", "Your request is withdrawn.")
    wait_text(browser, "[data-state]", "This booking is cancelled.")
    assert not browser.find_element(By.CSS_SELECTOR, "[data-actions]").is_displayed()
    assert [b["status"] for b in host_bookings(client, host)] == ["cancelled"]


def test_a_declined_and_an_expired_request_say_so_and_offer_nothing(browser, live_server, client, host, worker,
                                                                   travel):
    make_type(client, host, "consult", requires_confirmation=True, confirmation_hours=1)
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    r = client.get("/api/v1/public/hana/consult/slots",
                   query_string={"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=7)).isoformat()})
    starts = [slot["start"] for slot in r.json["slots"][:2]]
    tokens = []
    for start, name in zip(starts, ("Dee", "Eli")):
        r = client.post("/api/v1/public/hana/consult/bookings",
                        json={"start": start, "name": name, "email": f"{name.lower()}@example.com"})
        assert r.status_code == 201, r.json
        tokens.append(r.json["manage_token"])
    declined = next(b for b in host_bookings(client, host) if b["guest"]["name"] == "Dee")
    assert client.post(f"/api/v1/bookings/{declined['id']}/decline", headers=host.auth).status_code == 200
    runtime = worker()
    travel(timedelta(hours=1, seconds=1))  # the live server shares this process's clock
    assert BookingWrite(runtime).expire_requests(limit=10) == 1

    for token, state in zip(tokens, ("Hana Host declined this request.",
                                     "This request expired: Hana Host did not confirm it in time.")):
        browser.get(live_server(f"/manage/{token}"))
        wait_text(browser, "[data-state]", re.escape(state))
        assert not browser.find_element(By.CSS_SELECTOR, "[data-actions]").is_displayed()
        assert not browser.find_element(By.CSS_SELECTOR, "[data-why-not]").is_displayed()


@SIZES
def test_a_seated_type_shows_the_seats_left_and_a_seat_is_not_moved(browser, live_server, client, host, size):
    """Each time says how many seats are left (in its accessible name too); the confirmation says
    how many are still free; a seat's manage page says it can't be moved, only cancelled."""
    make_type(client, host, "workshop", title="Workshop", duration=60, seats=5, cancel_notice=120,
              reschedule_notice=60)
    day = datetime.now(timezone.utc).date() + timedelta(days=3)
    start = datetime.combine(day, time(10), timezone.utc)
    for name in ("Ann", "Ben"):
        r = client.post("/api/v1/public/hana/workshop/bookings",
                        json={"start": start.isoformat(), "name": name, "email": f"{name.lower()}@example.com"})
        assert r.status_code == 201, r.json
    browser.get_log("browser")
    set_viewport(browser, size)
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/workshop"))
    assert "Up to 5 guests at each time" in text_of(browser, ".facts")
    # A seat is never moved, so only the cancel notice is said.
    assert text_of(browser, "[data-notices]") == "You can cancel up to 2 hours before the start."
    show_day(browser, day.isoformat())  # 10:00 UTC is early that morning in the guest's zone
    times = wait_for(browser, lambda d: css(d, "[data-times] button.choice"))
    [taken] = [b for b in times if same_moment(b.get_attribute("data-start"), start.isoformat())]
    assert "3 seats left" in taken.text and "3 seats left" in taken.accessible_name
    assert all("5 seats left" in b.text for b in times if b != taken)
    taken.click()
    assert text_of(browser, "[data-chosen]").endswith("3 seats left.")
    browser.find_element(By.ID, "name").send_keys("Cat Guest")
    browser.find_element(By.ID, "email").send_keys("cat@example.com")
    screenshot(browser, "seats-left", size)
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()

    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert text_of(browser, "[data-confirmation-heading]") == "You are booked"
    assert text_of(browser, "[data-seats]") == "You have a seat; 2 other seats are still free at this time."
    [booking] = host_bookings(client, host)
    assert booking["seats"]["taken"] == 3 and "Cat Guest" in [g["name"] for g in booking["seats"]["guests"]]

    browser.get(browser.find_element(By.CSS_SELECTOR, "[data-manage-link]").get_attribute("href"))
    wait_text(browser, "[data-state]", "Booked for Cat Guest")
    notes = text_of(browser, "[data-why-not]")
    assert "A seat can't be moved: cancel it and book another time." in notes and "You can cancel here until" in notes
    assert not browser.find_element(By.CSS_SELECTOR, "[data-reschedule]").is_displayed()
    assert shown(browser, "[data-cancel-form] button") == ["Cancel booking"]
    assert [entry["message"] for entry in browser.get_log("browser")] == []


def test_the_last_seat_is_said_to_be_the_last(browser, live_server, client, host):
    make_type(client, host, "pair", seats=2)
    start = datetime.combine(datetime.now(timezone.utc).date() + timedelta(days=3), time(10), timezone.utc)
    r = client.post("/api/v1/public/hana/pair/bookings",
                    json={"start": start.isoformat(), "name": "Ann", "email": "ann@example.com"})
    assert r.status_code == 201, r.json
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/pair"))
    show_day(browser, start.date().isoformat())
    times = wait_for(browser, lambda d: css(d, "[data-times] button.choice"))
    [last] = [b for b in times if same_moment(b.get_attribute("data-start"), start.isoformat())]
    assert "1 seat left" in last.text
    last.click()
    browser.find_element(By.ID, "name").send_keys("Bo")
    browser.find_element(By.ID, "email").send_keys("bo@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    wait_text(browser, "[data-seats]", "You have the last seat at this time.")


def test_inside_the_cancel_notice_the_manage_page_says_why_and_offers_no_cancel(browser, live_server, client, host,
                                                                               set_profile):
    """A booking made a few hours ahead of a type with a day's cancel notice: cancelling (and so
    moving, which gives up the time booked) closed before it was even made, and the page says
    when, why and what to do."""
    set_profile(host, working_hours={day: [{"start": "00:00", "end": "24:00"}] for day in WEEK})
    make_type(client, host, "late", title="Late call", minimum_notice=0, cancel_notice=1440)
    start = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    r = client.post("/api/v1/public/hana/late/bookings",
                    json={"start": start.isoformat(), "name": "Nia", "email": "nia@example.com"})
    assert r.status_code == 201, r.json
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server(f"/manage/{r.json['manage_token']}"))
    wait_text(browser, "[data-state]", "Booked for Nia")
    notes = text_of(browser, "[data-why-not]")
    assert "Cancelling online closed on" in notes
    assert "Hana Host asks for 1 day's notice. To cancel now, contact Hana Host." in notes
    closed = notes.split("closed on ", 1)[1].split(":", 1)[0]
    assert all(word in closed for word in short_words(start - timedelta(days=1))), closed
    assert not browser.find_element(By.CSS_SELECTOR, "[data-cancel-form]").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "[data-reschedule]").is_displayed()
    assert client.post(f"/api/v1/guest-bookings/{r.json['manage_token']}/cancel", json={}).status_code == 409


def test_the_booking_page_says_the_notices_in_words(client, host):
    for slug, fields, words in (
            ("a", {"cancel_notice": 90}, b"You can cancel or reschedule up to 90 minutes before the start."),
            ("b", {"reschedule_notice": 2880}, b"You can reschedule up to 2 days before the start."),
            ("c", {"cancel_notice": 60, "reschedule_notice": 1440},
             b"You can cancel up to 1 hour before the start and reschedule up to 1 day before."),
            ("g", {"cancel_notice": 1440, "reschedule_notice": 90},
             b"You can cancel or reschedule up to 1 day before the start."),
            ("d", {"reschedule_notice": 60, "seats": 3}, None),
            ("e", {}, None)):
        make_type(client, host, slug, **fields)
        page = client.get(f"/book/hana/{slug}").data
        assert (words in page) if words else (b"data-notices" not in page), slug
        assert (b"data-policy" in page) == bool(words), slug
        assert b"Request this time" not in page and b"data-requests" not in page
    make_type(client, host, "f", requires_confirmation=True)
    page = client.get("/book/hana/f").data
    assert b"Hana Host confirms each booking" in page and b">Request this time</button>" in page


# The guest's flow (issue 24)

@SIZES
def test_choosing_a_time_brings_the_form_into_view_with_focus(browser, live_server, host, size):
    set_viewport(browser, size)
    browser.get(live_server("/book/hana/intro"))
    show_day(browser)
    start = offered(browser)[-1]
    browser.find_element(By.CSS_SELECTOR, f'[data-start="{start}"]').click()
    assert browser.switch_to.active_element.get_attribute("id") == "name"
    top, bottom = browser.execute_script(
        "const box = document.querySelector('[data-guest-form] h2').getBoundingClientRect();"
        "const name = document.getElementById('name').getBoundingClientRect();"
        "return [box.top, name.bottom]")
    assert 0 <= top and bottom <= size[1]
    # The time picked is read with the field.
    assert "chosen" in browser.switch_to.active_element.get_attribute("aria-describedby")


def test_later_stops_at_the_booking_window_and_says_why(browser, live_server, client, host):
    make_type(client, host, "soon", booking_window=20)
    browser.get(live_server("/book/hana/soon"))
    offered(browser)
    later = browser.find_element(By.CSS_SELECTOR, "[data-later]")
    assert later.is_enabled() and "further ahead" not in text_of(browser, "[data-slots-status]")
    later.click()
    wait_text(browser, "[data-slots-status]", "Bookings can't be made further ahead.")
    assert not later.is_enabled()
    assert "Try later dates" not in text_of(browser, "[data-slots-status]")
    far = [chip for chip in css(browser, "[data-days] button.choice") if "Too far ahead" in chip.text]
    assert far and all(chip.get_attribute("aria-disabled") == "true" for chip in far)
    last_offered = max(chip.get_attribute("data-day") for chip in css(browser, OFFERED_DAYS))
    assert all(chip.get_attribute("data-day") > last_offered for chip in far)


def test_a_window_with_nothing_left_says_so_instead_of_try_later(browser, live_server, client, host):
    make_type(client, host, "short", booking_window=1, minimum_notice=60 * 24 * 2)
    browser.get(live_server("/book/hana/short"))
    status = wait_text(browser, "[data-slots-status]", "No free times")
    assert "Bookings can't be made further ahead." in status and "Try later dates" not in status
    assert not browser.find_element(By.CSS_SELECTOR, "[data-later]").is_enabled()
    reasons = " ".join(chip.text for chip in css(browser, "[data-days] button.choice"))
    assert "Not yet bookable" in reasons or "Too far ahead" in reasons


def book_via_api(client, slug="intro", name="Cy", **fields):
    r = client.post(f"/api/v1/public/hana/{slug}/bookings",
                    json={"start": offered_via_api(client, slug), "name": name, "email": "cy@example.com"} | fields)
    assert r.status_code == 201, r.json
    return r.json


def test_cancel_asks_first_and_then_offers_to_book_another_time(browser, live_server, client, host):
    token = book_via_api(client)["manage_token"]
    browser.get(live_server(f"/manage/{token}"))
    wait_text(browser, "[data-state]", "Booked for Cy")
    assert not browser.find_element(By.CSS_SELECTOR, "[data-book-again]").is_displayed()
    cancel = browser.find_element(By.XPATH, "//button[text()='Cancel booking']")
    cancel.click()
    dialog = wait_for(browser, lambda d: (e := d.find_element(By.CSS_SELECTOR, "[data-confirm-cancel]")).is_displayed()
                      and e)
    assert "Cancel this booking?" in dialog.text and "Hana Host will be told" in dialog.text
    assert browser.execute_script("return document.querySelector('[data-confirm-cancel]').matches(':modal')")
    # Focus is in the dialog, on the answer that changes nothing; Escape changes nothing too.
    assert browser.switch_to.active_element.get_attribute("data-confirm-no") is not None
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait_for(browser, lambda d: not d.find_element(By.CSS_SELECTOR, "[data-confirm-cancel]").is_displayed())
    assert browser.switch_to.active_element == cancel
    assert [b["status"] for b in host_bookings(client, host)] == ["confirmed"]
    cancel.click()
    browser.find_element(By.XPATH, "//button[text()='No, keep it']").click()
    assert [b["status"] for b in host_bookings(client, host)] == ["confirmed"]

    cancel.click()
    confirm_cancel(browser)
    wait_text(browser, "[data-state]", "This booking is cancelled.")
    assert [b["status"] for b in host_bookings(client, host)] == ["cancelled"]
    again = browser.find_element(By.CSS_SELECTOR, "[data-book-again] a")
    assert again.is_displayed() and again.text == "Book another time"
    assert not browser.find_element(By.CSS_SELECTOR, "[data-add-to-calendar]").is_displayed()
    again.click()
    wait_for(browser, lambda d: d.current_url == live_server("/book/hana/intro"))
    assert offered(browser)


def test_a_past_booking_s_page_offers_to_book_another_time(browser, live_server, client, host, travel):
    make_type(client, host, "team-call", title="Team call")
    token = book_via_api(client, "team-call")["manage_token"]
    travel(timedelta(days=3))  # the live server shares this process's clock
    browser.get(live_server(f"/manage/{token}"))
    wait_text(browser, "[data-state]", "has started or taken place")
    assert browser.find_element(By.CSS_SELECTOR, "[data-book-again] a").get_attribute("href") == \
        live_server("/book/hana/team-call")


def test_a_gone_link_s_booking_page_does_not_offer_to_book_again(browser, live_server, client, host):
    token = book_via_api(client)["manage_token"]
    [event_type] = client.get("/api/v1/event-types", headers=host.auth).json
    r = client.patch(f"/api/v1/event-types/{event_type['id']}", headers=host.auth, json={"active": False})
    assert r.status_code == 200, r.json
    r = client.get(f"/manage/{token}")
    assert r.status_code == 200 and b"data-book-again" not in r.data


def google_and_outlook(driver, root):
    from urllib.parse import parse_qs, urlsplit
    links = {}
    for name in ("google", "outlook"):
        link = driver.find_element(By.CSS_SELECTOR, f"{root} [data-{name}]")
        assert link.get_attribute("rel") == "noopener noreferrer"
        url = urlsplit(link.get_attribute("href"))
        links[name] = (f"{url.scheme}://{url.netloc}{url.path}", {k: v for k, [v] in parse_qs(url.query).items()})
    return links


def parsed_ics(client, url):
    from icalendar import Calendar
    from urllib.parse import urlsplit
    r = client.get(urlsplit(url).path)
    assert r.status_code == 200 and r.mimetype == "text/calendar", r.data
    assert "attachment" in r.headers["Content-Disposition"]
    [event] = Calendar.from_ical(r.data).walk("VEVENT")
    return event


def test_the_confirmation_and_the_manage_page_add_it_to_a_calendar(browser, live_server, client, host):
    set_time_zone(browser, GUEST_ZONE)
    browser.get(live_server("/book/hana/intro"))
    start = offered(browser)[0]
    choose_and_book(browser, start, "Cal Guest", "cal@example.com")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-add-to-calendar]").is_displayed())
    begin = datetime.fromisoformat(start).astimezone(timezone.utc)
    end = begin + timedelta(minutes=30)
    manage_url = browser.find_element(By.CSS_SELECTOR, "[data-manage-link]").get_attribute("href")
    links = google_and_outlook(browser, "[data-confirmation]")
    google, query = links["google"]
    assert google == "https://calendar.google.com/calendar/render"
    assert query["action"] == "TEMPLATE" and query["text"] == "Intro call"
    assert query["dates"] == f"{begin:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    assert query["location"] == "Video call (the link comes with the invitation)"
    assert query["details"] == ("A first talk about your project.\nBring your questions.\n\n"
                                f"To cancel or change the time: {manage_url}")
    outlook, query = links["outlook"]
    assert outlook == "https://outlook.live.com/calendar/0/deeplink/compose"
    assert query["subject"] == "Intro call" and manage_url in query["body"]
    assert datetime.fromisoformat(query["startdt"].replace("Z", "+00:00")) == begin
    assert datetime.fromisoformat(query["enddt"].replace("Z", "+00:00")) == end
    event = parsed_ics(client, browser.find_element(By.CSS_SELECTOR, "[data-confirmation] [data-ics]")
                       .get_attribute("href"))
    assert event.decoded("dtstart") == begin and event.decoded("dtend") == end
    assert str(event["summary"]) == "Intro call" and str(event["status"]) == "CONFIRMED"
    assert "Video call" in str(event["location"])

    browser.get(manage_url)
    wait_text(browser, "[data-state]", "Booked for Cal Guest")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-add-to-calendar]").is_displayed())
    links = google_and_outlook(browser, "#manage")
    assert links["google"][1]["dates"] == f"{begin:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    # The same description as the confirmation's: the type's, then the manage link.
    assert links["google"][1]["details"] == links["outlook"][1]["body"] == query["body"]
    again = parsed_ics(client, browser.find_element(By.CSS_SELECTOR, "#manage [data-ics]").get_attribute("href"))
    assert again["uid"] == event["uid"] and again.decoded("dtstart") == begin
    assert "Video call" in text_of(browser, "[data-where]")


def test_addresses_in_the_host_s_text_are_safe_links(browser, live_server, client, host):
    make_type(client, host, "linked", location="https://meet.example.com/hana?room=1",
              description="Agenda: http://example.com/agenda. Not javascript:alert(1) nor data:text/html,hi")
    token = book_via_api(client, "linked")["manage_token"]
    browser.get(live_server("/book/hana/linked"))
    offered(browser)
    links = [(a.get_attribute("href"), a.text, a.get_attribute("rel"))
             for a in css(browser, ".event a")]
    assert links == [("https://meet.example.com/hana?room=1", "https://meet.example.com/hana?room=1",
                      "noopener noreferrer"),
                     ("http://example.com/agenda", "http://example.com/agenda", "noopener noreferrer")]
    assert "javascript:alert(1) nor data:text/html,hi" in text_of(browser, "[data-description]")
    browser.get(live_server(f"/manage/{token}"))
    wait_text(browser, "[data-state]", "Booked for Cy")
    [where] = css(browser, "[data-where] a")
    assert where.get_attribute("href") == "https://meet.example.com/hana?room=1"
    assert where.get_attribute("rel") == "noopener noreferrer"


def unavailable_database(*args, **kwargs):
    raise psycopg2.OperationalError("server closed the connection unexpectedly")


def test_a_database_outage_is_a_page_for_pages_and_json_for_the_api(browser, live_server, client, host,
                                                                    monkeypatch):
    token = book_via_api(client)["manage_token"]
    monkeypatch.setattr("scheduler.pages.single_statement", unavailable_database)
    monkeypatch.setattr("scheduler.pages.transaction", unavailable_database)
    monkeypatch.setattr("scheduler.api.public.single_statement", unavailable_database)
    for path in ("/book/hana/intro", f"/manage/{token}"):
        r = client.get(path)
        assert r.status_code == 503 and r.mimetype == "text/html", path
        assert r.headers["Retry-After"] == "5" and b"Temporarily unavailable" in r.data
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    r = client.get("/api/v1/public/hana/intro")
    assert r.status_code == 503 and r.mimetype == "application/json" and r.headers["Retry-After"] == "5"
    browser.get(live_server("/book/hana/intro"))
    assert text_of(browser, "h1") == "Temporarily unavailable"
    assert "Try again in 5 seconds" in text_of(browser, "main")
    assert browser.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth") != "none"


def test_a_404_page_is_styled_and_says_what_to_do(browser, live_server, client, host):
    browser.get(live_server("/book/hana/nothing"))
    assert text_of(browser, "h1") == "Not found"
    assert "Booking link not found." in text_of(browser, "main") and "Check the address" in text_of(browser, "main")
    assert browser.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth") != "none"
    r = client.get("/api/v1/public/hana/nothing")
    assert r.status_code == 404 and r.mimetype == "application/json"
