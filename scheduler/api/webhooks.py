"""Webhook endpoints: a user's own, or an organisation's (managed by its owner and admins).
Anyone else's is a 404. The signing secret is shown when it is made (create, rotate) and never
again; the database keeps it sealed with SECRET_KEYS (scheduler/sealing.py)."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from flask import Blueprint, g
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from .. import clock, jobs
from ..auth import login_required, organization_key, require_key_scope
from ..context import redis_client, settings, single_statement, transaction
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..memberships import manages, membership
from ..openapi import Error, Message, Shape, describe
from ..pagination import PageQuery, paginated
from ..repositories import webhooks
from ..sealing import WEBHOOK_SECRET
from ..validation import Body, Paragraphs, RowId, at_least_one, parse, parse_query
from ..egress import BlockedAddress, UnresolvableHost, check_host
from ..webhooks.events import BOOKING_EVENTS, TEST_EVENT, max_attempts, payload
from ..webhooks.signing import new_secret

bp = Blueprint("webhooks", __name__)

ROTATION_GRACE_SECONDS = 24 * 3600
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_url(value):
    """An absolute http(s) URL with a host and no credentials (they would end up in logs)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError("must be a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    if parts.fragment:
        raise ValueError("must not contain a #fragment")
    return value


# What check_url accepts, less exotic hosts (IPv6 literals, non-ASCII names) for the description.
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?][^#\s\u0000-\u001f]*)?$"
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048), AfterValidator(check_url),
                Field(json_schema_extra={"pattern": URL_PATTERN}, description=(
                    "An http(s) URL without credentials or #fragment; unless EGRESS_ALLOW_PRIVATE, its host must "
                    "resolve to public addresses only."))]
EventType = Literal[BOOKING_EVENTS]
Events = Annotated[list[EventType], Field(min_length=1, max_length=len(BOOKING_EVENTS)),
                   AfterValidator(lambda events: sorted(set(events)))]
Description = Paragraphs(500)


class WebhookIn(Body):
    url: Url
    events: Events
    description: Description | None = None
    organization_id: RowId | None = None


class WebhookPatch(Body):
    """A null is the same as leaving the field out."""

    model_config = ConfigDict(json_schema_extra=at_least_one("url", "events", "description", "enabled"))
    url: Url | None = None
    events: Events | None = None
    description: Description | None = None
    enabled: bool | None = None


class DeliveryQuery(PageQuery):
    status: Literal["pending", "sending", "delivered", "failed"] | None = None


class Webhook(Shape):
    id: int
    user_id: int | None = Field(description="The person whose webhook it is; null for an organization's.")
    organization_id: int | None = Field(description="The organization whose webhook it is; null for a person's.")
    url: str
    description: str | None
    events: list[EventType]
    enabled: bool
    disabled_reason: str | None = Field(description="Why the worker disabled it (410 Gone, a day of failures).")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous secret also signs.")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    secret: str = Field(description="`whsec_` + base64 of 32 random bytes. Shown only now: keep it.")


class WebhookCreated(Shape):
    message: str
    webhook: WebhookWithSecret


class WebhookSaved(Shape):
    message: str
    webhook: Webhook


class Attempt(Shape):
    attempted_at: datetime
    response_status: int | None = Field(description="The receiver's HTTP status; null if none came.")
    latency_ms: int
    error: str | None = Field(description="Why the attempt failed; null for a 2xx.")


class Delivery(Shape):
    id: int
    endpoint_id: int
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    type: str = Field(description="The event type, or `webhook.test`.")
    status: Literal["pending", "sending", "delivered", "failed"]
    next_attempt_at: datetime = Field(description="When a pending delivery is tried next.")
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[Attempt]


class DeliveryQueued(Shape):
    message: str
    delivery: Delivery


def check_reachable(url):
    """400 unless the URL's host resolves to public addresses only (EGRESS_ALLOW_PRIVATE lifts
    it). The worker checks again, at each connection, on the address it connects to."""
    if settings().egress_allow_private:
        return
    parts = urlsplit(url)
    try:
        check_host(parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
    except (BlockedAddress, UnresolvableHost) as exc:
        raise BadRequest(f"Invalid input: url: {exc}", fields={"url": str(exc)}) from None


def sealed(secret):
    return settings().secret_keys.seal_text(secret, WEBHOOK_SECRET)


def managed(cur, endpoint_id):
    """The endpoint if I manage it; 404 otherwise, whether or not it exists."""
    endpoint = webhooks.find_managed(cur, endpoint_id, g.user["id"], organization_key())
    if endpoint is None:
        raise NotFound("Webhook not found")
    return endpoint


def check_key_reads_bookings():
    require_key_scope("bookings:read", "a webhook receives the bookings")


def check_manages_organization(cur, org_id):
    if not manages(membership(cur, org_id)):
        raise Forbidden("Only the organization owner and admins can manage its webhooks")


@bp.post("")
@describe(body=WebhookIn, responses={201: WebhookCreated, 403: Error, 404: Error})
@login_required("webhooks:write", organization=True)
def create_webhook():
    """Subscribe a URL to booking events.

    Without `organization_id` the webhook is mine: it receives the events of bookings I attend.
    With it (owner and admins of the organization only) it receives the events of bookings in
    which a member who accepted the organization takes part. The signing secret is in the
    answer and never shown again. The URL must be http(s) and, unless the server allows it,
    resolve to public addresses only. An organisation's API key makes (and sees) only its
    organisation's webhooks, and an API key needs `bookings:read` too (the webhook receives the
    bookings)."""
    data = parse(WebhookIn)
    check_key_reads_bookings()
    organization_id = data.organization_id or organization_key()
    if organization_key() not in (None, organization_id):
        raise NotFound("Organization not found")
    check_reachable(data.url)
    secret = new_secret()
    with transaction() as cur:
        if organization_id is not None:
            check_manages_organization(cur, organization_id)
        endpoint = webhooks.insert_endpoint(
            cur, user_id=None if organization_id else g.user["id"], organization_id=organization_id,
            url=data.url, description=data.description, events=data.events, secret_sealed=sealed(secret))
    return {"message": "Webhook created; keep the secret, it is not shown again",
            "webhook": endpoint | {"secret": secret}}, 201


@bp.get("")
@describe(query=PageQuery, responses={200: list[Webhook]})
@login_required("webhooks:read", organization=True)
def list_webhooks():
    """The webhooks I manage: mine, and those of organizations I own or administer."""
    query = parse_query(PageQuery)
    with single_statement() as cur:
        return paginated(query, ("id",), lambda after, limit: webhooks.list_managed(
            cur, g.user["id"], only_organization=organization_key(), after=after, limit=limit))


@bp.get("/<id:endpoint_id>")
@describe(responses={200: Webhook})
@login_required("webhooks:read", organization=True)
def get_webhook(endpoint_id):
    """One webhook I manage (without its secret)."""
    with single_statement() as cur:
        return managed(cur, endpoint_id)


@bp.patch("/<id:endpoint_id>")
@describe(body=WebhookPatch, responses={200: WebhookSaved})
@login_required("webhooks:write", organization=True)
def update_webhook(endpoint_id):
    """Change the URL, events or description, or disable or enable it.

    Enabling a webhook the worker disabled starts afresh; deliveries that were pending resume,
    failed ones can be retried from the log. An API key changing where or what it sends, or
    enabling it, needs `bookings:read` too."""
    data = parse(WebhookPatch)
    if data.model_dump(exclude_none=True) == {}:
        raise BadRequest("Provide at least one of url, events, description, enabled to update")
    if data.url is not None or data.events is not None or data.enabled:
        check_key_reads_bookings()
    if data.url is not None:
        check_reachable(data.url)
    with transaction() as cur:
        managed(cur, endpoint_id)
        endpoint = webhooks.update_endpoint(cur, endpoint_id, url=data.url, description=data.description,
                                            events=data.events, enabled=data.enabled)
    return {"message": "Webhook updated", "webhook": endpoint}


@bp.delete("/<id:endpoint_id>")
@describe(responses={200: Message})
@login_required("webhooks:write", organization=True)
def delete_webhook(endpoint_id):
    """Delete a webhook and its delivery log."""
    with transaction() as cur:
        managed(cur, endpoint_id)
        webhooks.delete_endpoint(cur, endpoint_id)
    return {"message": "Webhook deleted"}


@bp.post("/<id:endpoint_id>/rotate-secret")
@describe(responses={200: WebhookCreated})
@login_required("webhooks:write", organization=True)
def rotate_secret(endpoint_id):
    """Replace the signing secret.

    The answer shows the new secret, once. For 24 hours the old one signs beside it (two
    signatures in `webhook-signature`), so receivers can switch over without losing events."""
    secret = new_secret()
    with transaction() as cur:
        managed(cur, endpoint_id)
        endpoint = webhooks.rotate_secret(cur, endpoint_id, sealed(secret), grace_seconds=ROTATION_GRACE_SECONDS)
    return {"message": "Secret rotated; the previous one also signs until previous_secret_expires_at",
            "webhook": endpoint | {"secret": secret}}


def enabled(endpoint):
    if not endpoint["enabled"]:
        raise Conflict("The webhook is disabled; enable it first (PATCH with enabled: true)")
    return endpoint


@bp.post("/<id:endpoint_id>/test")
@describe(responses={202: DeliveryQueued, 409: Error})
@login_required("webhooks:write", organization=True)
def test_webhook(endpoint_id):
    """Send a `webhook.test` event.

    It goes through the worker, signed and retried like any other, and shows in the log."""
    with transaction() as cur:
        enabled(managed(cur, endpoint_id))
        [delivery] = webhooks.add_deliveries(cur, [endpoint_id], type=TEST_EVENT,
                                             payload=payload(TEST_EVENT, {"webhook_id": endpoint_id}),
                                             max_attempts=max_attempts(settings()))
    jobs.deliver_webhooks(redis_client(), [delivery["id"]])
    return {"message": "Test event queued", "delivery": delivery}, 202


@bp.get("/<id:endpoint_id>/deliveries")
@describe(query=DeliveryQuery, responses={200: list[Delivery]})
@login_required("webhooks:read", organization=True)
def list_deliveries(endpoint_id):
    """The delivery log, newest first: each delivery with its attempts (status, latency, error)."""
    query = parse_query(DeliveryQuery)
    with transaction() as cur:
        managed(cur, endpoint_id)
        return paginated(query, ("id",), lambda after, limit: webhooks.list_deliveries(
            cur, endpoint_id, status=query.status, after=after, limit=limit))


@bp.post("/<id:endpoint_id>/deliveries/<id:delivery_id>/retry")
@describe(responses={202: DeliveryQueued, 409: Error})
@login_required("webhooks:write", organization=True)
def retry_delivery(endpoint_id, delivery_id):
    """Attempt a delivery again, now.

    Whatever its state: a failed one gets one more attempt, a delivered one is sent again
    (with the same `webhook-id`). 409 while an attempt is under way or the webhook is disabled."""
    with transaction() as cur:
        enabled(managed(cur, endpoint_id))
        delivery = webhooks.retry(cur, endpoint_id, delivery_id, now=clock.now())
        if delivery is None:
            if webhooks.delivery_status(cur, endpoint_id, delivery_id) is None:
                raise NotFound("Delivery not found")
            raise Conflict("An attempt of this delivery is under way")
    jobs.deliver_webhooks(redis_client(), [delivery["id"]])
    return {"message": "Delivery queued", "delivery": delivery}, 202
