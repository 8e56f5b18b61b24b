import calendar
from datetime import date, datetime, timedelta, timezone

BASE = (datetime.now(timezone.utc) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hhmm, day=0):
    hours, minutes = map(int, hhmm.split(":"))
    return (BASE + timedelta(days=day, hours=hours, minutes=minutes)).isoformat()


def slot(start, end, title="Meeting", day=0):
    return {"title": title, "start": at(start, day), "end": at(end, day)}


def year_like_2031(after):
    """The first year after `after` whose days fall on the same weekdays as 2031's (1 January
    a Wednesday, not a leap year), so do its DST change days: tests that name dates and
    weekdays use it and never run into the past."""
    year = after + 1
    while date(year, 1, 1).weekday() != 2 or calendar.isleap(year):
        year += 1
    return year


YEAR = year_like_2031(datetime.now(timezone.utc).year + 1)  # at least a year ahead
