from typing import Literal

from flask import Blueprint, g

from .. import announcements as announce, jobs
from ..auth import login_required
from ..context import redis_client
from ..db import single_statement, transaction
from ..errors import BadRequest, Forbidden, NotFound
from ..availability import free_time, parse_window, slots
from ..repositories import bookings, organizations, users
from ..validation import Body, Email, Name, parse

bp = Blueprint("organizations", __name__)


class OrganizationIn(Body):
    name: Name


class MemberIn(Body):
    email: Email
    role: Literal["admin", "member"] = "member"


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


def shown(org):
    """The organisation as clients see it: `role` is the caller's role in it, `accepted_at`
    when the caller accepted its invitation (null: not yet)."""
    return {key: value for key, value in org.items() if key != "my_role"} | {"role": org["my_role"]}


@bp.post("")
@login_required
def create_organization():
    data = parse(OrganizationIn)
    with transaction() as cur:
        org = organizations.insert(cur, name=data.name, owner_id=g.user["id"])
        organizations.add_member(cur, org["id"], g.user["id"], "admin", accepted=True)
    return {"message": "Organization created successfully", "organization": org}, 201


@bp.get("")
@login_required
def list_organizations():
    with single_statement() as cur:
        return organizations.list_for_member(cur, g.user["id"])


@bp.get("/<id:org_id>")
@login_required
def get_organization(org_id):
    with transaction() as cur:
        org = membership(cur, org_id)
        members = organizations.list_members(cur, org_id)
    return shown(org) | {"members": members}


@bp.patch("/<id:org_id>")
@login_required
def rename_organization(org_id):
    data = parse(OrganizationIn)
    with transaction() as cur:
        require_owner(membership(cur, org_id), "rename it")
        org = organizations.rename(cur, org_id, data.name)
    return {"message": "Organization updated successfully", "organization": org}


@bp.delete("/<id:org_id>")
@login_required
def delete_organization(org_id):
    with transaction() as cur:
        require_owner(membership(cur, org_id), "delete it")
        organizations.delete(cur, org_id)
    return {"message": "Organization deleted successfully"}


@bp.post("/<id:org_id>/members")
@login_required
def add_member(org_id):
    data = parse(MemberIn)
    with transaction() as cur:
        org = membership(cur, org_id)
        if not manages(org):
            raise Forbidden("Only the owner and organization admins can add members")
        invitee = users.find_by_email(cur, data.email)
        if invitee is None:
            raise NotFound("User not found with that email")
        member = organizations.add_member(cur, org_id, invitee["id"], data.role)
        email_ids = announce.member_added(cur, org, invitee, data.role, g.user)
    jobs.send_emails(redis_client(), email_ids)
    return {"message": "Member added successfully", "member": member}, 201


@bp.post("/<id:org_id>/accept")
@login_required
def accept_invitation(org_id):
    """Being added shares nothing; accepting lets members who accepted see my availability and
    invite me. Declining is leaving: DELETE /organizations/<id>/members/<my id>."""
    with single_statement() as cur:
        org = organizations.accept(cur, org_id, g.user["id"])
    if org is None:
        raise NotFound("Organization not found")
    return {"message": "Invitation accepted", "organization": shown(org)}


@bp.get("/<id:org_id>/members")
@login_required
def list_members(org_id):
    with transaction() as cur:
        membership(cur, org_id)
        return organizations.list_members(cur, org_id)


@bp.delete("/<id:org_id>/members/<id:user_id>")
@login_required
def remove_member(org_id, user_id):
    """Owner and admins remove anyone but the owner; a member may remove themselves (leave)."""
    with transaction() as cur:
        org = membership(cur, org_id)
        if user_id == org["owner_id"]:
            raise BadRequest("The owner cannot be removed from the organization")
        if not manages(org) and user_id != g.user["id"]:
            raise Forbidden("Only the owner and organization admins can remove members")
        if not organizations.remove_member(cur, org_id, user_id):
            raise NotFound("Member not found in this organization")
    return {"message": "Member removed successfully"}


@bp.get("/<id:org_id>/availability")
@login_required
def team_availability(org_id):
    """Start times when every chosen member (default: all) is free within their own working hours."""
    start, end, query = parse_window()
    chosen = sorted({int(i) for i in query.members.split(",")}) if query.members else None
    with transaction() as cur:
        if membership(cur, org_id)["accepted_at"] is None:
            raise Forbidden("Accept this organization's invitation to see its members' availability")
        people = organizations.schedules(cur, org_id, chosen)
        if chosen is not None and len(people) != len(chosen):
            raise BadRequest("Every chosen member must belong to the organization and have accepted its invitation",
                             fields={"members": "not all are members of this organization who accepted"})
        commitments = bookings.commitments(cur, [p["id"] for p in people], start, end)
    free = free_time(people, commitments, start, end)
    return {"from": start, "to": end, "duration": query.duration, "step": query.step,
            "members": [p["id"] for p in people], "slots": slots(free, query.duration, query.step)}
