"""The interactive reference at /docs, in headless Chromium. One page load per test (Swagger UI
takes seconds to render on a busy machine): every operation of the description is listed, every
asset comes from this server, "Try it out" calls it, and "Authorize" takes an API key."""

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


def scheme(browser, name):
    """The Authorize dialog's form for the security scheme `name` (Swagger UI gives every bearer
    scheme's input the same id, auth-bearer-value, so the form is found by its title)."""
    return next(form for form in browser.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container")
                if form.find_element(By.CSS_SELECTOR, "h4 code").text == name)


def authorize(browser, key):
    """Enters `key` in the apiKey scheme of the Authorize dialog (first logging out the one
    entered before, if any) and closes the dialog."""
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container"))
    form = scheme(browser, "apiKey")
    if form.find_elements(By.CSS_SELECTOR, "h6"):  # "Authorized": its button is Logout
        form.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper .modal-btn:not(.btn-done)").click()
    wait_for(browser, lambda b: scheme(b, "apiKey").find_elements(By.CSS_SELECTOR, "input"))[0].send_keys(key)
    scheme(browser, "apiKey").find_element(By.CSS_SELECTOR, ".modal-btn.authorize").click()
    wait_for(browser, lambda b: scheme(b, "apiKey").find_elements(By.CSS_SELECTOR, "h6"))
    scheme(browser, "apiKey").find_element(By.CSS_SELECTOR, ".btn-done").click()
    wait_for(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, ".modal-ux"))


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

    operation = browser.find_element(By.ID, "operations-service-health_health")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".execute"))[0].click()
    status = wait_for(browser, lambda b: operation.find_elements(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"))
    assert status[0].text.startswith("200")
    assert '"status": "OK"' in operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert live_server("/health") in operation.find_element(By.CSS_SELECTOR, ".request-url").text


def test_an_api_key_authorises_try_it_out_within_its_scopes(app, browser, live_server, client, alice):
    made = [client.post("/api/v1/api-keys", json={"name": name, "scopes": scopes}, headers=alice.auth)
            for name, scopes in (("Badge", ["profile:read"]), ("Bookings", ["bookings:read"]))]
    assert [r.status_code for r in made] == [201, 201]
    reader, other = (r.json["key"] for r in made)
    unread = client.get("/api/v1/notifications/count", headers=alice.auth).json["unread"]  # the keys' notices
    operations = {(method.upper(), path) for path, item in spec(app)["paths"].items() for method in item}
    browser.get(live_server("/docs"))
    wait_for(browser, rendered(len(operations)), seconds=RENDER_SECONDS)

    # The dialog offers both schemes, each saying which credential it takes.
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container"))
    assert [form.find_element(By.CSS_SELECTOR, "h4 code").text for form in browser.find_elements(
        By.CSS_SELECTOR, ".modal-ux .auth-container")] == ["bearer", "apiKey"]
    assert "POST /api/v1/auth/register" in scheme(browser, "bearer").text
    assert "POST /api/v1/api-keys" in scheme(browser, "apiKey").text
    assert "required_scope" in scheme(browser, "apiKey").text
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .close-modal").click()
    wait_for(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, ".modal-ux"))

    # Each operation names the scope a key needs.
    operation = browser.find_element(By.ID, "operations-notifications-notifications_unread_count")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    description = wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".opblock-description"))
    assert "API key scope: profile:read." in description[0].text

    # A key with the scope: 200, sent as a bearer credential.
    authorize(browser, reader)
    # With a key only, login-only operations stay unlocked.
    assert operation.find_element(By.CSS_SELECTOR, ".authorization__btn").get_attribute("aria-label") == (
        "authorization button locked")
    assert browser.find_element(By.CSS_SELECTOR, "#operations-auth-api_keys_create_api_key .authorization__btn"
                                ).get_attribute("aria-label") == "authorization button unlocked"
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".try-out__btn"))[0].click()
    wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".execute"))[0].click()
    status = wait_for(browser, lambda b: operation.find_elements(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status"))
    assert status[0].text.startswith("200")
    assert f'"unread": {unread}' in operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert f"Authorization: Bearer {reader}" in operation.find_element(By.CSS_SELECTOR, ".curl-command").text

    # A key without it: 403 naming the scope.
    authorize(browser, other)
    operation.find_element(By.CSS_SELECTOR, ".execute").click()
    wait_for(browser, lambda b: [status for status in operation.find_elements(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_status") if status.text.startswith("403")])
    assert '"required_scope": "profile:read"' in operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert f"Authorization: Bearer {other}" in operation.find_element(By.CSS_SELECTOR, ".curl-command").text


def test_sections_come_in_a_reader_s_order_and_descriptions_render_markdown(app, browser, live_server):
    operations = {(method.upper(), path) for path, item in spec(app)["paths"].items() for method in item}
    browser.get(live_server("/docs"))
    wait_for(browser, rendered(len(operations)), seconds=RENDER_SECONDS)
    sections = browser.execute_script(
        "return [...document.querySelectorAll('.opblock-tag-section .opblock-tag')].map(t => t.dataset.tag)")
    assert sections[:3] == ["auth", "bookings", "booking links"]
    assert sections == [tag["name"] for tag in spec(app)["tags"]]
    # A tag's description is shown beside it.
    assert "API keys" in browser.find_element(By.CSS_SELECTOR, '.opblock-tag[data-tag="auth"]').text

    # Summaries are plain text; the description's `code` is rendered as code.
    operation = browser.find_element(By.ID, "operations-bookings-bookings_no_show")
    summary = operation.find_element(By.CSS_SELECTOR, ".opblock-summary-description").text
    assert "`" not in summary and summary == "Mark who did not come to a booking I booked."
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    description = wait_for(browser, lambda b: operation.find_elements(By.CSS_SELECTOR, ".opblock-description"))[0]
    assert "`" not in description.text
    assert "booking.no_show" in [code.text for code in description.find_elements(By.CSS_SELECTOR, "code")]


def test_the_page_and_its_assets_are_served_by_the_app(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "https://" not in page.text and "http://" not in page.text
    bundle = client.get("/docs/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "javascript" in bundle.mimetype
    assert client.get("/docs/swagger-ui/index.html").status_code == 404
    assert client.get("/docs/swagger-ui/..%2F__init__.py").status_code == 404
