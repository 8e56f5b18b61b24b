"""Entity tags and conditional requests (RFC 9110 sections 8.8.3 and 13).

Tags are strong: a hash of the resource's JSON representation (keys sorted), so any change to
what GET returns, however small, gives a new tag. If-Match compares them strongly (a weak
W/"..." tag never matches) and If-None-Match weakly, as the RFC says.
"""

import base64
import hashlib

import orjson
from flask import current_app, request
from werkzeug.http import quote_etag

from .errors import PreconditionFailed


def entity_tag(representation):
    """The tag of a representation, unquoted."""
    digest = hashlib.blake2b(orjson.dumps(representation, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def require_match(representation):
    """412 unless the request's If-Match (if any) names the current representation's tag. Call
    it with the resource locked, so that nothing changes between the check and the write."""
    if "If-Match" in request.headers and entity_tag(representation) not in request.if_match:
        raise PreconditionFailed("It has changed since you read it (If-Match): read it again, then retry")


def etag_header(representation):
    return {"ETag": quote_etag(entity_tag(representation))}


def tagged(representation, status=200):
    """The representation with its ETag; 304 without a body when If-None-Match names it."""
    tag = entity_tag(representation)
    if request.if_none_match.contains_weak(tag):
        response = current_app.response_class(status=304)
    else:
        response = current_app.make_response((representation, status))
    response.set_etag(tag)
    return response
