"""A series' rule (RFC 5545's RRULE, the part of it we accept) and its occurrences.

The rule is expanded in one zone's wall-clock time (the organiser's; for a guest, the host's),
so a 10:00 meeting stays at 10:00 when the clocks change. python-dateutil expands it: it is
the RRULE implementation calendars' own libraries use, so what we book and what a calendar
shows from the RRULE we write (scheduler/calendar.py) are the same dates.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from dateutil import rrule
from pydantic import ConfigDict, Field, model_validator

from .errors import BadRequest
from .validation import Body, Day, Whole, ignored_members

MAX_OCCURRENCES = 52
MAX_SPAN = timedelta(days=366)
FREQUENCIES = {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}
WEEKDAYS = {"mo": rrule.MO, "tu": rrule.TU, "we": rrule.WE, "th": rrule.TH, "fr": rrule.FR, "sa": rrule.SA,
            "su": rrule.SU}


def count_or_until(schema):
    """The rule's schema: no member but its own (a part of RRULE we don't take, such as
    bymonthday, is refused rather than ignored, or the series would silently differ)."""
    ignored_members(schema)
    schema["additionalProperties"] = False
    del schema["propertyNames"]
    schema["oneOf"] = [{"required": ["count"], "not": {"required": ["until"]}},
                       {"required": ["until"], "not": {"required": ["count"]}}]
    schema["properties"]["byday"]["uniqueItems"] = True


class Recurrence(Body):
    """How a booking repeats: exactly one of `count` and `until`; at most 52 occurrences within
    a year of the first."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=count_or_until)
    freq: Literal["daily", "weekly", "monthly"]
    interval: Annotated[int, Field(ge=1, le=12), Whole] = 1
    # Left out, not null: the None defaults are never validated, so an explicit null is a 400.
    count: Annotated[int, Field(ge=2, le=MAX_OCCURRENCES), Whole] = Field(
        default=None, description="How many occurrences, the first included.")
    until: Day = Field(default=None, description="The last date an occurrence may fall on (local), included.")
    byday: Annotated[list[Literal["mo", "tu", "we", "th", "fr", "sa", "su"]], Field(min_length=1, max_length=7)] \
        = Field(default=None, description="Weekdays the occurrences fall on (daily: only these; weekly: each of "
                                          "these in every week; monthly: every such weekday of the month).")

    @model_validator(mode="after")
    def exactly_one_end(self):
        if (self.count is None) == (self.until is None):
            raise ValueError("give exactly one of count and until")
        if self.byday and len(set(self.byday)) != len(self.byday):
            raise ValueError("byday names a weekday twice")
        return self

    def stored(self):
        """The rule as the series keeps and shows it: only what was given, byday in week order."""
        rule = {"freq": self.freq, "interval": self.interval}
        rule |= {"count": self.count} if self.count else {"until": self.until.isoformat()}
        if self.byday:
            rule["byday"] = sorted(self.byday, key=list(WEEKDAYS).index)
        return rule


@dataclass(frozen=True)
class Occurrence:
    number: int
    start: datetime
    end: datetime


def occurrences(rule, start, end, zone_name):
    """The series' occurrences (UTC) for a first booking of [start, end) (UTC) and `rule` (a
    `Recurrence`), expanded in `zone_name`'s wall-clock time; each lasts end - start. 400 if a
    date's local start doesn't exist (the clocks skip it), or the series would have fewer than
    2 or more than 52 occurrences or last more than a year; a start the clocks repeat is
    taken at its first occurrence."""
    zone = ZoneInfo(zone_name)
    local = start.astimezone(zone).replace(tzinfo=None)
    if rule.until and rule.until > local.date() + MAX_SPAN:
        raise invalid("until", "must be within a year of the start")
    # dateutil drops microseconds from its dates: they go back on after.
    whole, fraction = local.replace(microsecond=0), timedelta(microseconds=local.microsecond)
    dates = [moment + fraction for moment in rrule.rrule(
        FREQUENCIES[rule.freq], dtstart=whole, interval=rule.interval, count=rule.count,
        until=datetime.combine(rule.until, whole.time()) if rule.until else None, wkst=rrule.MO,
        byweekday=[WEEKDAYS[day] for day in rule.byday] if rule.byday else None, cache=False)[:MAX_OCCURRENCES + 1]]
    if len(dates) > MAX_OCCURRENCES:
        raise invalid("until", f"gives more than {MAX_OCCURRENCES} occurrences")
    if len(dates) < 2:
        raise invalid("count" if rule.count else "until", "gives fewer than 2 occurrences")
    if dates[-1] - dates[0] > MAX_SPAN:
        raise invalid("count", "makes the series last more than a year")
    if dates[0] != local:
        day = local.strftime("%A")
        raise invalid("byday", f"leaves out the start's weekday ({day}): the start is the first occurrence")
    duration, found = end - start, []
    for number, moment in enumerate(dates, 1):
        utc = moment.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
        if utc.astimezone(zone).replace(tzinfo=None) != moment:
            raise BadRequest(f"The series' start time {moment.time():%H:%M} does not exist on {moment.date()} in "
                             f"{zone_name} (the clocks skip it)",
                             fields={"recurrence": f"{moment.date()}: {moment.time():%H:%M} does not exist in "
                                                   f"{zone_name}"})
        found.append(Occurrence(number, utc, utc + duration))
    return found


def invalid(field, problem):
    return BadRequest(f"Invalid input: recurrence.{field}: {problem}", fields={f"recurrence.{field}": problem})


def rrule_text(rule, occurrences_count):
    """The RRULE of a series of `occurrences_count` occurrences: the rule with COUNT, which says
    what an UNTIL would (the number is what the expansion gave) without a time in UTC."""
    parts = [f"FREQ={rule['freq'].upper()}", f"INTERVAL={rule['interval']}", f"COUNT={occurrences_count}"]
    if rule.get("byday"):
        parts.append("BYDAY=" + ",".join(day.upper() for day in rule["byday"]))
    return ";".join(parts)


UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}
DAY_NAMES = {"mo": "Monday", "tu": "Tuesday", "we": "Wednesday", "th": "Thursday", "fr": "Friday", "sa": "Saturday",
             "su": "Sunday"}


def describe(rule, booked, of):
    """A stored rule in words, with how many of its `of` occurrences are `booked`: "every week,
    12 times", "every 2 weeks on Monday and Thursday, 5 of 6 times"."""
    unit = UNITS[rule["freq"]]
    every = f"every {unit}" if rule["interval"] == 1 else f"every {rule['interval']} {unit}s"
    if rule.get("byday"):
        names = [DAY_NAMES[day] for day in rule["byday"]]
        every += " on " + (f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0])
    times = ("none left" if not booked else f"{booked} time{'s' if booked != 1 else ''}" if booked == of
             else f"{booked} of {of} times")
    return f"{every}, {times}"
