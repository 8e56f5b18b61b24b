"""Time windows in queries (`from`, `to`, `timezone`): their models, their parsing and the
shapes of what is answered over them, for every route that reads a window."""

from datetime import date, datetime, timedelta
from typing import Literal

from flask import g
from pydantic import Field

from . import clock
from .errors import BadRequest
from .openapi import Shape
from .validation import DateTime, Query, Zone, check_window, in_zone, parse_query

MAX_WINDOW = timedelta(days=62)
# A slot list asked for without a window covers this much from now.
DEFAULT_SLOTS_WINDOW = timedelta(days=7)


class WindowQuery(Query):
    start: DateTime = Field(alias="from")
    end: DateTime = Field(alias="to", description="ISO 8601; after `from`, at most 62 days later.")
    timezone: Zone | None = None
    duration: int = Field(default=30, ge=5, le=1440)
    step: int = Field(default=15, ge=5, le=1440)
    members: str | None = Field(default=None, pattern=r"^\d{1,18}(,\d{1,18}){0,99}$",
                                description="User ids of members who accepted the invitation; default all.")


class SlotsQuery(Query):
    start: DateTime | None = Field(default=None, alias="from")
    end: DateTime | None = Field(default=None, alias="to", description=(
        "ISO 8601; after `from` (default now), at most 62 days later (default 7 days)."))
    timezone: Zone = "UTC"


class TimeRange(Shape):
    start: datetime
    end: datetime


class Window(Shape):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")


class BusyTime(TimeRange):
    source: Literal["calendar"] | None = Field(
        default=None, description="`calendar` for a busy time read from one of my calendars; absent for my bookings.")
    calendar_id: int | None = Field(default=None, description="With `source: calendar`: which calendar.")


class Busy(Window):
    busy: list[BusyTime]


class Availability(Window):
    duration: int
    step: int
    slots: list[TimeRange]


class EmptyDay(Shape):
    date: date
    reason: Literal["no_working_hours", "closed", "time_off", "too_soon", "too_far_ahead", "fully_booked",
                    "no_free_time"] = Field(description=(
        "`no_working_hours`: none by the schedule's weekday hours; `closed`: a date override closed it; "
        "`time_off`: the host is away all that date; `too_soon` / `too_far_ahead`: outside the notice and "
        "booking window; `fully_booked`: the type's daily or weekly limit is reached; `no_free_time`: the host "
        "is busy."))


class Slot(TimeRange):
    seats_left: int | None = Field(default=None, description="A seated type's: the seats still free at this start.")


class Slots(Window):
    timezone: str = Field(description="The zone the times are written in.")
    slots: list[Slot]
    days: list[EmptyDay] = Field(description="Each local date in the window without slots, and why.")


def bounded(start, end):
    """400 unless `to` comes after `from`, at most MAX_WINDOW later."""
    check_window(start, end)
    if end - start > MAX_WINDOW:
        raise BadRequest("The window can be at most 62 days", fields={"to": "at most 62 days after from"})
    return start, end


def parse_window():
    """The request's window in UTC (times without an offset read in `timezone`, default mine)
    and its other parameters."""
    query = parse_query(WindowQuery)
    window = in_zone(query.timezone or g.user["timezone"], start=query.start, end=query.end)
    return *bounded(window["start"], window["end"]), query


def slots_window():
    """A slot list's window in UTC (default: DEFAULT_SLOTS_WINDOW from now) and the zone to
    write it in."""
    query = parse_query(SlotsQuery)
    window = in_zone(query.timezone, start=query.start, end=query.end)
    start = window["start"] or clock.now()
    return *bounded(start, window["end"] or start + DEFAULT_SLOTS_WINDOW), query.timezone
