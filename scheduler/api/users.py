import secrets
from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, g
from pydantic import ConfigDict, Field

from .. import find_time, links
from ..auth import (INVALID_TOKEN, hash_password, issue_token, limit_account, limited_guess, login_required,
                    password_matches, require_role)
from ..context import settings, single_statement, site, transaction
from ..db import retrying
from ..errors import BadRequest, Forbidden, Unauthorized
from ..keys import token_hash
from ..openapi import Error, RateLimited, Shape, describe
from ..pagination import PageQuery, paginated
from ..repositories import users
from ..validation import (Body, Email, Handle, Language, LoginPassword, Name, Password, Whole, WorkingHours, Zone,
                          at_least_one, parse, parse_query)
from ..windows import Availability, Busy, WindowQuery, parse_window

bp = Blueprint("users", __name__)

# What an API key with profile:write may change: never the e-mail (the account's recovery
# address), nor what a key could use to reach further.
KEY_PROFILE_FIELDS = {"name", "timezone", "working_hours", "locale"}
PROFILE_FIELDS = ("id", "name", "email", "role", "username", "timezone", "working_hours", "reminders", "locale",
                  "created_at", "updated_at")


class ProfilePatch(Body):
    """A null is the same as leaving the field out."""

    model_config = ConfigDict(json_schema_extra=at_least_one(
        "name", "email", "username", "timezone", "working_hours", "reminders", "locale"))
    name: Name | None = None
    email: Email | None = None
    username: Handle | None = None
    timezone: Zone | None = None
    working_hours: WorkingHours | None = None
    reminders: Annotated[list[Annotated[int, Field(ge=1, le=40320), Whole]], Field(max_length=5)] | None = None
    locale: Language | None = Field(default=None, description="The language of my emails.")


class PasswordChange(Body):
    currentPassword: LoginPassword
    newPassword: Password


class Profile(Shape):
    id: int
    name: str
    email: str
    role: Literal["member", "admin"]
    username: str | None = Field(description="The public handle in my booking links (/book/<username>/<slug>).")
    timezone: str
    working_hours: WorkingHours
    reminders: list[int]
    locale: str = Field(description="The language of my emails (BCP 47; en unless set).")
    created_at: datetime
    updated_at: datetime


class ProfileUpdated(Shape):
    message: str
    user: Profile


class PasswordChanged(Shape):
    message: str
    token: str


class CalendarFeed(Shape):
    message: str
    url: str


def profile(user):
    return {name: user[name] for name in PROFILE_FIELDS}


@bp.get("/me")
@describe(responses={200: Profile})
@login_required("profile:read")
def me():
    """My profile."""
    return profile(g.user)


@bp.patch("/me")
@describe(body=ProfilePatch, responses={200: ProfileUpdated, 403: Error, 409: Error, 429: RateLimited})
@login_required("profile:write")
@retrying
def update_me():
    """Change my name, e-mail, username, time zone, working hours, reminders or language.

    `working_hours` are local wall-clock times per weekday (days left out are off);
    `reminders` are minutes before a booking's start; `locale` is the language of my emails
    (one of en, de, fr, es, ja, with a region if you like: en-US writes 2:00 PM). 409 if the
    e-mail or username is taken.
    At most PROFILE_CHANGE_RATE_LIMIT changes an hour per person (default 30), each counted
    whatever it answers, so taken names can't be probed; 429 beyond. An API key changes only
    the name, time zone, working hours and language (403 for the rest)."""
    limit_account("profile-change", settings().profile_change_rate_limit, "profile changes")
    data = parse(ProfilePatch)
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise BadRequest("Provide at least one of name, email, username, timezone, working_hours, reminders, locale "
                         "to update")
    beyond_key = sorted(set(changes) - KEY_PROFILE_FIELDS) if g.api_key else []
    if beyond_key:
        raise Forbidden(f"Forbidden: an API key can't change {', '.join(beyond_key)}; sign in for that")
    if "reminders" in changes:
        changes["reminders"] = sorted(set(changes["reminders"]), reverse=True)
    with transaction() as cur:
        user = users.update_profile(cur, g.user["id"], **changes)
    return {"message": "Profile updated successfully", "user": profile(user)}


@bp.patch("/me/password")
@describe(body=PasswordChange, responses={200: PasswordChanged, 401: Error, 429: RateLimited})
@login_required(None)
def change_password():
    """Change my password: every older token stops working, and this returns a fresh one.

    401 for a wrong current password, which counts toward the 429 for the account."""
    data = parse(PasswordChange)
    config = settings()
    # bcrypt (both checks) before any transaction: no lock is held meanwhile, and a transaction
    # run again after a transient failure does not repeat them.
    new_hash = hash_password(data.newPassword, config.bcrypt_rounds)
    with single_statement() as cur:
        stored = users.password_for_change(cur, g.user["id"])
    # A parallel change came first and voided this token: not a wrong guess, not counted.
    if stored["token_version"] != g.claims["version"]:
        raise Unauthorized(INVALID_TOKEN)
    if not limited_guess(g.user["email"], lambda: password_matches(data.currentPassword, stored["password_hash"])):
        raise Unauthorized("Current password is incorrect")
    user = store_password(g.user["id"], new_hash, g.claims["version"])
    # Every older token, this request's included, now fails; the caller gets a fresh one.
    return {"message": "Password updated successfully", "token": issue_token(user, config)}


@retrying
def store_password(user_id, new_hash, token_version):
    """The new hash, unless a parallel change (which voided this token) stored its own first."""
    with transaction() as cur:
        user = users.set_password(cur, user_id, new_hash, token_version=token_version)
    if user is None:
        raise Unauthorized(INVALID_TOKEN)
    return user


@bp.get("")
@describe(query=PageQuery, responses={200: list[Profile]})
@require_role("admin", "profile:read")
def list_users():
    """Every user, newest first."""
    query = parse_query(PageQuery)
    with single_statement() as cur:
        return paginated(query, ("created_at", "id"), lambda after, limit: users.list_all(cur, after=after, limit=limit))


@bp.get("/me/busy")
@describe(query=WindowQuery, responses={200: Busy}, tag="schedules")
@login_required("calendars:read")
def my_busy():
    """When I am busy between `from` and `to`.

    At most 62 days, merged: my confirmed bookings with their buffers and my time off, without
    saying which."""
    start, end, _ = parse_window()
    with single_statement() as cur:
        return {"from": start, "to": end, "busy": find_time.busy(cur, g.user["id"], start, end)}


@bp.get("/me/availability")
@describe(query=WindowQuery, responses={200: Availability}, tag="schedules")
@login_required("schedules:read")
def my_availability():
    """Start times where I am free for `duration` minutes.

    Within my working hours (my default schedule with its date overrides, minus my bookings and
    time off), every `step` minutes from the opening of each working interval in my zone."""
    start, end, query = parse_window()
    with transaction() as cur:
        slots = find_time.free(cur, [g.user["id"]], start, end, duration=query.duration, step=query.step)
    return {"from": start, "to": end, "duration": query.duration, "step": query.step, "slots": slots}


@bp.post("/me/calendar-feed")
@describe(responses={201: CalendarFeed}, tag="calendars")
@login_required(None)
def rotate_calendar_feed():
    """A new secret feed URL; a previous one stops working. Only a hash is stored.

    Not for API keys: the URL reads every booking with no credential, more than any scope gives."""
    secret = secrets.token_urlsafe(32)
    with single_statement() as cur:
        replaced = users.set_feed_hash(cur, g.user["id"], token_hash(secret))
    message = "Calendar feed URL replaced; the previous one no longer works" if replaced else "Calendar feed created"
    return {"message": message, "url": links.page_url(site(), "calendar", f"{secret}.ics")}, 201
