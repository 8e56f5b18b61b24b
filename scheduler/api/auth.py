from typing import Annotated, Literal

from flask import Blueprint, g
from pydantic import StringConstraints

from .. import announcements
from ..auth import (dummy_hash, hash_password, issue_token, limit_client_address, limited_guess, login_required,
                    password_matches)
from ..context import send_messages, settings, single_statement, transaction
from ..db import retrying
from ..errors import Unauthorized
from ..openapi import Error, Message, RateLimited, Shape, describe
from ..repositories import users
from ..validation import Body, LoginPassword, RegisterIn, parse

bp = Blueprint("auth", __name__)

class LoginIn(Body):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: LoginPassword


class PublicUser(Shape):
    id: int
    name: str
    email: str
    role: Literal["member", "admin"]


class Session(Shape):
    message: str
    token: str
    user: PublicUser


class Verified(Shape):
    valid: bool
    user: PublicUser


def public_user(user):
    return {"id": user["id"], "name": user["name"], "email": user["email"], "role": user["role"]}


def credentials_match(user, password, rounds):
    """Checks the password; an unknown user costs one bcrypt check all the same."""
    if user is None:
        password_matches(password, dummy_hash(rounds))
        return False
    return password_matches(password, user["password_hash"])


@bp.post("/register")
@describe(body=RegisterIn, responses={201: Session, 409: Error, 429: RateLimited})
def register():
    """Create an account and get a token.

    409 if the e-mail is taken (in any letter case). A welcome email follows."""
    limit_client_address("auth-ip", settings().auth_ip_rate_limit)
    data = parse(RegisterIn)
    password_hash = hash_password(data.password, settings().bcrypt_rounds)  # once, not per run below
    user = create_account(data, password_hash)
    return {
        "message": "User registered successfully",
        "token": issue_token(user, settings()),
        "user": public_user(user),
    }, 201


@retrying
def create_account(data, password_hash):
    with transaction() as cur:
        user = users.insert(cur, name=data.name, email=data.email, password_hash=password_hash)
        send_messages(cur, announcements.user_registered(user))
    return user


@bp.post("/login")
@describe(body=LoginIn, responses={200: Session, 401: Error, 429: RateLimited})
def login():
    """Exchange e-mail and password for a token.

    401 `Invalid credentials` for an unknown e-mail and a wrong password alike; 429 after
    too many failures for the account."""
    limit_client_address("auth-ip", settings().auth_ip_rate_limit)
    data = parse(LoginIn)
    config = settings()
    with single_statement() as cur:
        user = users.find_for_login(cur, data.email)
    if not limited_guess(data.email, lambda: credentials_match(user, data.password, config.bcrypt_rounds)):
        raise Unauthorized("Invalid credentials")
    return {"message": "Login successful", "token": issue_token(user, config), "user": public_user(user)}


@bp.post("/logout")
@describe(responses={200: Message})
@login_required(None)
def logout():
    """Revoke this token."""
    with single_statement() as cur:
        users.revoke_token(cur, jti=g.claims["jti"], user_id=g.user["id"], expires_at=g.claims["exp"])
    return {"message": "Logged out successfully"}


@bp.get("/verify")
@describe(responses={200: Verified})
@login_required(None)
def verify():
    """Check a token and see whose it is."""
    return {"valid": True, "user": public_user(g.user)}
