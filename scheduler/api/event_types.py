"""Event types: what a host offers through a booking link (/book/<username>/<slug>)."""

from typing import Annotated

from flask import Blueprint, g
from pydantic import ConfigDict, Field

from .. import links
from ..auth import login_required
from ..context import single_statement, site, transaction
from ..errors import BadRequest, NotFound
from ..event_type_fields import EventTypeChanges, EventTypeFields, EventTypeShape
from ..openapi import Error, Message, Shape, describe
from ..repositories import event_types, schedules
from ..validation import RowId, at_least_one, parse

bp = Blueprint("event_types", __name__)

ScheduleId = Annotated[RowId, Field(description="One of my schedules; null: my default one.")]


class EventTypeIn(EventTypeFields):
    schedule_id: ScheduleId | None = None


class EventTypePatch(EventTypeChanges):
    """Only description, location, daily_limit, weekly_limit, seats, embed_origins and schedule_id may be set
    to null (cleared); a field left out stays as it is (the None default is never validated, so an
    explicit null is a 400)."""

    model_config = ConfigDict(json_schema_extra=at_least_one(*EventTypeChanges.model_fields, "schedule_id",
                                                             null_counts=True))
    schedule_id: ScheduleId | None = None


class EventType(EventTypeShape):
    user_id: int
    schedule_id: int | None = Field(description="The schedule whose hours it offers; null: my default schedule.")
    booking_url: str | None = Field(description="The booking page; null until I have a username.")


class EventTypeSaved(Shape):
    message: str
    event_type: EventType


def shown(event_type):
    return event_type | {"booking_url": links.booking_url(site(), g.user["username"], event_type["slug"])}


def found(event_type):
    """404 for a type that is not mine, whether or not it exists."""
    if event_type is None:
        raise NotFound("Event type not found")
    return event_type


def check_schedule(cur, schedule_id):
    """400 unless the schedule named (if any) is mine; it then stays until the type is written."""
    if schedule_id is not None and not schedules.hold_own(cur, schedule_id, g.user["id"]):
        raise BadRequest("Invalid input: schedule_id: is not one of my schedules",
                         fields={"schedule_id": "is not one of my schedules"})


@bp.post("")
@describe(body=EventTypeIn, responses={201: EventTypeSaved, 409: Error})
@login_required("event-types:write")
def create_event_type():
    """Offer an event type through a booking link.

    `slug` is unique among my types (409). `step` defaults to `duration`. `schedule_id` is
    one of my schedules (`GET /schedules`), whose hours it offers; without it, my default one."""
    data = parse(EventTypeIn)
    fields = data.model_dump() | {"step": data.step or data.duration}
    with transaction() as cur:
        check_schedule(cur, data.schedule_id)
        event_type = event_types.insert(cur, user_id=g.user["id"], **fields)
    return {"message": "Event type created", "event_type": shown(event_type)}, 201


@bp.get("")
@describe(responses={200: list[EventType]})
@login_required("event-types:read")
def list_event_types():
    """My event types."""
    with single_statement() as cur:
        return [shown(t) for t in event_types.list_for_user(cur, g.user["id"])]


@bp.get("/<id:event_type_id>")
@describe(responses={200: EventType})
@login_required("event-types:read")
def get_event_type(event_type_id):
    """One of my event types; others' are 404."""
    with single_statement() as cur:
        return shown(found(event_types.find_own(cur, event_type_id, g.user["id"])))


@bp.patch("/<id:event_type_id>")
@describe(body=EventTypePatch, responses={200: EventTypeSaved, 409: Error})
@login_required("event-types:write")
def update_event_type(event_type_id):
    """Change an event type.

    Changes apply to bookings made from now on; existing bookings keep their times and
    buffers. `description`, `location`, `daily_limit`, `weekly_limit`, `embed_origins` and
    `schedule_id` may be set to null (`schedule_id`: my default schedule; `embed_origins`: [])."""
    data = parse(EventTypePatch)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if not changes:
        raise BadRequest("Provide at least one field to update")
    with transaction() as cur:
        check_schedule(cur, changes.get("schedule_id"))
        event_type = found(event_types.update(cur, event_type_id, g.user["id"], changes))
    return {"message": "Event type updated", "event_type": shown(event_type)}


@bp.delete("/<id:event_type_id>")
@describe(responses={200: Message})
@login_required("event-types:write")
def delete_event_type(event_type_id):
    """Delete an event type.

    Bookings already made through it stay, without it (their `event_type_id` becomes null)."""
    with single_statement() as cur:
        if not event_types.delete(cur, event_type_id, g.user["id"]):
            raise NotFound("Event type not found")
    return {"message": "Event type deleted"}
