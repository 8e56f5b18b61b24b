"""Schedules: named weekly hours, each in its own zone, with date overrides. My default
schedule is my profile's zone and working hours (the ones PATCH /users/me edits)."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, g
from pydantic import ConfigDict, Field

from .. import clock
from ..auth import login_required
from ..context import single_statement, transaction
from ..db import retrying
from ..errors import BadRequest, Conflict, NotFound
from ..openapi import Error, Shape, describe
from ..repositories import schedules
from ..validation import (Body, Day, DayHours, Interval, Line, Query, WorkingHours, Zone, at_least_one, parse,
                          validate)

bp = Blueprint("schedules", __name__)

# Overrides a schedule may have for dates from yesterday on (a year's worth).
MAX_OVERRIDES = 366
# Only its owner sees it: one line, as a title (a Name's check for invisible characters is for
# what others are shown).
ScheduleName = Line(100, min_length=1)


class ScheduleIn(Body):
    name: ScheduleName
    timezone: Zone | None = Field(default=None, description="Default: my own time zone.")
    working_hours: WorkingHours


class SchedulePatch(Body):
    """A null is the same as leaving the field out."""

    model_config = ConfigDict(json_schema_extra=at_least_one("name", "timezone", "working_hours"))
    name: ScheduleName | None = None
    timezone: Zone | None = None
    working_hours: WorkingHours | None = None


class OverrideIn(Body):
    hours: DayHours = Field(description="The date's hours in local wall-clock time; [] closes it.")


class OverrideDay(Query):
    """The date in an override's path."""

    day: Day


class Override(Shape):
    date: date
    hours: list[Interval]


class Schedule(Shape):
    id: int
    name: str
    timezone: str
    working_hours: WorkingHours
    overrides: list[Override] = Field(
        description="Dates with other hours than their weekday's, from yesterday on (in the schedule's zone), in order.")
    default: bool = Field(description="My default schedule: its time zone and working hours are my profile's.")


class ScheduleList(Shape):
    schedules: list[Schedule]


class ScheduleSaved(Shape):
    message: str
    schedule: Schedule


class OverrideSaved(Shape):
    schedule: Schedule


class EventTypeUsing(Shape):
    id: int
    slug: str
    title: str


class ScheduleInUse(Error):
    event_types: list[EventTypeUsing] = Field(default_factory=list, description="The event types that use it.")


def yesterday(zone_name):
    """The date before today in the zone. Overrides count and are shown from it on: a day's
    margin, as which date is today depends on the zone, and a schedule's zone may change."""
    return clock.now().astimezone(ZoneInfo(zone_name)).date() - timedelta(days=1)


def shown(schedule):
    """The schedule with its overrides from yesterday on, by date."""
    since = yesterday(schedule["timezone"]).isoformat()
    return schedule | {"overrides": [{"date": day, "hours": hours} for day, hours in sorted(schedule["overrides"].items())
                                     if day >= since]}


def found(schedule):
    """404 for a schedule that is not mine, whether or not it exists."""
    if not schedule:
        raise NotFound("Schedule not found")
    return schedule


def override_day(day):
    """The path's date; 400 unless it is one (2027-02-30 is not)."""
    return validate(OverrideDay, {"day": day}).day


@bp.post("")
@describe(body=ScheduleIn, responses={201: ScheduleSaved})
@login_required("schedules:write")
def create_schedule():
    """Add a schedule: weekly hours in a time zone, for event types to use.

    `working_hours` are as in `PATCH /users/me`: local wall-clock intervals per weekday (days
    left out are off; `end` may be `24:00`; a day's intervals may not overlap). `timezone`
    defaults to mine."""
    data = parse(ScheduleIn)
    with single_statement() as cur:
        schedule = schedules.insert(cur, user_id=g.user["id"], name=data.name,
                                    timezone=data.timezone or g.user["timezone"],
                                    working_hours=data.working_hours.model_dump())
    return {"message": "Schedule created", "schedule": shown(schedule)}, 201


@bp.get("")
@describe(responses={200: ScheduleList})
@login_required("schedules:read")
def list_schedules():
    """My schedules, the default one first (its zone and hours are my profile's)."""
    with single_statement() as cur:
        return {"schedules": [shown(s) for s in schedules.list_for_user(cur, g.user["id"])]}


@bp.get("/<id:schedule_id>")
@describe(responses={200: Schedule})
@login_required("schedules:read")
def get_schedule(schedule_id):
    """One of my schedules; others' are 404."""
    with single_statement() as cur:
        return shown(found(schedules.find_own(cur, schedule_id, g.user["id"])))


@bp.patch("/<id:schedule_id>")
@describe(body=SchedulePatch, responses={200: ScheduleSaved})
@login_required("schedules:write")
@retrying
def update_schedule(schedule_id):
    """Rename a schedule or change its time zone or working hours.

    The default schedule's time zone and working hours are my own: changing them here is
    changing them with `PATCH /users/me`. Overrides keep their dates."""
    data = parse(SchedulePatch)
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise BadRequest("Provide at least one of name, timezone, working_hours to update")
    with transaction() as cur:
        found(schedules.update(cur, schedule_id, g.user["id"], **changes))
        schedule = schedules.find_own(cur, schedule_id, g.user["id"])
    return {"message": "Schedule updated", "schedule": shown(schedule)}


@bp.delete("/<id:schedule_id>")
@describe(responses={204: None, 409: ScheduleInUse})
@login_required("schedules:write")
def delete_schedule(schedule_id):
    """Delete a schedule and its overrides.

    400 for my default schedule; 409 while an event type uses it (`event_types` lists them:
    move them to another schedule first)."""
    with transaction() as cur:
        schedule = found(schedules.find_own(cur, schedule_id, g.user["id"], lock=True))
        if schedule["default"]:
            raise BadRequest("The default schedule can't be deleted",
                             fields={"schedule_id": "is my default schedule"})
        using = schedules.event_types_using(cur, schedule_id)
        if using:
            raise Conflict("Schedule is used by event types; move them to another schedule first", event_types=using)
        schedules.delete(cur, schedule_id)
    return "", 204


@bp.put("/<id:schedule_id>/overrides/<day:day>")
@describe(body=OverrideIn, responses={200: OverrideSaved, 409: Error})
@login_required("schedules:write")
@retrying
def set_override(schedule_id, day):
    """Give a date other hours than its weekday's.

    `day` is a local date in the schedule's zone; it has exactly `hours` ([] closes it),
    replacing any override it had. A date before yesterday is 400. At most 366 overrides a
    schedule from yesterday on (409 beyond); older ones are deleted."""
    day = override_day(day)
    data = parse(OverrideIn)
    with transaction() as cur:
        # The row lock makes two PUTs count one after the other, so they can't both pass the limit.
        schedule = found(schedules.find_own(cur, schedule_id, g.user["id"], lock=True))
        since = yesterday(schedule["timezone"])
        if day < since:
            raise BadRequest("Invalid input: day: is in the past", fields={"day": "is in the past"})
        schedules.forget_overrides_before(cur, schedule_id, since)
        if schedules.count_overrides(cur, schedule_id, since=since, besides=day) >= MAX_OVERRIDES:
            raise Conflict(f"A schedule has at most {MAX_OVERRIDES} overrides from yesterday on; delete one first")
        schedules.set_override(cur, schedule_id, day, [interval.model_dump() for interval in data.hours])
        schedule = schedules.find_own(cur, schedule_id, g.user["id"])
    return {"schedule": shown(schedule)}


@bp.delete("/<id:schedule_id>/overrides/<day:day>")
@describe(responses={204: None})
@login_required("schedules:write")
def delete_override(schedule_id, day):
    """Give a date its weekday's hours again; 404 if it has no override."""
    day = override_day(day)
    with single_statement() as cur:
        if not schedules.delete_override(cur, schedule_id, g.user["id"], day):
            raise NotFound("Override not found")
    return "", 204
