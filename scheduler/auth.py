"""Passwords, login tokens, API keys, and the decorators that guard routes."""

import functools
import re
import threading
import time
import uuid

import bcrypt
import jwt
from flask import g, request

from . import access_keys
from .email_addresses import identity_key
from .context import limiter, settings, single_statement
from .errors import Forbidden, NotFound, TooManyRequests, Unauthorized
from .http import KEY_LOG_ENTRY
from .ratelimit import key_for
from .repositories import api_keys as key_rows, users

ALGORITHM = "HS256"
SUBJECT = re.compile(r"[1-9][0-9]{0,18}")
TOKEN_ID = re.compile(r"[0-9a-f]{32}")
INVALID_TOKEN = "Unauthorized: invalid or expired token"
INVALID_KEY = "Unauthorized: invalid or revoked API key"
LEEWAY = 60  # seconds of clock skew between processes that issue and check tokens


# bcrypt takes a core for tens of milliseconds. One at a time per process: logins still use
# every core (one process per core), but a burst of them can't crowd out other requests.
bcrypt_slot = threading.Lock()


def hash_password(password, rounds):
    with bcrypt_slot:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def password_matches(password, password_hash):
    with bcrypt_slot:
        return bcrypt.checkpw(password.encode(), password_hash.encode())


def limited_guess(email, is_right):
    """Runs `is_right()`, a password check for the account `email`, counting failures per
    account (login and password change alike): 429 once LOGIN_MAX_FAILURES have failed within
    LOGIN_FAILURE_WINDOW; a right guess clears the count. Counted per identity_key, the key
    every lookup by e-mail uses, so no spelling of an address gets a fresh count."""
    config = settings()
    failures = key_for("login", identity_key(email))
    wait = limiter().exceeded(failures, config.login_max_failures)
    if wait:
        raise TooManyRequests("Too many failed password attempts for this account, try again later", retry_after=wait)
    if not is_right():
        limiter().hit(failures, config.login_max_failures, config.login_failure_window)
        return False
    limiter().reset(failures)
    return True


def limited(key, allowed, window, message):
    """Counts one event for `key`: 429 with Retry-After once more than `allowed` have come
    within `window` seconds. An allowance of 0 is off."""
    if allowed:
        wait = limiter().hit(key, allowed, window)
        if wait:
            raise TooManyRequests(message, retry_after=wait)


def limit_client_address(kind, per_minute):
    """Routes strangers can reach are limited per client address (`kind` names the counter)."""
    limited(key_for(kind, request.remote_addr or "unknown"), per_minute, 60,
            "Too many requests from this address, slow down")


def limit_public_posts():
    """Guests' writes (booking, cancelling, moving) count toward PUBLIC_RATE_LIMIT per address."""
    limit_client_address("public", settings().public_rate_limit)


def limit_public_reads():
    """Strangers' reads (booking links, their slots, a guest's booking, the pages) count toward
    PUBLIC_READ_RATE_LIMIT per address, so hosts and their free time can't be harvested at
    wire speed. A counter of their own: reading a page must not use up the guest's booking."""
    limit_client_address("public-read", settings().public_read_rate_limit)


def limit_account(kind, per_hour, what):
    """Requests whose answer says whether someone else has an account (adding a member by
    e-mail: 404 or 201; a username or e-mail change: 409 if taken) are limited per signed-in
    person. Every attempt counts, whatever it answers: the refused ones are the probing."""
    limited(key_for(kind, str(g.user["id"])), per_hour, 3600,
            f"Too many {what} from this account, try again later")


@functools.cache
def dummy_hash(rounds):
    """A hash to check against when the e-mail is unknown, so both failures cost the same."""
    return hash_password(uuid.uuid4().hex, rounds)


def issue_token(user, settings):
    now = int(time.time())
    claims = {
        "sub": str(user["id"]),
        "ver": user["token_version"],
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.jwt_expires,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


@functools.lru_cache(maxsize=4096)
def verified_claims(token, secret):
    """The token's claims if its signature is good (HS256 only: a token can't choose its own
    algorithm), else None. Cached, because verifying costs more than the rest of a small
    request; expiry is checked on every use, and revocation is read from the database."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "jti", "ver"], "verify_exp": False},
        )
    except jwt.InvalidTokenError:
        return None
    # Only the shapes issue_token writes: anything else (a NUL in the jti, "١" as the subject)
    # was not made here, even if signed with our secret.
    sub, version, jti, exp = claims["sub"], claims["ver"], claims["jti"], claims["exp"]
    if not (isinstance(sub, str) and SUBJECT.fullmatch(sub) and type(version) is int
            and isinstance(jti, str) and TOKEN_ID.fullmatch(jti) and type(exp) is int):
        return None
    return {"user_id": int(sub), "version": version, "jti": jti, "exp": exp}


def decode_token(token, settings):
    """Verified, unexpired claims, or None; also None for a token that outlives any this API
    issues (JWT_EXPIRES from now)."""
    claims = verified_claims(token, settings.jwt_secret)
    now = time.time()
    if claims is None or not now < claims["exp"] <= now + settings.jwt_expires + LEEWAY:
        return None
    return dict(claims)


def bearer_credential():
    """The request's bearer credential (a login token or an API key), or None."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def bearer_claims():
    """Claims of the request's bearer token; None when there is no usable token."""
    credential = bearer_credential()
    return None if credential is None else decode_token(credential, settings())


def authenticate(scope, *, token_checked_by_view=False):
    """Sets g.user from the login token or API key, reading the user fresh (and g.claims or
    g.api_key); raises 401 for neither. A key needs `scope` (None: the route takes login
    tokens only). `token_checked_by_view`: for a login token only its signature and expiry
    are checked here, g.user is None, and the view checks the rest in its own statement
    (users.TOKEN_HOLDS), raising token_refused() when it doesn't."""
    credential = bearer_credential()
    if credential is not None and access_keys.looks_like_key(credential):
        return authenticate_key(credential, scope)
    claims = None if credential is None else decode_token(credential, settings())
    if claims is None:
        raise Unauthorized("Unauthorized: no valid token provided")
    if token_checked_by_view:
        g.user, g.claims, g.api_key = None, claims, None
        return
    with single_statement() as cur:
        user = users.find_for_token(cur, claims)
    if user is None:
        raise token_refused()
    g.user, g.claims, g.api_key = user, claims, None


def authenticate_key(key, scope):
    """One statement per request, one indexed lookup in it, no cache: a revoked key fails at
    its next request on every process. The key is compared by its hash only, through a unique index, so how long
    a wrong key takes says nothing about any real key's characters."""
    if not access_keys.well_formed(key):
        raise Unauthorized(INVALID_KEY)
    with single_statement() as cur:
        found = key_rows.find_for_request(cur, access_keys.key_hash(key))
    if found is None:
        raise Unauthorized(INVALID_KEY)
    request.environ[KEY_LOG_ENTRY] = found["key_prefix"]
    limit_key(found["key_id"])
    if found["key_expired"]:
        raise Unauthorized("Unauthorized: the API key has expired")
    if scope is None:
        raise Forbidden("Forbidden: this route takes a login token, not an API key")
    if scope not in found["key_scopes"]:
        raise Forbidden(f"Forbidden: the API key lacks the {scope} scope", required_scope=scope)
    if not found["key_maker_manages"]:
        raise Forbidden("Forbidden: the key's maker no longer owns or administers its organization")
    g.api_key = {"id": found["key_id"], "prefix": found["key_prefix"], "scopes": found["key_scopes"],
                 "organization_id": found["key_organization_id"]}
    g.user = {name: value for name, value in found.items() if not name.startswith("key_")}
    g.claims = None


def limit_key(key_id):
    """API_KEY_RATE_LIMIT requests a minute per key, told in the RateLimit-Policy and
    RateLimit headers (IETF httpapi draft) of every answer; 429 with Retry-After beyond."""
    allowed = settings().api_key_rate_limit
    if not allowed:
        return
    g.rate_limit = {"RateLimit-Policy": f'"api-key";q={allowed};w=60'}
    counted = limiter().count(key_for("api-key", str(key_id)), 60)
    if counted is None:
        return  # Redis is down: not limited, as every limiter here (scheduler/ratelimit.py)
    count, reset = counted
    g.rate_limit["RateLimit"] = f'"api-key";r={max(allowed - count, 0)};t={reset}'
    if count > allowed:
        raise TooManyRequests("Too many requests with this API key, slow down", retry_after=reset)


def rate_limit_headers(response):
    """An after_request hook: the key's rate-limit headers on its every answer, errors included."""
    if "rate_limit" in g:
        response.headers.extend(g.rate_limit)
    return response


def require_key_scope(scope, why):
    """For a use of a route that reaches beyond the route's own scope (a webhook or a CalDAV
    calendar that receives every booking): an API key needs `scope` too."""
    key = g.get("api_key")
    if key is not None and scope not in key["scopes"]:
        raise Forbidden(f"Forbidden: the API key lacks the {scope} scope: {why}", required_scope=scope)


def organization_key():
    """The organisation the request's API key acts for, or None (a login token, a person's key)."""
    key = g.get("api_key")
    return key and key["organization_id"]


def check_organization_reach(org_id, organization_route):
    """An organisation's key reaches its own organisation's routes (others' are 404, as to
    non-members) and, where the route says so, the organisation's part of a route of its own
    (webhooks); never its maker's own bookings, calendars or profile."""
    own = organization_key()
    if own is None:
        return
    if org_id is not None:
        if org_id != own:
            raise NotFound("Organization not found")
    elif not organization_route:
        raise Forbidden("Forbidden: an organization's API key acts only for its organization")


def token_refused():
    """The 401 of a login token that no longer holds."""
    return Unauthorized(INVALID_TOKEN)


def login_required(scope, *, organization=False, token_checked_by_view=False):
    """Guards a route for a signed-in person: a login token, or an API key holding `scope`
    (None: login tokens only, 403 for a key). `organization`: an organisation's key may use the
    route, which then limits itself to that organisation (organization_key()).
    `token_checked_by_view`: see authenticate()."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            authenticate(scope, token_checked_by_view=token_checked_by_view)
            check_organization_reach(kwargs.get("org_id"), organization)
            return view(*args, **kwargs)
        wrapper.token_required, wrapper.scope = True, scope  # read by the OpenAPI description
        return wrapper
    return decorator


def require_role(role, scope):
    """As login_required, for people of a site-wide role only (403 for others)."""
    def decorator(view):
        @functools.wraps(view)
        def in_role(*args, **kwargs):
            if g.user["role"] != role:
                raise Forbidden(f"Forbidden: requires the {role} role")
            return view(*args, **kwargs)
        wrapper = login_required(scope)(in_role)
        wrapper.required_role = role  # read by the OpenAPI description
        return wrapper
    return decorator
