"""Languages (issue 24): the catalogues are whole, a page is in the language asked for with
its dates the local way, a guest's booking keeps its language for every later email, and a
host's emails follow their profile's locale."""

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from selenium.webdriver.common.by import By

from browser import PHONE, wait_for
from scheduler import clock, languages
from scheduler.delivery import emails as delivery
from tests.test_pages import (choose_and_book, host, offered, screenshot, show_day,  # noqa: F401 (host is a fixture)
                              text_of)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = languages.CATALOGUES / "messages.pot"
TRANSLATED = [language for language in languages.LANGUAGES if language != languages.DEFAULT]
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")
BOOK = "/api/v1/public/hana/intro/bookings"


def messages(path, language=None):
    with path.open("rb") as source:
        return {message.id: message for message in read_po(source, locale=language) if message.id}


# The catalogues

def test_the_template_holds_every_message_the_code_says(tmp_path):
    """`make messages` was run after the last change to a message: what the extractors find
    in the code now is what the template (and so every catalogue) holds."""
    fresh = tmp_path / "messages.pot"
    subprocess.run([Path(sys.executable).parent / "pybabel", "extract", "-F", languages.CATALOGUES / "babel.cfg",
                    "-k", "N_", "--no-location", "--omit-header", "-o", fresh, "."],
                   cwd=ROOT, check=True, capture_output=True)
    assert sorted(map(str, messages(fresh))) == sorted(map(str, messages(TEMPLATE)))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_every_language(language):
    """Each message of the template is translated, every plural form of it, none left fuzzy,
    with the same placeholders as the English (a singular may say its count in words)."""
    catalogue = messages(languages.CATALOGUES / language / "LC_MESSAGES" / "messages.po", language)
    assert catalogue.keys() == messages(TEMPLATE).keys()
    for message in catalogue.values():
        forms = message.string if message.pluralizable else (message.string,)
        english = message.id[1] if message.pluralizable else message.id
        assert all(forms) and not message.fuzzy, f"{language}: {message.id!r} is not translated"
        wanted = set(PLACEHOLDER.findall(english))
        for form in forms:
            found = set(PLACEHOLDER.findall(form))
            assert found == wanted or (message.pluralizable and found == wanted - {"{count}"}), \
                f"{language}: {message.id!r} -> {form!r} has {found}, not {wanted}"


def test_a_tag_is_one_of_ours_with_the_region_cldr_knows():
    assert [languages.tag_of(tag) for tag in ("de", "de-at", "EN_us", "ja-JP", "fr-XY", "es-419")] == \
        ["de", "de-AT", "en-US", "ja-JP", "fr", "es-419"]
    assert [languages.tag_of(tag) for tag in ("pt", "zh-Hans", "", "d", "de--AT", "x" * 40, None, 7)] == [None] * 8
    assert languages.best_of(["pt-BR", "fr-CA", "de"]) == "fr-CA" and languages.best_of(["pt"]) is None


# The API

def book(client, start, email="gus@example.com", headers=None, **fields):
    return client.post(BOOK, headers=headers or {},
                       json={"start": start.isoformat(), "name": "Gus Guest", "email": email} | fields)


def tomorrow_at(hour):
    return (clock.now() + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_a_guest_booking_keeps_the_language_it_was_made_in(client, host, db):
    made = book(client, tomorrow_at(9), language="de-at")
    assert made.status_code == 201, made.json
    assert made.json["booking"]["language"] == "de-AT"
    heard = book(client, tomorrow_at(10), headers={"Accept-Language": "pt-BR, fr;q=0.8, de;q=0.5"})
    assert heard.json["booking"]["language"] == "fr"
    assert book(client, tomorrow_at(11)).json["booking"]["language"] == "en"
    seen = client.get(f"/api/v1/guest-bookings/{made.json['manage_token']}").json["booking"]
    assert seen["language"] == "de-AT"

    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings")
        before = cur.fetchone()[0]
    refused = book(client, tomorrow_at(12), language="pt")
    assert refused.status_code == 400 and "language" in refused.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM bookings")
        assert cur.fetchone()[0] == before


def test_a_person_chooses_the_language_of_their_emails(client, host):
    assert client.get("/api/v1/users/me", headers=host.auth).json["locale"] == "en"
    changed = client.patch("/api/v1/users/me", json={"locale": "ja-jp"}, headers=host.auth)
    assert changed.status_code == 200 and changed.json["user"]["locale"] == "ja-JP"
    refused = client.patch("/api/v1/users/me", json={"locale": "klingon"}, headers=host.auth)
    assert refused.status_code == 400 and "locale" in refused.json["fields"]
    assert client.get("/api/v1/users/me", headers=host.auth).json["locale"] == "ja-JP"


# Emails, through the SMTP server

def words(language):
    return languages.words(language).gettext


@pytest.mark.parametrize("language", languages.LANGUAGES)
def test_a_guest_s_emails_and_reminder_are_in_their_language(client, host, mailbox, worker, travel, language):
    start = tomorrow_at(14) + timedelta(days=2)
    made = book(client, start, language=language)
    assert made.status_code == 201, made.json
    worker()
    [confirmation] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    _ = words(language)
    subject = _("Booked: {title} with {host}").format(title="Intro call", host="Hana Host")
    assert confirmation["Subject"] == subject
    assert language == languages.DEFAULT or subject != "Booked: Intro call with Hana Host"
    text = confirmation.get_body(("plain",)).get_content()
    assert text.startswith(_("Hi {name},").format(name="Gus Guest"))
    assert _("Your booking with {host} is confirmed.").format(host="Hana Host") in text
    # The details' rows as the language writes a label and its value.
    colon = {"fr": "\u00a0: ", "ja": "："}.get(language, ": ")
    assert f'{_("Start")}{colon}{languages.moment_text(start, "UTC", language)}' in text
    html = confirmation.get_body(("html",)).get_content()
    assert f'<html lang="{language}">' in html and _("Sent by Scheduler.") in html

    # The day before, the reminder: written when the booking was made, in the language kept with it.
    mailbox.clear()
    travel(start - timedelta(hours=24, minutes=-1) - clock.now())
    delivery.sweep(worker())
    worker()
    [reminder] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    assert reminder["Subject"] == _("Reminder: {title} with {host}").format(title="Intro call", host="Hana Host")
    assert _("Your booking with {host} starts {start}.").format(
        host="Hana Host", start=languages.moment_text(start, "UTC", language)) in reminder.get_body(("plain",)).get_content()


def test_the_host_reads_in_their_locale_while_the_guest_reads_in_theirs(client, host, mailbox, worker):
    client.patch("/api/v1/users/me", json={"locale": "ja"}, headers=host.auth)
    start = tomorrow_at(15) + timedelta(days=2)
    assert book(client, start, language="de").status_code == 201
    worker()
    [to_host] = [m for m in mailbox.received() if m["To"] == host.email and "Intro call" in m["Subject"]]
    assert to_host["Subject"] == words("ja")("New booking: {title} with {guest}").format(
        title="Intro call", guest="Gus Guest")
    assert languages.moment_text(start, "UTC", "ja") in to_host.get_body(("plain",)).get_content()
    [to_guest] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    assert to_guest["Subject"] == words("de")("Booked: {title} with {host}").format(
        title="Intro call", host="Hana Host")
    # The guest's address as text in the HTML too, not as a tag a mail client would drop.
    assert "Gus Guest &lt;gus@example.com&gt;" in to_host.get_body(("html",)).get_content()


def test_what_people_typed_stays_as_typed_even_if_it_reads_as_a_time(client, host, mailbox, worker):
    """Only the email's own times are written as dates: a name or notes that happen to be ISO
    times are text."""
    typed = "2031-03-21T10:00:00+01:00"
    made = book(client, tomorrow_at(9) + timedelta(days=2), name=typed, notes=typed, language="de")
    assert made.status_code == 201, made.json
    worker()
    for message in [m for m in mailbox.received() if "Intro call" in m["Subject"]]:
        assert typed in message.get_body(("plain",)).get_content(), message["To"]


# Pages

def page_language(response):
    found = re.search(r'<html lang="([^"]+)" data-locale="([^"]+)">', response.get_data(as_text=True))
    return found.groups()


def test_a_page_s_language_is_lang_then_accept_language_then_english(client, host):
    assert page_language(client.get("/book/hana/intro?lang=ja", headers={"Accept-Language": "de"})) == ("ja", "ja")
    assert page_language(client.get("/book/hana/intro", headers={"Accept-Language": "pt, fr-CA;q=0.9, de;q=0.5"})) \
        == ("fr-CA", "fr-CA")
    assert page_language(client.get("/book/hana/intro?lang=zz", headers={"Accept-Language": "es"})) == ("es", "es")
    # English without a region writes dates as our emails do: 14:00, day before month.
    assert page_language(client.get("/book/hana/intro")) == ("en", "en-GB")

    page = client.get("/book/hana/intro?lang=de").get_data(as_text=True)
    assert words("de")("Pick a time") in page and ">Pick a time<" not in page
    scripts = json.loads(re.search(r'<script type="application/json" id="messages">(.*?)</script>', page, re.S)[1])
    assert scripts["Loading free times…"] == words("de")("Loading free times…")
    assert scripts["1 seat left"] == [languages.words("de").ngettext("1 seat left", "{count} seats left", n)
                                      for n in (1, 2)]
    # Each other language is a link away.
    assert '<a href="/book/hana/intro?lang=ja" lang="ja" hreflang="ja">日本語</a>' in page

    missing = client.get("/book/hana/nothing?lang=fr")
    assert missing.status_code == 404 and words("fr")("Booking link not found") in missing.get_data(as_text=True)
    # The sentence ends as the language ends one.
    said = words("ja")("%(message)s.") % {"message": words("ja")("Booking link not found")}
    assert said.endswith("。") and said in client.get("/book/hana/nothing?lang=ja").get_data(as_text=True)


def test_the_manage_page_is_in_the_language_of_the_booking_unless_asked(client, host):
    token = book(client, tomorrow_at(9), language="es").json["manage_token"]
    assert page_language(client.get(f"/manage/{token}", headers={"Accept-Language": "de"})) == ("es", "es")
    assert page_language(client.get(f"/manage/{token}?lang=fr")) == ("fr", "fr")


# A weekday and a date as each locale writes them in a day button, and a time in a time button
# (Chromium's ICU: CLDR, as Babel's for the emails).
LOCAL_FORMATS = {
    "de": (r"^(Mo|Di|Mi|Do|Fr|Sa|So)\.?$", r"^\d{1,2}\. \w+\.?$", r"^\d{1,2}:\d{2}$"),
    "ja": (r"^[月火水木金土日]$", r"^\d{1,2}月\d{1,2}日$", r"^\d{1,2}:\d{2}$"),
}


@pytest.mark.parametrize("language", LOCAL_FORMATS)
def test_a_page_in_german_or_japanese_books_in_it_and_writes_dates_the_local_way(
        browser, live_server, client, host, worker, mailbox, language):
    _ = words(language)
    browser.get(live_server(f"/book/hana/intro?lang={language}"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    show_day(browser)
    starts = offered(browser)
    weekday, date, clock_time = LOCAL_FORMATS[language]
    day = browser.find_element(By.CSS_SELECTOR, "[data-days] button.choice:not([aria-disabled])")
    shown_weekday, shown_date = [line.text for line in day.find_elements(By.TAG_NAME, "span")]
    assert re.match(weekday, shown_weekday) and re.match(date, shown_date), (shown_weekday, shown_date)
    times = [b.text.split("\n")[0] for b in browser.find_elements(By.CSS_SELECTOR, "[data-times] button.choice")]
    # A 24-hour clock: the afternoon's times are 13:00 and on, with no AM/PM.
    assert times and all(re.match(clock_time, t) for t in times) and max(int(t.split(":")[0]) for t in times) >= 13
    assert text_of(browser, "#picker-heading") == _("Pick a time")
    if language == "de":  # this machine's Chromium has no Japanese fonts, so only boxes would show
        screenshot(browser, "booking-de", PHONE)

    choose_and_book(browser, starts[1], "Gus Guest", "gus@example.com")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert text_of(browser, "[data-confirmation-heading]") == _("You are booked")

    [booking] = client.get("/api/v1/bookings", headers=host.auth).json
    assert booking["guest"]["language"] == language
    worker()
    [confirmation] = [m for m in mailbox.received() if m["To"] == "gus@example.com"]
    assert confirmation["Subject"] == _("Booked: {title} with {host}").format(title="Intro call", host="Hana Host")
