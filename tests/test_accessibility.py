"""axe-core, run inside the guest pages in headless Chromium, finds nothing serious or critical
on the booking page (times shown, the zone list open, the form, a field error), the
confirmation, the manage page with its cancel dialog open, and the 404 page, at desktop and
phone width; and on a request's confirmation and manage page, in their own colours.

axe.min.js is the file `make test` fetched and checked (the Makefile's AXE_VERSION), named by
AXE_JS. It is handed to the page through WebDriver, which the page's Content-Security-Policy
(script-src 'self') does not govern, so the app serves nothing extra for it."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from browser import set_viewport, wait_for
from tests.test_pages import (SIZES, choose_and_book, host, make_type, offered, show_day,  # noqa: F401 (host is a fixture)
                              text_of, wait_text)

FAILING_IMPACTS = ("serious", "critical")
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
  .then((results) => done(results.violations), (error) => done(String(error)));
"""


@pytest.fixture(scope="session")
def axe_source():
    path = os.environ.get("AXE_JS")
    if not path or not os.path.exists(path):
        pytest.fail(f"axe-core not at AXE_JS={path!r}: `make test` fetches it and sets AXE_JS")
    return Path(path).read_text()


def assert_accessible(driver, axe_source, where):
    """axe finds no serious or critical violation in the page as it is now."""
    driver.execute_script(axe_source)
    violations = driver.execute_async_script(RUN_AXE)
    assert isinstance(violations, list), f"axe failed on {where}: {violations}"
    failing = [f"{v['id']} ({v['impact']}): {v['help']}: {[node['target'] for node in v['nodes']]}"
               for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe on {where}:\n" + "\n".join(failing)


@SIZES
def test_the_booking_confirmation_and_manage_pages(browser, live_server, host, size, axe_source):
    set_viewport(browser, size)
    browser.get(live_server("/book/hana/intro"))
    show_day(browser)
    start = offered(browser)[1]
    assert_accessible(browser, axe_source, "the booking page with times")

    zone = browser.find_element(By.ID, "zone")
    zone.click()
    zone.send_keys("Lon", Keys.ARROW_DOWN)
    wait_for(browser, lambda d: zone.get_attribute("aria-activedescendant"))
    assert_accessible(browser, axe_source, "the booking page with the time-zone list open")
    zone.send_keys(Keys.ESCAPE)

    browser.find_element(By.CSS_SELECTOR, f'[data-start="{start}"]').click()
    assert_accessible(browser, axe_source, "the booking form")

    choose_and_book(browser, start, "Ada", "not-an-address")
    wait_text(browser, "#email-error", ".")
    assert_accessible(browser, axe_source, "the booking form with a field error")

    email = browser.find_element(By.ID, "email")
    email.clear()
    email.send_keys("ada@example.com")
    browser.find_element(By.CSS_SELECTOR, "[data-submit]").click()
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirmation]").is_displayed())
    assert_accessible(browser, axe_source, "the confirmation")

    browser.get(browser.find_element(By.CSS_SELECTOR, "[data-manage-link]").get_attribute("href"))
    wait_text(browser, "[data-state]", "Booked for Ada")
    show_day(browser)
    offered(browser)
    assert_accessible(browser, axe_source, "the manage page")

    browser.find_element(By.XPATH, "//button[text()='Cancel booking']").click()
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-confirm-cancel]").is_displayed())
    assert_accessible(browser, axe_source, "the manage page's cancel dialog")


def test_a_request_s_confirmation_and_manage_page(browser, live_server, client, host, axe_source):
    make_type(client, host, "consult", title="Consultation", requires_confirmation=True)
    browser.get(live_server("/book/hana/consult"))
    show_day(browser)
    choose_and_book(browser, offered(browser)[1], "Bo", "bo@example.com")
    wait_text(browser, "[data-confirmation-heading]", "Request sent")
    assert_accessible(browser, axe_source, "a request's confirmation")

    [manage_link] = [a for a in browser.find_elements(By.CSS_SELECTOR, "[data-manage-link]") if a.is_displayed()]
    browser.get(manage_link.get_attribute("href"))
    wait_text(browser, "[data-state]", "Requested for Bo")
    assert_accessible(browser, axe_source, "a request's manage page")


@SIZES
def test_the_404_page(browser, live_server, size, axe_source):
    set_viewport(browser, size)
    browser.get(live_server("/book/nobody/nothing"))
    assert text_of(browser, "h1") == "Not found"
    assert_accessible(browser, axe_source, "the 404 page")


def test_the_check_reports_what_it_should(browser, live_server, axe_source):
    """A nameless button and grey on grey fail it: the check runs and can fail."""
    browser.get(live_server("/book/nobody/nothing"))
    # Styled through the CSSOM: the page's CSP refuses a style attribute in markup.
    browser.execute_script("""
        const main = document.querySelector("main");
        main.append(document.createElement("button"));
        const faint = main.appendChild(document.createElement("p"));
        faint.textContent = "faint";
        Object.assign(faint.style, {color: "#aaa", background: "#bbb"});
    """)
    with pytest.raises(AssertionError) as failed:
        assert_accessible(browser, axe_source, "a broken page")
    assert "button-name (critical)" in str(failed.value) and "color-contrast (serious)" in str(failed.value)
