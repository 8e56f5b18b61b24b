from datetime import datetime, timedelta, timezone

BASE = (datetime.now(timezone.utc) + timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hhmm, day=0):
    hours, minutes = map(int, hhmm.split(":"))
    return (BASE + timedelta(days=day, hours=hours, minutes=minutes)).isoformat()


def slot(start, end, title="Meeting", day=0):
    return {"title": title, "start": at(start, day), "end": at(end, day)}
