"""Time off: spans I am away, whatever my schedules say. Private: only I read mine."""

from datetime import datetime, timedelta

from flask import Blueprint, g
from pydantic import Field

from .. import clock
from ..auth import login_required
from ..context import single_statement, transaction
from ..db import retrying
from ..errors import BadRequest, NotFound
from ..openapi import Shape, describe
from ..repositories import locks, time_off
from ..validation import Body, DateTime, Line, Query, Zone, check_window, in_zone, parse, parse_query

bp = Blueprint("time_off", __name__)

MAX_SPAN = timedelta(days=366)


class TimeOffIn(Body):
    start: DateTime
    end: DateTime = Field(description="ISO 8601; after `start`, at most 366 days later.")
    timezone: Zone | None = None
    reason: Line(200) | None = None


class TimeOffQuery(Query):
    start: DateTime | None = Field(default=None, alias="from", description="ISO 8601; default now.")
    end: DateTime | None = Field(default=None, alias="to", description="ISO 8601; after `from`; default: no end.")
    timezone: Zone | None = None


class TimeOff(Shape):
    id: int
    start: datetime
    end: datetime
    reason: str | None


class BookingWithin(Shape):
    id: int
    title: str
    start: datetime
    end: datetime


class TimeOffAdded(Shape):
    message: str
    time_off: TimeOff
    conflicts: list[BookingWithin] = Field(
        description="Confirmed bookings I attend that overlap it: kept, not cancelled; move or cancel them if need be.")


class TimeOffList(Shape):
    time_off: list[TimeOff]


@bp.post("")
@describe(body=TimeOffIn, responses={201: TimeOffAdded})
@login_required("schedules:write")
@retrying
def add_time_off():
    """Take time off: from `start` to `end` I am away, whatever my schedules say.

    At most 366 days. Bookings already in it stay; `conflicts` lists the confirmed ones I
    attend (as booker, or invited and not declined) that overlap it."""
    data = parse(TimeOffIn)
    span = in_zone(data.timezone or g.user["timezone"], start=data.start, end=data.end)
    if span["end"] <= span["start"]:
        raise BadRequest("Invalid input: end: must be after start", fields={"end": "must be after start"})
    if span["end"] - span["start"] > MAX_SPAN:
        raise BadRequest("Invalid input: end: at most 366 days after start", fields={"end": "at most 366 days after start"})
    with transaction() as cur:
        # Guest bookings check time off under my lock: taking it first means every booking in
        # the span committed before this, and is listed.
        locks.lock_people(cur, [g.user["id"]])
        added = time_off.insert(cur, user_id=g.user["id"], **span, reason=data.reason)
        conflicts = time_off.bookings_within(cur, g.user["id"], **span)
    return {"message": "Time off added", "time_off": added, "conflicts": conflicts}, 201


@bp.get("")
@describe(query=TimeOffQuery, responses={200: TimeOffList})
@login_required("schedules:read")
def list_time_off():
    """My time off in a window, by start.

    What overlaps `from` (default now) to `to` (default: no end)."""
    query = parse_query(TimeOffQuery)
    window = in_zone(query.timezone or g.user["timezone"], start=query.start, end=query.end)
    start = window["start"] or clock.now()
    check_window(start, window["end"])
    with single_statement() as cur:
        return {"time_off": time_off.list_for_user(cur, g.user["id"], start, window["end"])}


@bp.delete("/<id:time_off_id>")
@describe(responses={204: None})
@login_required("schedules:write")
def delete_time_off(time_off_id):
    """Delete time off of mine; others' are 404."""
    with single_statement() as cur:
        if not time_off.delete(cur, time_off_id, g.user["id"]):
            raise NotFound("Time off not found")
    return "", 204
