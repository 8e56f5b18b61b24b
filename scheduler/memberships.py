"""What the caller may do in an organisation, for the blueprints that answer for one (the
organisation itself, its event types): their membership found one way, refused one way."""

from flask import g

from .errors import Forbidden, NotFound
from .repositories import organizations


def membership(cur, org_id):
    """The organisation with my role in it; 404 for non-members, so existence does not leak."""
    org = organizations.find_with_role(cur, org_id, g.user["id"])
    if org is None:
        raise NotFound("Organization not found")
    return org


def require_owner(org, action):
    if org["owner_id"] != g.user["id"]:
        raise Forbidden(f"Only the organization owner can {action}")


def manages(org):
    return org["owner_id"] == g.user["id"] or org["my_role"] == "admin"
