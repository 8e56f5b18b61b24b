"""The OpenAPI 3.1 description of the API, built from the routes in app.url_map and the very
pydantic models their handlers parse with, so it cannot drift from what the code does.

How to describe a route: put @describe between the route decorator and the auth decorator,
naming the models the handler really uses, and give the handler a docstring:

    @bp.post("")
    @describe(body=BookingIn, responses={201: BookingCreated, 409: BookingConflict})
    @login_required
    def create_booking():
        '''Book time.

        The lines after the first are the operation's description (Markdown).'''

- The docstring's first paragraph is the operation's summary, shown as plain text (so without
  its backticks); the rest is its description (Markdown).
- The operation's tag, its section of the reference, is its blueprint's (BLUEPRINT_TAGS);
  `tag` names another of TAGS for a route that reads better elsewhere.
- `body`: the Body model the handler passes to parse(). `query`: the Query model it passes to
  parse_query() (or through parse_window()). Path parameters come from the rule itself.
- `responses`: status -> what the body is: a Shape model (or a type pydantic can describe,
  such as list[Notification]), None for no body, or a media type such as "text/calendar" for
  a body that is not JSON. Route-specific errors are Error (or a subclass with its details).
- Added for you: 401, 403, 429 and the security schemes for @login_required(scope) (a login
  token, or an API key holding `scope`; scope None: login tokens only) and @require_role,
  400 when the route parses a body, a query or path parameters, 404 with path parameters,
  413 and 415 with a body, 503 (with Retry-After) everywhere. A query model with a `cursor` field makes the
  route a paged list: its 200 carries the `Link` header. A route that reads a token when one
  is sent, without requiring it, says `optional_token=True`.
- A route under @idempotent (scheduler/idempotency.py) gets the `Idempotency-Key` header, and
  409 and 422. `conditional="read"` (a GET with an ETag) adds `If-None-Match` and 304;
  `conditional="write"` (a change that honours If-Match) adds `If-Match` and 412; both
  document the `ETag` header of the 200.
- A route that serves a page for people (HTML and its assets) rather than an API operation
  says @page instead, and stays out of the spec.

Every rule in app.url_map (but Flask's own `static` files) carries one or the other:
spec(app) raises Undescribed naming any that don't, so tests/test_openapi.py fails for a
route added without its description. The tests' client checks every response it gets
against this description (status, media type, body schema), and the fuzz test does the
same for what schemathesis generates."""

import inspect
import re
from dataclasses import dataclass
from http import HTTPStatus

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from .timezones import known_zones
from .validation import WITHOUT_NUL, ZONE_MARK

REF = "#/components/schemas/{model}"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
RULE_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CONVERTERS = {
    "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "int": {"type": "integer", "minimum": 0},
    "day": {"type": "string", "format": "date", "description": "YYYY-MM-DD."},
    "default": {"type": "string"},
    "string": {"type": "string"},
}
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "The `token` from `POST /api/v1/auth/register` or `/auth/login`."}
API_KEY = {"type": "http", "scheme": "bearer", "bearerFormat": "schd_...",
           "description": "The `key` from `POST /api/v1/api-keys`, sent as `Authorization: Bearer schd_...`. "
                          "Each operation names the scope it needs; without it, 403 with `required_scope`. "
                          "Each answer carries `RateLimit-Policy` and `RateLimit`; past API_KEY_RATE_LIMIT "
                          "requests a minute, 429 with `Retry-After`."}
LINK = {"description": 'The next page, when there is one: `<URL>; rel="next"`. Follow it as given.',
        "schema": {"type": "string"}}
RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 1}}
ETAG = {"description": "Strong entity tag of the booking as GET shows it; send it back as If-Match.",
        "schema": {"type": "string"}}
REPLAYED = {"description": "`true` when this is the recorded response to an earlier request with the same key.",
            "schema": {"type": "string", "enum": ["true"]}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes the request safe to retry: the same key with the same body replays the first response "
                   "(for IDEMPOTENCY_TTL, 24 h); with another body it is 422; while the first still runs, 409. "
                   "1-255 printable ASCII characters, bare or quoted; a fresh UUID per operation.",
    # Bare: no space, quote or backslash; quoted ("..."): spaces too (scheduler/idempotency.py).
    "schema": {"type": "string", "pattern": r'^(?:[!#-\[\]-~]{1,255}|"[ !#-\[\]-~]{1,255}")$'}}
CONDITIONAL_HEADERS = {
    "read": {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The ETag you have: 304 without a body if it is still current."},
    "write": {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
              "description": "The ETag you read: 412 and nothing changes if the booking changed since."},
}

# The reference's sections in a reader's order, each with what it holds (Swagger UI shows them
# in this order, as its tagsSorter is left unset).
TAGS = {
    "auth": "Accounts, login tokens, my profile and password, the users list (admins), API keys.",
    "bookings": "Book time with attendees, once or as a series; move, cancel, confirm; iCalendar files; sync.",
    "booking links": "What a public booking link offers, and guests' bookings through it (no account).",
    "event types": "What booking links offer: a person's event types and an organisation's.",
    "schedules": "Working hours in a time zone, date overrides, time off; my availability and busy times.",
    "calendars": "External calendars read for busy times (CalDAV also written to); my calendar feed.",
    "organisations": "Teams: members, invitations, roles, and when every chosen member is free.",
    "webhooks": "Booking events posted to your URL, signed, with a delivery log.",
    "notifications": "In-app notifications and the unread count.",
    "analytics": "Usage events and the dashboard.",
    "service": "Health, and this description.",
}

# The introduction names every area as its section of the reference does (TAGS).
INTRODUCTION = ("A REST scheduling API. Its areas, in the order below:\n\n"
                + "\n".join(f"- **{name}**: {what}" for name, what in TAGS.items()) + "\n\n"
                + """JSON in and out; writes can carry an `Idempotency-Key`, and bookings have ETags for `If-Match`.

**Errors** are `{"error": "...", ...details}`; invalid input adds `fields: {name: why}`.
**Times** are ISO 8601, years 1900-2999 (in UTC too). A time with an offset is taken as
given; one without is wall-clock time in the request's `timezone` (else the user's own).
Responses are in UTC. Whole numbers may be written 30 or 30.0.
**Lists** take `limit` (1-200, default 50); when there is more, the response's `Link` header
points to the next page (`rel="next"`); a `cursor` is valid only as a `Link` gives it. Every
response carries `X-Request-ID`.""")

# Each blueprint's section; a route may name another with describe(tag=...).
BLUEPRINT_TAGS = {
    "auth": "auth", "users": "auth", "api_keys": "auth",
    "bookings": "bookings",
    "public": "booking links", "guest_bookings": "booking links",
    "event_types": "event types", "team_event_types": "event types",
    "schedules": "schedules", "time_off": "schedules",
    "calendars": "calendars", "calendar": "calendars",
    "organizations": "organisations",
    "webhooks": "webhooks",
    "notifications": "notifications",
    "analytics": "analytics",
    "health": "service", "docs": "service",
}

# What a body may hold besides its fields: any JSON (ignored) without NUL in its text.
ANY_JSON = {
    "description": "Ignored; any JSON without NUL characters, nested at most 32 levels deep.",
    "anyOf": [{"type": ["null", "boolean", "number"]}, {"type": "string", "pattern": WITHOUT_NUL},
              {"type": "array", "items": {"$ref": REF.format(model="AnyJson")}},
              {"type": "object", "propertyNames": {"pattern": WITHOUT_NUL},
               "additionalProperties": {"$ref": REF.format(model="AnyJson")}}]}

# Every name as one pattern rather than an enum, which fuzzers try value by value (~600 of them).
TIME_ZONE = {"type": "string", "pattern": "^(?:" + "|".join(sorted(known_zones())).replace("+", r"\+") + ")$",
             "description": "An IANA time zone name, such as Europe/Berlin or UTC.", "examples": ["Europe/Berlin"]}

AUTOMATIC = {
    400: "Invalid input: `error` says why, `fields` which field.",
    401: "No valid token or API key: missing, expired, revoked or replaced by a password change.",
    403: "Authenticated, but not allowed (for an API key: `required_scope` names the scope it lacks).",
    429: "Too many requests: `Retry-After` says when to try again.",
    404: "Not found (also for rows that are not yours).",
    413: "Body over 64 KiB.",
    415: "Body is not JSON.",
    503: "A dependency (PostgreSQL) is unavailable or busy; `Retry-After` says when to try again.",
}


class Shape(BaseModel):
    """A response body, field for field. Extra fields are an error (the tests check every
    response against its shape), so a new column can't reach clients undescribed."""

    model_config = ConfigDict(extra="forbid")


class Error(Shape):
    """Every error: `error` says what went wrong; invalid input adds `fields`."""

    error: str
    fields: dict[str, str] = Field(default_factory=dict, description="Which input field is wrong, and why.")


# What a conditional route adds to its responses.
CONDITIONAL_RESPONSES = {"read": {304: None}, "write": {412: Error}}


class Refused(Error):
    """Authenticated, but not allowed."""

    required_scope: str | None = Field(default=None, description="For an API key: the scope it lacks.")


class RetryLater(Error):
    """An error that says when to ask again."""

    retry_after: int = Field(ge=1, description="Seconds to wait, as in the Retry-After header.")


class RateLimited(RetryLater):
    """Too many requests: wait `retry_after` seconds."""


class Unavailable(RetryLater):
    """A dependency is down, or every database connection stayed busy."""


class Message(Shape):
    message: str


@dataclass(frozen=True)
class Operation:
    body: type | None
    query: type | None
    responses: dict
    optional_token: bool
    conditional: str | None
    tag: str | None = None


PAGE = "page"


class Undescribed(Exception):
    """Routes in the app with neither @describe nor @page."""


def describe(*, responses, body=None, query=None, optional_token=False, conditional=None, tag=None):
    """Attaches the route's description to its view; see the module's docstring."""
    if tag is not None and tag not in TAGS:
        raise ValueError(f"unknown tag {tag!r}: one of {', '.join(TAGS)}")

    def attach(view):
        if not (view.__doc__ or "").strip():
            raise TypeError(f"{view.__name__}: a described route needs a docstring (its summary)")
        view.openapi = Operation(body, query, dict(responses), optional_token, conditional, tag)
        return view
    return attach


def page(view):
    """Marks a route that serves a page for people, not an API operation: left out of the spec."""
    view.openapi = PAGE
    return view


def spec(app):
    """The app's OpenAPI document, built once (routes don't change after start-up)."""
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = build(app)
    return app.extensions["openapi"]


def build(app, *, skip_undescribed=False):
    """The document; raises Undescribed for routes without a description unless told to skip
    them (the tests' response checker does, for routes a test adds on the fly)."""
    routes, missing = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, "openapi", None)
        if operation is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
        elif operation is not PAGE:
            routes.append((rule, view, operation))
    if missing and not skip_undescribed:
        raise Undescribed("routes without @describe or @page: " + ", ".join(missing))
    untagged = [f"{rule.rule} ({rule.endpoint})" for rule, _, operation in routes if tag_of(rule, operation) not in TAGS]
    if untagged and not skip_undescribed:
        raise Undescribed("routes whose blueprint has no tag in BLUEPRINT_TAGS: " + ", ".join(untagged))

    schemas = Schemas()
    paths = {}
    for rule, view, operation in routes:
        path = path_of(rule)
        for method in sorted(rule.methods - IGNORED_METHODS):
            paths.setdefault(path, {})[method.lower()] = operation_object(rule, view, operation, schemas)
    components = schemas.resolve() | {
        "AnyJson": ANY_JSON,
        "TimeZone": TIME_ZONE}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Scheduler API", "version": "1", "description": INTRODUCTION},
        "tags": [{"name": name, "description": description} for name, description in TAGS.items()],
        "paths": schemas.fill(paths),
        "components": {"schemas": schemas.fill(components), "securitySchemes": {"bearer": BEARER, "apiKey": API_KEY}},
    }


def path_of(rule):
    """The rule's path as OpenAPI writes it: /bookings/<id:booking_id> -> /bookings/{booking_id}."""
    return RULE_ARGUMENT.sub(r"{\2}", rule.rule)


class Schemas:
    """Collects every type the operations name and generates their JSON Schemas in one go,
    so that each model is one named component however many operations use it."""

    def __init__(self):
        self.pending = {}

    def ref(self, kind, mode):
        """A placeholder for `kind`'s schema, filled in by resolve()."""
        key = (repr(kind), mode)
        self.pending[key] = (kind, mode)
        return {"$placeholder": key}

    def resolve(self):
        inputs = [(key, mode, TypeAdapter(kind)) for key, (kind, mode) in self.pending.items()]
        generated, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF, schema_generator=WithoutNul)
        self.generated = {key: schema for (key, _), schema in generated.items()}
        return definitions.get("$defs", {})

    def fill(self, node):
        """Replaces the placeholders in `node` (after resolve())."""
        if isinstance(node, dict):
            if "$placeholder" in node:
                return self.fill(self.generated[node["$placeholder"]])
            if node.get(ZONE_MARK):
                return {"$ref": REF.format(model="TimeZone")} | {
                    key: value for key, value in node.items() if key not in (ZONE_MARK, "type")}
            return {key: self.fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.fill(item) for item in node]
        return node


class WithoutNul(GenerateJsonSchema):
    """Says of every plain string in a request body that it holds no NUL (a pattern of its own
    excludes it already). Query parameters are described without it."""

    def str_schema(self, schema):
        result = super().str_schema(schema)
        if self.mode == "validation":
            result.setdefault("pattern", WITHOUT_NUL)
        return result


def tag_of(rule, operation):
    """The operation's section: its own tag, else its blueprint's (else the blueprint's name,
    which build() refuses unless told to skip)."""
    blueprint = rule.endpoint.partition(".")[0]
    return operation.tag or BLUEPRINT_TAGS.get(blueprint, blueprint)


def summary_and_description(docstring):
    """The docstring's first paragraph as plain text (Swagger UI shows a summary as it is, so
    Markdown's backticks would show), and the rest as the Markdown description."""
    summary, _, description = inspect.cleandoc(docstring).partition("\n\n")
    return " ".join(summary.replace("`", "").split()), description.strip()


def operation_object(rule, view, operation, schemas):
    summary, description = summary_and_description(view.__doc__)
    path_parameters = [
        {"name": name, "in": "path", "required": True, "schema": CONVERTERS.get(converter or "default", CONVERTERS["default"])}
        for converter, name in RULE_ARGUMENT.findall(rule.rule)
    ]
    query_parameters = parameters(operation.query) if operation.query else []
    needs_token = getattr(view, "token_required", False)
    role = getattr(view, "required_role", None)

    automatic = {503}
    if operation.body or operation.query or path_parameters:
        automatic.add(400)
    if path_parameters:
        automatic.add(404)
    if operation.body:
        automatic |= {413, 415}
    if needs_token:
        automatic |= {401, 403, 429}
    responses = ({status: {503: Unavailable, 429: RateLimited}.get(status, Error) for status in automatic}
                 | operation.responses)
    if needs_token and responses[403] is Error:
        responses[403] = Refused
    headers = []
    if getattr(view, "idempotent", False):
        headers.append(IDEMPOTENCY_KEY)
        responses = {409: Error, 422: Error} | responses
    if operation.conditional:
        headers.append(CONDITIONAL_HEADERS[operation.conditional])
        responses |= CONDITIONAL_RESPONSES[operation.conditional]
    paged = operation.query is not None and "cursor" in operation.query.model_fields

    result = {
        "operationId": rule.endpoint.replace(".", "_"),
        "tags": [tag_of(rule, operation)],
        "summary": summary,
        "parameters": path_parameters + query_parameters + headers,
        "responses": {str(status): response_object(status, kind, schemas, paged)
                      for status, kind in sorted(responses.items())},
    }
    if operation.conditional and "200" in result["responses"]:
        result["responses"]["200"].setdefault("headers", {})["ETag"] = ETAG
    if getattr(view, "idempotent", False):
        for status, response in result["responses"].items():
            if status[0] in "24":
                response.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED
    notes = [description] if description else []
    if role:
        notes.append(f"Requires the `{role}` role.")
    if needs_token:
        notes.append(f"API key scope: `{view.scope}`." if view.scope else "Login token only: an API key gets 403.")
    if notes:
        result["description"] = "\n\n".join(notes)
    if operation.body:
        # A body that {} satisfies (no field required, and not a change that asks for one of
        # several, validation.at_least_one) may be left out: validation.json_body reads none as {}.
        body = operation.body
        required = (any(field.is_required() for field in body.model_fields.values())
                    or hasattr(body.model_config.get("json_schema_extra"), "one_of"))
        result["requestBody"] = {"required": required,
                                 "content": {"application/json": {"schema": schemas.ref(operation.body, "validation")}}}
    if needs_token:
        result["security"] = [{"bearer": []}] + ([{"apiKey": [view.scope]}] if view.scope else [])
    elif operation.optional_token:
        result["security"] = [{}, {"bearer": []}]
    else:
        result["security"] = []
    return result


def parameters(model):
    """A flat Query model as query parameters (names are the aliases clients send)."""
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    required = set(schema.get("required", ()))
    found = []
    for name, prop in schema["properties"].items():
        prop = without_null(prop)
        description = prop.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        found.append(parameter)
    return found


def without_null(prop):
    """A query parameter's schema: an optional one is left out, never sent as null."""
    prop = {key: value for key, value in prop.items() if key != "title"}
    branches = [branch for branch in prop.get("anyOf", ()) if branch != {"type": "null"}]
    if len(branches) == 1:
        del prop["anyOf"]
        prop = branches[0] | prop
    if prop.get("default", ...) is None:
        del prop["default"]
    return prop


def response_object(status, kind, schemas, paged):
    automatic = status in AUTOMATIC and kind in (Error, Refused, RateLimited, Unavailable)
    result = {"description": AUTOMATIC[status] if automatic else HTTPStatus(status).phrase}
    if kind is None:
        return result
    if isinstance(kind, str):
        result["content"] = {kind: {"schema": {"type": "string"}}}
    else:
        result["content"] = {"application/json": {"schema": schemas.ref(kind, "serialization")}}
    if status == 200 and paged:
        result["headers"] = {"Link": LINK}
    if status in (429, 503):
        result["headers"] = {"Retry-After": RETRY_AFTER}
    return result
