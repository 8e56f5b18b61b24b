"""Fixtures for tests that drive a real browser: the test's own app served over HTTP on a
free port (werkzeug's threaded server, same database, Redis and SMTP server as the `app`
fixture; drain its jobs with the `worker` fixture), and Debian's headless Chromium driven by
selenium through Debian's chromedriver.

Both programs are named by path, so selenium never runs selenium-manager, which would
otherwise look for (and download) a browser and a driver; SE_OFFLINE is set as well, in
case a later selenium consults it anyway."""

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)
WAIT_SECONDS = 10


class LiveServer:
    def __init__(self, app):
        # Port 0: the kernel picks a free port as it binds, so no other server can take it first.
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # The links the app writes (manage links, booking links) lead to this server, as
        # PUBLIC_BASE_URL makes them lead to the public address in production.
        runtime = app.extensions["runtime"]
        runtime.settings = runtime.settings.replace(public_base_url=self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def __call__(self, path=""):
        return self.url + path

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=WAIT_SECONDS)
        self.server.server_close()


@pytest.fixture
def live_server(app):
    """The `app` fixture's app over HTTP: `live_server("/health")` is a full URL."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


def chromium_driver(user_data_dir):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make test` installs Debian's chromium and chromium-driver")
    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_SECONDS * 3)
    driver.set_script_timeout(WAIT_SECONDS)
    return driver


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """One headless Chromium for the whole session (starting one costs about a second)."""
    driver = chromium_driver(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    """The session's Chromium at desktop size, in the machine's time zone, with no cookies
    left by earlier tests. `set_viewport(browser, PHONE)` switches to phone width;
    `set_time_zone(browser, "Asia/Tokyo")` makes pages see that zone."""
    set_viewport(chromium, DESKTOP)
    chromium.get("about:blank")
    yield chromium
    chromium.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    chromium.delete_all_cookies()
    chromium.get("about:blank")


def set_viewport(driver, size):
    """The page's viewport is exactly `size` CSS pixels; narrow ones behave as a phone's."""
    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
    })


def set_time_zone(driver, name):
    """The zone the page's Intl API and Date see, as a guest's browser would report it."""
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": name})


def wait_for(driver, condition, seconds=WAIT_SECONDS):
    """Waits (at most `seconds`) until `condition(driver)` is truthy and returns it. An element
    the page replaced while the condition read it counts as not yet."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
