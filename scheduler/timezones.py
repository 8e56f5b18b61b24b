"""IANA zones, local times, and working hours expanded per date in a person's own zone."""

import functools
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# Files in the zone database that are no place's zone: the host's own zone, and a placeholder.
NOT_ZONES = {"localtime", "Factory"}


@functools.cache
def known_zones():
    return frozenset(available_timezones()) - NOT_ZONES | {"UTC"}


def check_zone(name):
    if name not in known_zones():
        raise ValueError("must be an IANA time zone name such as Europe/London")
    return name


class NonexistentLocalTime(ValueError):
    pass


def to_utc(moment, zone_name):
    """An aware time as given; a naive one as wall-clock time in the zone.

    A wall-clock time skipped by a spring-forward change does not exist and is refused;
    one repeated by a fall-back change is taken at its first occurrence.
    """
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc)
    zone = ZoneInfo(zone_name)
    aware = moment.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(timezone.utc)
    if utc.astimezone(zone).replace(tzinfo=None) != moment:
        raise NonexistentLocalTime(f"{moment.isoformat()} does not exist in {zone_name} (the clocks skip it)")
    return utc


def wall_time(text):
    return time(0) if text == "24:00" else time.fromisoformat(text)


def working_intervals(hours, zone_name, first, last, overrides=None):
    """Working intervals (UTC) of each local date from `first` to `last`: the date's override
    if it has one (`overrides`: {"YYYY-MM-DD": intervals}), else its weekday's hours, each date expanded
    in the zone's rules for that date (so a date the clocks change on has that date's own
    offsets); touching intervals of one date are joined."""
    zone = ZoneInfo(zone_name)
    intervals = []
    day = first
    while day <= last:
        joined = []
        day_hours = (overrides or {}).get(day.isoformat(), hours.get(WEEKDAYS[day.weekday()], []))
        for interval in sorted(day_hours, key=lambda i: i["start"]):
            opens = datetime.combine(day, wall_time(interval["start"]), zone).astimezone(timezone.utc)
            closes_on = day + timedelta(days=1) if interval["end"] == "24:00" else day
            closes = datetime.combine(closes_on, wall_time(interval["end"]), zone).astimezone(timezone.utc)
            if joined and opens <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(joined[-1][1], closes))
            elif opens < closes:
                joined.append((opens, closes))
        intervals += joined
        day += timedelta(days=1)
    return intervals


def local_dates(zone_name, start, end):
    """The first and last local date in the zone that can hold working time in [start, end)."""
    zone = ZoneInfo(zone_name)
    return start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date() + timedelta(days=1)


def working_windows(hours, zone_name, start, end, overrides=None):
    """Working intervals (UTC) overlapping [start, end), cut to it."""
    windows = []
    for opens, closes in working_intervals(hours, zone_name, *local_dates(zone_name, start, end), overrides):
        lo, hi = max(opens, start), min(closes, end)
        if lo < hi:
            windows.append((lo, hi))
    return windows


def display(moment, zone_name):
    """'Mon 09 Mar 2031, 09:00 GMT (Europe/London)'."""
    local = moment.astimezone(ZoneInfo(zone_name))
    return f"{local.strftime('%a %d %b %Y, %H:%M %Z')} ({zone_name})"
