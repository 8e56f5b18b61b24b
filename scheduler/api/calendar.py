from flask import Blueprint, Response

from ..calendar import events_of, to_ics
from ..context import settings, transaction
from ..errors import NotFound
from ..keys import token_hash
from ..openapi import describe
from ..repositories import bookings, series, users

bp = Blueprint("calendar", __name__)


@bp.get("/calendar/<secret>.ics")
@describe(responses={200: "text/calendar"})
def feed(secret):
    """All my bookings for calendar apps; the secret in the URL is the only credential."""
    with transaction() as cur:
        owner = users.find_by_feed_hash(cur, token_hash(secret))
        if owner is None:
            raise NotFound("Calendar feed not found")
        rows = bookings.calendar_for(cur, owner["id"])
        in_series = series.calendar_of(cur, rows)
    return Response(to_ics(events_of(rows, *in_series, settings().mail_domain), zone_name=owner["timezone"],
                           name=f"{owner['name']} (Scheduler)"), mimetype="text/calendar")
