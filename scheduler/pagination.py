"""Keyset pagination: an opaque cursor holding the last row's sort key, and the Link header."""

import base64
import json
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from flask import request

from pydantic import Field

from .context import site
from .errors import BadRequest
from .validation import Query


class PageQuery(Query):
    """A page of a list: at most `limit` items, after the `cursor` a Link header gave."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


def encode_cursor(values):
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def exactly(kind):
    """A cursor value reader that takes only the JSON type encode_cursor writes for that column."""
    def read(value):
        if type(value) is not kind:
            raise ValueError
        return value
    return read


def utc_time(text):
    """An ISO time in UTC, as encode_cursor writes it (PostgreSQL would refuse some other
    offsets, such as +23:59)."""
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() != timedelta(0):
        raise ValueError
    return moment


# How each sort column travels in a cursor.
KINDS = {"created_at": utc_time, "start_time": utc_time, "id": exactly(int), "is_read": exactly(bool)}


def decode_cursor(text, columns):
    """The cursor's values for the sort columns; 400 if it is not one this API made."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        return tuple(KINDS[column](value) for column, value in zip(columns, values, strict=True))
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise BadRequest("Invalid cursor", fields={"cursor": "is not a cursor this API returned"}) from None


def paginated(query, columns, fetch):
    """One page of a list as a response: `query` has limit and cursor, `columns` name the sort
    key, and `fetch(after, limit)` reads up to `limit` rows after that key. A Link header
    points to the next page when there is one."""
    after = decode_cursor(query.cursor, columns) if query.cursor else None
    rows = fetch(after, query.limit + 1)
    if len(rows) <= query.limit:
        return rows, 200, {}
    rows = rows[:query.limit]
    params = {**request.args.to_dict(), "cursor": encode_cursor([rows[-1][c] for c in columns])}
    return rows, 200, {"Link": f'<{site()}{quote(request.path)}?{urlencode(params)}>; rel="next"'}
