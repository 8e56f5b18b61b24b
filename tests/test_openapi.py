"""The OpenAPI description: valid OpenAPI 3.1, complete (every route described), served."""

import re

import pytest
from openapi_spec_validator import validate

from scheduler import create_app
from scheduler.openapi import PAGE, Message, Undescribed, build, describe, page, path_of


def test_the_description_is_valid_openapi_3_1(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    document = r.json
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_described(app):
    """Every route of the app, but static files and pages for people, is an operation."""
    document = build(app)
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static") or app.view_functions[rule.endpoint].openapi == PAGE:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path_of(rule), method.lower()) in described, f"{method} {rule.rule} is not in the description"
    assert len(described) >= 40


def test_a_route_without_a_description_fails(settings, redis_conn):
    app = create_app(settings)
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: {})
    with pytest.raises(Undescribed, match="/api/v1/forgotten"):
        build(app)
    app.extensions["runtime"].db.close()


def test_a_route_outside_the_tagged_blueprints_fails(settings, redis_conn):
    def stray():
        """A route of no blueprint that BLUEPRINT_TAGS lists."""
        return {"message": "hello"}

    app = create_app(settings)
    app.add_url_rule("/api/v1/stray", "stray", describe(responses={200: Message})(stray))
    with pytest.raises(Undescribed, match="/api/v1/stray"):
        build(app)
    app.extensions["runtime"].db.close()


def test_a_page_is_left_out_on_purpose(settings, redis_conn):
    app = create_app(settings)
    app.add_url_rule("/welcome", "welcome", page(lambda: "<p>hello</p>"))
    assert "/welcome" not in build(app)["paths"]
    app.extensions["runtime"].db.close()


def test_a_description_needs_a_summary():
    with pytest.raises(TypeError, match="docstring"):
        describe(responses={200: None})(lambda: {})


def test_operations_say_who_may_call_them(app):
    paths = build(app)["paths"]
    assert paths["/api/v1/bookings"]["post"]["security"] == [{"bearer": []}, {"apiKey": ["bookings:write"]}]
    assert {"401", "403", "429"} <= set(paths["/api/v1/bookings"]["post"]["responses"])
    assert paths["/api/v1/api-keys"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/api/v1/analytics/event"]["post"]["security"] == [{}, {"bearer": []}]
    admin_only = paths["/api/v1/users"]["get"]
    assert "403" in admin_only["responses"] and "admin" in admin_only["description"]


def test_request_bodies_and_queries_are_the_models_the_handlers_parse(app):
    document = build(app)
    create = document["paths"]["/api/v1/bookings"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BookingIn"}
    assert document["components"]["schemas"]["BookingIn"]["required"] == ["title", "start", "end"]
    listing = document["paths"]["/api/v1/bookings"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"from", "to", "status", "limit", "cursor", "timezone"}
    assert "Link" in listing["responses"]["200"]["headers"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Booking"}}


def test_path_parameters_are_positive_ids(app):
    document = build(app)
    parameter, = [p for p in document["paths"]["/api/v1/bookings/{booking_id}"]["get"]["parameters"] if p["in"] == "path"]
    assert parameter == {"name": "booking_id", "in": "path", "required": True,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def test_errors_have_one_documented_shape(app):
    document = build(app)
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    responses = document["paths"]["/api/v1/bookings/{booking_id}"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415", "503"} <= set(responses)


def test_the_tests_client_refuses_responses_that_break_the_description(app):
    """Every test's client checks responses against the description, so the two can't drift."""
    def leaky():
        """A route whose response has a field its shape lacks."""
        return {"message": "hello", "password_hash": "x"}

    def wrong_status():
        """A route that answers with a status it doesn't list."""
        return {"message": "hello"}, 202

    app.add_url_rule("/api/v1/leaky", "leaky", describe(responses={200: Message})(leaky))
    app.add_url_rule("/api/v1/wrong-status", "wrong_status", describe(responses={200: Message})(wrong_status))
    client = app.test_client()
    with pytest.raises(AssertionError, match="password_hash"):
        client.get("/api/v1/leaky")
    with pytest.raises(AssertionError, match="202"):
        client.get("/api/v1/wrong-status")


def schema_of(document, name):
    return document["components"]["schemas"][name]


def matches(schema, text):
    return re.search(schema["pattern"], text) is not None


def test_the_idempotency_key_format_is_stated(app):
    from scheduler.errors import BadRequest
    from scheduler.idempotency import parse_key
    operation = build(app)["paths"]["/api/v1/bookings"]["post"]
    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    for key in ("abc", "a" * 255, '"with space"', "7c9e6679-7425-40de-944b-e07fc1f90ae7", "", "a" * 256,
                "with space", 'a"b', "a\\b", '"a"b"', "caf\u00e9", '""'):
        try:
            parse_key(key)
            accepted = True
        except BadRequest:
            accepted = False
        assert matches(header["schema"], key) == accepted, key


def test_patch_fields_that_cannot_be_cleared_are_not_nullable(app):
    """A PATCH field that refuses null is not described as nullable, and an empty change is refused."""
    patch = schema_of(build(app), "EventTypePatch")
    nullable = {name for name, prop in patch["properties"].items()
                if {"type": "null"} in prop.get("anyOf", ())}
    assert nullable == {"description", "location", "daily_limit", "weekly_limit", "schedule_id", "seats", "embed_origins"}
    assert {"required": ["title"]} in patch["anyOf"]
    booking_patch = schema_of(build(app), "BookingPatch")
    assert {"required": ["end"], "properties": {"end": {"not": {"type": "null"}}}} in booking_patch["anyOf"]


def test_time_zones_and_times_are_stated_as_the_parsers_take_them(app):
    from scheduler.timezones import known_zones
    from scheduler.validation import parse_time
    document = build(app)
    zone = schema_of(document, "TimeZone")
    assert all(matches(zone, name) for name in known_zones())
    assert not any(matches(zone, name) for name in ("Mars/Olympus", "europe/berlin", "", "UTC "))
    start = schema_of(document, "BookingIn")["properties"]["start"]
    for text in ("2030-01-31T09:00", "2030-04-30T09:00:00.5+05:30", "1901-12-31T23:59:59Z"):
        assert matches(start, text) and parse_time(text)
    assert not any(matches(start, text) for text in ("2030-02-30T09:00", "0158-03-30T22:16:47Z", "3000-01-01T00:00Z"))


def test_body_text_is_stated_without_nul(app):
    """check_contents refuses NUL anywhere in a body, ignored members included."""
    document = build(app)
    title = schema_of(document, "BookingIn")["properties"]["title"]
    assert matches(title, "Standup") and not matches(title, "Stand\x00up")
    assert schema_of(document, "BookingIn")["additionalProperties"] == {"$ref": "#/components/schemas/AnyJson"}


READERS_ORDER = ["auth", "bookings", "booking links", "event types", "schedules", "calendars", "organisations",
                 "webhooks", "notifications", "analytics"]


def operations_of(document):
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def test_tags_come_in_a_reader_s_order_each_with_a_description(app):
    tags = build(app)["tags"]
    names = [tag["name"] for tag in tags]
    assert names[:len(READERS_ORDER)] == READERS_ORDER
    assert all(tag["description"].strip() for tag in tags)


def test_every_operation_has_one_listed_tag(app):
    document = build(app)
    listed = {tag["name"] for tag in document["tags"]}
    untagged = [f"{method} {path}" for method, path, operation in operations_of(document)
                if len(operation["tags"]) != 1 or operation["tags"][0] not in listed]
    assert untagged == []
    tag_of = {(method, path): operation["tags"][0] for method, path, operation in operations_of(document)}
    assert tag_of["POST", "/api/v1/api-keys"] == "auth"
    assert tag_of["POST", "/api/v1/public/{username}/{slug}/bookings"] == "booking links"
    assert tag_of["GET", "/api/v1/guest-bookings/{token}"] == "booking links"
    assert tag_of["GET", "/api/v1/organizations/{org_id}/event-types"] == "event types"
    assert tag_of["GET", "/api/v1/users/me/time-off"] == "schedules"
    assert tag_of["GET", "/calendar/{secret}.ics"] == "calendars"


def test_an_unknown_tag_is_refused():
    with pytest.raises(ValueError, match="unknown tag"):
        describe(responses={200: None}, tag="misc")


def test_summaries_are_plain_text_and_whole_sentences(app):
    """Swagger UI shows a summary as it is, on one line of the operation list: no Markdown, not
    cut at the docstring's line end, and short (the details go in the description)."""
    for method, path, operation in operations_of(build(app)):
        assert "`" not in operation["summary"], f"{method} {path}"
        assert "\n" not in operation["summary"], f"{method} {path}"
        assert len(operation["summary"]) <= 100, f"{method} {path}: {operation['summary']}"
        words = operation["summary"].lower().split()
        assert not any(a == b for a, b in zip(words, words[1:])), f"{method} {path}: {operation['summary']}"
    no_show = build(app)["paths"]["/api/v1/bookings/{booking_id}/no-show"]["post"]
    assert no_show["summary"] == "Mark who did not come to a booking I booked."
    assert no_show["description"].startswith("Its guest (`who: guest`;")


def test_the_introduction_names_every_area(app):
    introduction = build(app)["info"]["description"].lower()
    for area in READERS_ORDER + ["api keys", "webhooks", "booking links"]:
        assert area in introduction, area
