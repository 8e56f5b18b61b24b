"""The browser fixtures themselves: the live server answers and Chromium reaches it."""

import json

from selenium.webdriver.common import selenium_manager
from selenium.webdriver.common.by import By

from browser import PHONE, chromium_driver, set_viewport


def test_chromium_loads_the_live_health_page(browser, live_server):
    browser.get(live_server("/health"))
    assert json.loads(browser.find_element(By.TAG_NAME, "body").text)["status"] == "OK"


def test_phone_viewport_is_phone_width(browser, live_server):
    set_viewport(browser, PHONE)
    browser.get(live_server("/health"))
    # A page without a viewport meta tag is laid out 980 wide, as on a real phone.
    assert browser.execute_script("return [screen.width, screen.height]") == list(PHONE)


def test_starting_chromium_never_asks_selenium_manager(tmp_path, monkeypatch):
    """selenium-manager would download a browser or driver it can't find; ours are named."""
    def refuse(*args, **kwargs):
        raise AssertionError("selenium-manager was asked for a browser")
    monkeypatch.setattr(selenium_manager.SeleniumManager, "binary_paths", refuse)
    driver = chromium_driver(tmp_path / "profile")
    try:
        assert driver.capabilities["browserName"] == "chrome"
    finally:
        driver.quit()
