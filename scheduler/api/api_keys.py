"""API keys: made, listed and revoked with a login token only (a key can't make keys)."""

from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, g
from pydantic import AfterValidator, ConfigDict, Field

from .. import access_keys, announcements, clock
from ..auth import login_required
from ..context import send_messages, single_statement, transaction
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..memberships import manages, membership
from ..openapi import Error, Shape, describe
from ..repositories import api_keys as key_rows, locks
from ..validation import Body, DateTime, Name, RowId, Zone, in_zone, parse

bp = Blueprint("api_keys", __name__)

Scope = Literal[access_keys.SCOPES]


def distinct(scopes):
    return sorted(set(scopes), key=access_keys.SCOPES.index)


class ApiKeyIn(Body):
    """Unknown members are refused here, unlike other bodies: a misspelt `expiresAt` or
    `organisation_id` would otherwise make a key that never expires, or a person's key."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(access_keys.SCOPES)),
                      AfterValidator(distinct)] = Field(description="What the key may do (docs/api-keys.md).")
    expires_at: DateTime | None = Field(default=None, description="ISO 8601, in the future; none: until revoked.")
    timezone: Zone | None = Field(default=None, description="For an `expires_at` without offset; default mine.")
    organization_id: RowId | None = Field(
        default=None, description="A key of this organisation (its owner and admins only): it reaches only the "
                                  "organisation's routes, and only while I own or administer it.")


class ApiKey(Shape):
    id: int
    user_id: int = Field(description="Who made it: it acts as they do.")
    name: str
    scopes: list[Scope]
    prefix: str = Field(description="The key's first 13 characters, to recognise it; never the key.")
    organization_id: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To the minute.")


class ApiKeyCreated(Shape):
    message: str
    api_key: ApiKey
    key: str = Field(description="The key itself: shown this once, never again.")


class ApiKeyRevoked(Shape):
    message: str
    api_key: ApiKey


@bp.post("")
@describe(body=ApiKeyIn, responses={201: ApiKeyCreated, 403: Error, 404: Error, 409: Error})
@login_required(None)
def create_api_key():
    """Make an API key.

    The answer holds the key, once: keep it like a password. It acts as I do within its
    `scopes`, never more (a right I lose, it loses). At most 50 keys each (409 beyond)."""
    data = parse(ApiKeyIn)
    expires_at = in_zone(data.timezone or g.user["timezone"], expires_at=data.expires_at)["expires_at"]
    if expires_at is not None and expires_at <= clock.now():
        raise BadRequest("Invalid input: expires_at: must be in the future", fields={"expires_at": "must be in the future"})
    key = access_keys.new_key()
    with transaction() as cur:
        if data.organization_id is not None and not manages(membership(cur, data.organization_id)):
            raise Forbidden("Forbidden: only the organization owner and admins can make its API keys")
        locks.lock_people(cur, [g.user["id"]])  # the count of my keys holds until this one is in
        created = key_rows.insert(cur, user_id=g.user["id"], organization_id=data.organization_id, name=data.name,
                                  scopes=data.scopes, prefix=access_keys.shown_part(key), key_hash=access_keys.key_hash(key),
                                  expires_at=expires_at)
        if created is None:
            raise Conflict(f"At most {key_rows.MAX_PER_USER} API keys each: revoke one first")
        send_messages(cur, announcements.api_key_changed(g.user, created, revoked=False, by=g.user))
    return {"message": "API key created; keep the key, it is not shown again", "api_key": created, "key": key}, 201


@bp.get("")
@describe(responses={200: list[ApiKey]})
@login_required(None)
def list_api_keys():
    """My API keys, and those of organisations I own or administer.

    Oldest first; never the keys themselves."""
    with single_statement() as cur:
        return key_rows.list_managed(cur, g.user["id"])


@bp.delete("/<id:key_id>")
@describe(responses={200: ApiKeyRevoked})
@login_required(None)
def revoke_api_key(key_id):
    """Revoke an API key: mine, or one of an organisation I own or administer.

    It is refused from its very next request, on every server. Its maker is told."""
    with transaction() as cur:
        revoked = key_rows.delete_managed(cur, key_id, g.user["id"])
        if revoked is None:
            raise NotFound("API key not found")
        maker = {"id": revoked["user_id"], "name": revoked.pop("maker_name"), "email": revoked.pop("maker_email")}
        send_messages(cur, announcements.api_key_changed(maker, revoked, revoked=True, by=g.user))
    return {"message": "API key revoked", "api_key": revoked}
