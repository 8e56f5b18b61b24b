"""Keyset pagination: an opaque cursor holding the last row's sort key, and the Link header."""

import base64
import json
from datetime import datetime
from urllib.parse import urlencode

from flask import request

from .errors import BadRequest


def encode_cursor(values):
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text, kinds):
    """The cursor's values, converted by `kinds` (e.g. (datetime.fromisoformat, int)); 400 if forged."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return tuple(kind(value) for kind, value in zip(kinds, values))
    except (ValueError, TypeError):
        raise BadRequest("Invalid cursor", fields={"cursor": "is not a cursor this API returned"}) from None


def page(rows, limit, key):
    """Trims the extra row fetched to detect a next page; returns (rows, headers)."""
    if len(rows) <= limit:
        return rows, {}
    rows = rows[:limit]
    params = {**request.args.to_dict(), "cursor": encode_cursor(key(rows[-1]))}
    return rows, {"Link": f'<{request.base_url}?{urlencode(params)}>; rel="next"'}
