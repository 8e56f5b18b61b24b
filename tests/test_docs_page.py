"""The interactive reference at /docs, in headless Chromium. One page load (Swagger UI takes
seconds to render on a busy machine): every operation of the description is listed, every
asset comes from this server, and "Try it out" calls it."""

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By

from browser import wait_for
from scheduler.openapi import spec


def listed(browser):
    """(method, path) of every operation on the page, read in one round trip."""
    return {tuple(pair) for pair in browser.execute_script(
        "return [...document.querySelectorAll('.opblock')].map(block => ["
        "block.querySelector('.opblock-summary-method').textContent,"
        "block.querySelector('.opblock-summary-path').dataset.path])")}


def rendered(count):
    """A wait condition: the page lists `count` operations. Swagger UI keeps the page busy
    while it renders, so a script can time out meanwhile: that is "not yet"."""
    def condition(browser):
        try:
            return len(listed(browser)) >= count
        except TimeoutException:
            return False
    return condition


# Rendering some fifty operations takes Swagger UI many seconds on a busy two-core machine.
RENDER_SECONDS = 90


def test_the_reference_lists_every_operation_and_tries_one_out(app, browser, live_server):
    operations = {(method.upper(), path) for path, item in spec(app)["paths"].items() for method in item}
    browser.get(live_server("/docs"))
    wait_for(browser, rendered(len(operations)), seconds=RENDER_SECONDS)
    assert listed(browser) == operations
    assert "Scheduler API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text

    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(live_server.url + "/") for url in loaded), loaded

    operation = browser.find_element(By.ID, "operations-health-health_health")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".execute"))[0].click()
    status = wait_for(browser, lambda b: operation.find_elements(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"))
    assert status[0].text.startswith("200")
    assert '"status": "OK"' in operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert live_server("/health") in operation.find_element(By.CSS_SELECTOR, ".request-url").text


def test_the_page_and_its_assets_are_served_by_the_app(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "https://" not in page.text and "http://" not in page.text
    bundle = client.get("/docs/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "javascript" in bundle.mimetype
    assert client.get("/docs/swagger-ui/index.html").status_code == 404
    assert client.get("/docs/swagger-ui/..%2F__init__.py").status_code == 404
