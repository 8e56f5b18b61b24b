from flask import Blueprint, g

from ..auth import hash_password, issue_token, login_required, password_matches, require_role
from ..context import settings
from ..db import transaction
from ..errors import BadRequest, Unauthorized
from ..repositories import users
from ..validation import Body, Email, Name, Password, Query, parse, parse_query
from .auth import LoginPassword
from pydantic import Field

bp = Blueprint("users", __name__)

PROFILE_FIELDS = ("id", "name", "email", "role", "created_at", "updated_at")


class ProfilePatch(Body):
    name: Name | None = None
    email: Email | None = None


class PasswordChange(Body):
    currentPassword: LoginPassword
    newPassword: Password


class UserListQuery(Query):
    limit: int = Field(default=50, ge=1, le=200)


def profile(user):
    return {name: user[name] for name in PROFILE_FIELDS}


@bp.get("/me")
@login_required
def me():
    return profile(g.user)


@bp.patch("/me")
@login_required
def update_me():
    data = parse(ProfilePatch)
    if data.name is None and data.email is None:
        raise BadRequest("Provide at least name or email to update")
    with transaction() as cur:
        user = users.update_profile(cur, g.user["id"], name=data.name, email=data.email)
    return {"message": "Profile updated successfully", "user": profile(user)}


@bp.patch("/me/password")
@login_required
def change_password():
    data = parse(PasswordChange)
    config = settings()
    new_hash = hash_password(data.newPassword, config.bcrypt_rounds)
    with transaction() as cur:
        if not password_matches(data.currentPassword, users.password_hash(cur, g.user["id"])):
            raise Unauthorized("Current password is incorrect")
        user = users.set_password(cur, g.user["id"], new_hash)
    # Every older token, this request's included, now fails; the caller gets a fresh one.
    return {"message": "Password updated successfully", "token": issue_token(user, config)}


@bp.get("")
@require_role("admin")
def list_users():
    query = parse_query(UserListQuery)
    with transaction() as cur:
        return users.list_all(cur, limit=query.limit)
