from datetime import datetime, timezone
from typing import Annotated, Literal

import orjson
from flask import Blueprint, g
from pydantic import Field, StringConstraints, field_validator

from .. import clock
from ..auth import bearer_claims, login_required, require_role
from ..context import redis_client, runtime, settings, single_statement
from ..dashboard import all_events, summary as own_summary
from ..openapi import Shape, describe
from ..pagination import paginated
from ..repositories import analytics
from ..validation import ANY_JSON_REF, WITHOUT_NUL, Body, Query, parse, parse_query

bp = Blueprint("analytics", __name__)

MAX_METADATA_BYTES = 4096
EventType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


class EventIn(Body):
    eventType: EventType
    metadata: Annotated[dict, Field(description=f"Any JSON object, at most {MAX_METADATA_BYTES} bytes as JSON.",
                                    json_schema_extra={"propertyNames": {"pattern": WITHOUT_NUL},
                                                       "additionalProperties": {"$ref": ANY_JSON_REF}})] | None = None

    @field_validator("metadata")
    @classmethod
    def small_enough(cls, value):
        if value is not None and len(orjson.dumps(value)) > MAX_METADATA_BYTES:
            raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
        return value


class DashboardQuery(Query):
    days: int = Field(default=30, ge=1, le=365)


class EventsQuery(Query):
    limit: int = Field(default=50, ge=1, le=200)
    type: EventType | None = None
    cursor: str | None = None


class LoggedEvent(Shape):
    id: int
    event_type: str


class EventLogged(Shape):
    message: str
    event: LoggedEvent


class Overview(Shape):
    total_events: int
    unique_users: int
    event_types: int


class EventTypeCount(Shape):
    event_type: str
    count: int
    unique_users: int
    first_event: datetime
    last_event: datetime


class Dashboard(Shape):
    period: str
    scope: Literal["all", "own"]
    as_of: datetime
    overview: Overview
    breakdown: list[EventTypeCount]


class RecentEvent(Shape):
    id: int
    user_id: int | None
    event_type: str
    metadata: dict
    created_at: datetime
    user_name: str | None
    user_email: str | None


@bp.post("/event")
@describe(body=EventIn, responses={201: EventLogged}, optional_token=True)
def log_event():
    """Log a usage event.

    Anyone may log one; a valid token attributes it to its user."""
    data = parse(EventIn)
    with single_statement() as cur:
        event = analytics.insert(cur, event_type=data.eventType, metadata=data.metadata or {}, claims=bearer_claims())
    return {"message": "Event logged", "event": event}, 201


@bp.get("/dashboard")
@describe(query=DashboardQuery, responses={200: Dashboard})
@login_required("bookings:read")
def dashboard():
    """Usage over recent days.

    Over the last `days` days. Admins see every event, from a snapshot at most DASHBOARD_MAX_AGE seconds old (`as_of`);
    everyone else sees the events they caused, exactly."""
    query = parse_query(DashboardQuery)
    if g.user["role"] == "admin":
        snapshot = all_events(redis_client(), runtime().db, query.days, settings().dashboard_max_age)
        scope, as_of, summary = "all", snapshot["as_of"], snapshot["value"]
    else:
        scope, as_of, summary = "own", clock.now().timestamp(), own_summary(runtime().db, query.days, g.user["id"])
    return {
        "period": f"Last {query.days} days",
        "scope": scope,
        "as_of": datetime.fromtimestamp(as_of, timezone.utc),
        **summary,
    }


@bp.get("/events")
@describe(query=EventsQuery, responses={200: list[RecentEvent]})
@require_role("admin", "bookings:read")
def recent_events():
    """Recent events, newest first, with who caused them."""
    query = parse_query(EventsQuery)
    with single_statement() as cur:
        return paginated(query, ("created_at", "id"),
                         lambda after, limit: analytics.recent(cur, limit=limit, event_type=query.type, after=after))
