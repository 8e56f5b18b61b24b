"""An organisation's event types: team booking links (/book/team/<org slug>/<slug>), booked with
one of their hosts (`round_robin`) or all of them at once (`collective`), each host on their own
default schedule. Members who accepted the organisation see them; its owner and admins make and
change them. A host must be a member who accepted; one who leaves stays listed, inactive (no
longer offered), until the hosts are changed."""

from typing import Annotated, Literal

from flask import Blueprint
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from .. import links
from ..auth import login_required
from ..context import site, transaction
from ..db import retrying
from ..errors import BadRequest, Forbidden, NotFound
from ..event_type_fields import EventTypeChanges, EventTypeFields, EventTypeShape
from ..memberships import manages, membership
from ..openapi import Error, Message, Shape, describe
from ..repositories import event_types, organizations, team_types
from ..validation import RowId, Whole, at_least_one, parse

bp = Blueprint("team_event_types", __name__)

MAX_HOSTS = 50
Kind = Literal["round_robin", "collective"]


def distinct(ids):
    if len(set(ids)) != len(ids):
        raise ValueError("must not name anyone twice")
    return ids


Hosts = Annotated[list[RowId], Field(min_length=1, max_length=MAX_HOSTS, json_schema_extra={"uniqueItems": True},
                                     description="User ids of members of the organization who accepted it."),
                  AfterValidator(distinct)]
# JSON's keys are text: a host's user id written in decimal.
HostId = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,18}$")]
Weight = Annotated[int, Field(ge=1, le=100), Whole]
WEIGHTS = ("Round robin's weight (1-100) of hosts, keyed by user id. A host left out has 1 when added, and keeps "
           "theirs when a change leaves them a host.")
# No other keys: pydantic refuses them, so the description must too.
Weights = Annotated[dict[HostId, Weight], Field(max_length=MAX_HOSTS, description=WEIGHTS,
                                                json_schema_extra={"additionalProperties": False})]


class TeamEventTypeIn(EventTypeFields):
    kind: Kind
    hosts: Hosts
    weights: Weights = {}


class TeamEventTypePatch(EventTypeChanges):
    """Only description, location, daily_limit, weekly_limit, seats and embed_origins may be set to null
    (cleared); a field left out stays as it is. `hosts` replaces the hosts; `weights` changes those it names."""

    model_config = ConfigDict(json_schema_extra=at_least_one(*EventTypeChanges.model_fields, "kind", "hosts",
                                                             "weights", null_counts=True))
    kind: Kind = None
    hosts: Hosts = None
    weights: Weights = None


class TeamHost(Shape):
    user_id: int
    name: str
    weight: int
    active: bool = Field(description="Offered: still a member of the organization who accepted it.")


class TeamEventType(EventTypeShape):
    organization_id: int
    kind: Kind
    hosts: list[TeamHost]
    booking_url: str | None = Field(description="The booking page; null until the organization has a slug.")


class TeamEventTypeSaved(Shape):
    message: str
    event_type: TeamEventType


def organization(cur, org_id, *, managing=False):
    """The organisation, for its members who accepted it (as its availability is); `managing`:
    for its owner and admins only. 404 for others, as the organisation is."""
    org = membership(cur, org_id)
    if org["accepted_at"] is None:
        raise Forbidden("Accept this organization's invitation first")
    if managing and not manages(org):
        raise Forbidden("Only the owner and organization admins can change its event types")
    return org


def found(event_type):
    """404 for a type (or a change of one) that is not this organisation's, whether or not it exists."""
    if not event_type:
        raise NotFound("Event type not found")
    return event_type


def shown(org, event_type):
    return event_type | {"booking_url": links.team_booking_url(site(), org["slug"], event_type["slug"])}


def invalid(field, problem):
    return BadRequest(f"Invalid input: {field}: {problem}", fields={field: problem})


def host_weights(cur, org_id, hosts, weights, current):
    """{user id: weight} of the hosts to be: `hosts` (None: the `current` ones, {user id: weight}),
    each with its weight from `weights`, else the one they have, else 1. 400 unless every host
    named is a member of the organisation who accepted it (they then stay members until the
    transaction ends) and every weight is a host's."""
    chosen = hosts if hosts is not None else list(current)
    strays = [key for key in weights if int(key) not in chosen]
    if strays:
        raise invalid("weights", f"not hosts of this event type: {', '.join(strays)}")
    if hosts is not None:
        members = organizations.hold_accepted_members(cur, org_id, hosts)
        outsiders = [str(host) for host in hosts if host not in members]
        if outsiders:
            raise invalid("hosts", "not members of this organization who accepted its invitation: "
                                   + ", ".join(outsiders))
    return {host: weights.get(str(host), current.get(host, 1)) for host in chosen}


@bp.post("")
@describe(body=TeamEventTypeIn, responses={201: TeamEventTypeSaved, 403: Error, 409: Error})
@login_required("event-types:write")
@retrying
def create_team_event_type(org_id):
    """Offer an organisation's event type through a team booking link (owner and admins).

    The fields of a personal event type but `schedule_id` (each host is offered on their own
    default schedule), and `kind`, `hosts` (1-50 members who accepted the organization) and
    `weights`. `slug` is unique among the organisation's types (409)."""
    data = parse(TeamEventTypeIn)
    fields = data.model_dump(exclude={"kind", "hosts", "weights"}) | {"step": data.step or data.duration}
    with transaction() as cur:
        org = organization(cur, org_id, managing=True)
        hosts = host_weights(cur, org_id, data.hosts, data.weights, {})
        event_type_id = event_types.insert(cur, organization_id=org_id, kind=data.kind, **fields)["id"]
        team_types.replace_hosts(cur, event_type_id, hosts)
        event_type = team_types.find(cur, org_id, event_type_id)
    return {"message": "Event type created", "event_type": shown(org, event_type)}, 201


@bp.get("")
@describe(responses={200: list[TeamEventType], 403: Error})
@login_required("event-types:read")
def list_team_event_types(org_id):
    """An organisation's event types (members who accepted it)."""
    with transaction() as cur:
        org = organization(cur, org_id)
        return [shown(org, t) for t in team_types.list_for_organization(cur, org_id)]


@bp.get("/<id:type_id>")
@describe(responses={200: TeamEventType, 403: Error})
@login_required("event-types:read")
def get_team_event_type(org_id, type_id):
    """One of an organisation's event types (members who accepted it); another's are 404."""
    with transaction() as cur:
        org = organization(cur, org_id)
        return shown(org, found(team_types.find(cur, org_id, type_id)))


@bp.patch("/<id:type_id>")
@describe(body=TeamEventTypePatch, responses={200: TeamEventTypeSaved, 403: Error, 409: Error})
@login_required("event-types:write")
@retrying
def update_team_event_type(org_id, type_id):
    """Change an organisation's event type (owner and admins).

    As a personal type's changes, they apply to bookings made from now on. `hosts` replaces the
    hosts (each a member who accepted the organization); those who stay keep their weight and
    their turn in the round robin. `weights` sets the weights of the hosts it names."""
    data = parse(TeamEventTypePatch)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if not changes:
        raise BadRequest("Provide at least one field to update")
    hosts, weights = changes.pop("hosts", None), changes.pop("weights", None)
    with transaction() as cur:
        org = organization(cur, org_id, managing=True)
        found(team_types.update(cur, org_id, type_id, changes))
        if hosts is not None or weights is not None:
            current = team_types.host_weights(cur, type_id)
            team_types.replace_hosts(cur, type_id, host_weights(cur, org_id, hosts, weights or {}, current))
        event_type = team_types.find(cur, org_id, type_id)
    return {"message": "Event type updated", "event_type": shown(org, event_type)}


@bp.delete("/<id:type_id>")
@describe(responses={200: Message, 403: Error})
@login_required("event-types:write")
@retrying
def delete_team_event_type(org_id, type_id):
    """Delete an organisation's event type (owner and admins).

    Bookings already made through it stay, without it (their `event_type_id` becomes null)."""
    with transaction() as cur:
        organization(cur, org_id, managing=True)
        found(team_types.delete(cur, org_id, type_id))
    return {"message": "Event type deleted"}
