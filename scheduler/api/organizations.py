from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, g
from pydantic import ConfigDict, Field

from .. import announcements, find_time
from ..auth import limit_account, login_required
from ..context import send_messages, settings, single_statement, transaction
from ..db import retrying
from ..errors import BadRequest, Forbidden, NotFound
from ..idempotency import idempotent
from ..memberships import manages, membership, require_owner
from ..openapi import Error, Message, RateLimited, Shape, describe
from ..repositories import organizations, users
from ..validation import Body, Email, Handle, Name, at_least_one, parse
from ..windows import Availability, WindowQuery, parse_window

bp = Blueprint("organizations", __name__)


class OrganizationIn(Body):
    name: Name


class OrganizationPatch(Body):
    """A field left out stays as it is; `slug: null` clears the slug (`name` may not be null)."""

    model_config = ConfigDict(json_schema_extra=at_least_one("name", "slug", null_counts=True))
    name: Name = None
    slug: Annotated[Handle, Field(description="The organisation's handle in team booking links, "
                                              "/book/team/<slug>/<type slug>.")] | None = None


class MemberIn(Body):
    email: Email
    role: Literal["admin", "member"] = "member"


Role = Literal["admin", "member"]


class Organization(Shape):
    id: int
    name: str
    slug: str | None = Field(description="Its handle in team booking links; null until set.")
    owner_id: int
    created_at: datetime
    updated_at: datetime


class MyOrganization(Organization):
    role: Role = Field(description="My role in it.")
    accepted_at: datetime | None = Field(description="When I accepted its invitation; null: not yet.")


class Member(Shape):
    membership_id: int
    role: Role
    joined_at: datetime
    accepted_at: datetime | None
    user_id: int
    name: str
    email: str


class OrganizationDetail(MyOrganization):
    members: list[Member]


class OrganizationSaved(Shape):
    message: str
    organization: Organization


class InvitationAccepted(Shape):
    message: str
    organization: MyOrganization


class Membership(Shape):
    id: int
    organization_id: int
    user_id: int
    role: Role
    joined_at: datetime
    accepted_at: datetime | None


class MemberAdded(Shape):
    message: str
    member: Membership


class TeamAvailability(Availability):
    members: list[int]


def shown(org):
    """The organisation as clients see it: `role` is the caller's role in it, `accepted_at`
    when the caller accepted its invitation (null: not yet)."""
    return {key: value for key, value in org.items() if key != "my_role"} | {"role": org["my_role"]}


@bp.post("")
@describe(body=OrganizationIn, responses={201: OrganizationSaved})
@login_required("organizations:write")
@retrying
@idempotent()
def create_organization():
    """Create an organisation: I am its owner and an `admin` member."""
    data = parse(OrganizationIn)
    with transaction() as cur:
        org = organizations.insert(cur, name=data.name, owner_id=g.user["id"])
        organizations.add_member(cur, org["id"], g.user["id"], "admin", accepted=True)
    return {"message": "Organization created successfully", "organization": org}, 201


@bp.get("")
@describe(responses={200: list[MyOrganization]})
@login_required("organizations:read")
def list_organizations():
    """The organisations I belong to, with my role in each."""
    with single_statement() as cur:
        return organizations.list_for_member(cur, g.user["id"])


@bp.get("/<id:org_id>")
@describe(responses={200: OrganizationDetail})
@login_required("organizations:read")
def get_organization(org_id):
    """One of my organisations, with its members."""
    with transaction() as cur:
        org = membership(cur, org_id)
        members = organizations.list_members(cur, org_id)
    return shown(org) | {"members": members}


@bp.patch("/<id:org_id>")
@describe(body=OrganizationPatch, responses={200: OrganizationSaved, 403: Error, 409: Error})
@login_required("organizations:write")
@retrying
def update_organization(org_id):
    """Rename an organisation I own, or set its slug.

    `name`: the owner only. `slug` (its handle in team booking links, as a username is a
    person's: 3-40 of a-z, 0-9 and -, stored in lower case, reserved words refused, unique: 409):
    the owner and organisation admins; null clears it."""
    data = parse(OrganizationPatch)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if not changes:
        raise BadRequest("Provide at least one field to update")
    with transaction() as cur:
        org = membership(cur, org_id)
        if "name" in changes:
            require_owner(org, "rename it")
        elif not manages(org):
            raise Forbidden("Only the owner and organization admins can change its slug")
        org = organizations.update(cur, org_id, changes)
    return {"message": "Organization updated successfully", "organization": org}


@bp.delete("/<id:org_id>")
@describe(responses={200: Message, 403: Error})
@login_required("organizations:write")
@retrying
def delete_organization(org_id):
    """Delete an organisation I own."""
    with transaction() as cur:
        require_owner(membership(cur, org_id), "delete it")
        organizations.delete(cur, org_id)
    return {"message": "Organization deleted successfully"}


@bp.post("/<id:org_id>/members")
@describe(body=MemberIn, responses={201: MemberAdded, 403: Error, 409: Error, 429: RateLimited})
@login_required("organizations:write")
@retrying
def add_member(org_id):
    """Add a registered user by e-mail (owner and organisation admins).

    404 for an unknown e-mail, 409 if already a member. The new member shares nothing until
    they accept. At most MEMBER_ADD_RATE_LIMIT attempts an hour per person (default 20), each
    counted whatever it answers; 429 beyond."""
    limit_account("member-add", settings().member_add_rate_limit, "member additions")
    data = parse(MemberIn)
    with transaction() as cur:
        org = membership(cur, org_id)
        if not manages(org):
            raise Forbidden("Only the owner and organization admins can add members")
        invitee = users.find_by_email(cur, data.email)
        if invitee is None:
            raise NotFound("User not found with that email")
        member = organizations.add_member(cur, org_id, invitee["id"], data.role)
        send_messages(cur, announcements.member_added(org, invitee, data.role, g.user))
    return {"message": "Member added successfully", "member": member}, 201


@bp.post("/<id:org_id>/accept")
@describe(responses={200: InvitationAccepted})
@login_required("organizations:write")
def accept_invitation(org_id):
    """Accept an organisation's invitation.

    Being added shares nothing; accepting lets members who accepted see my availability and
    invite me. Declining is leaving: DELETE /organizations/<id>/members/<my id>."""
    with single_statement() as cur:
        org = organizations.accept(cur, org_id, g.user["id"])
    if org is None:
        raise NotFound("Organization not found")
    return {"message": "Invitation accepted", "organization": shown(org)}


@bp.get("/<id:org_id>/members")
@describe(responses={200: list[Member]})
@login_required("organizations:read")
def list_members(org_id):
    """The members of one of my organisations."""
    with transaction() as cur:
        membership(cur, org_id)
        return organizations.list_members(cur, org_id)


@bp.delete("/<id:org_id>/members/<id:user_id>")
@describe(responses={200: Message, 403: Error})
@login_required("organizations:write")
@retrying
def remove_member(org_id, user_id):
    """Remove a member, or leave.

    Owner and admins remove anyone but the owner (400); a member may remove themselves (leave)."""
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
@describe(query=WindowQuery, responses={200: TeamAvailability, 403: Error})
@login_required("organizations:read")
def team_availability(org_id):
    """When every chosen member is free.

    Start times when every chosen member (default: all) is free within their own working hours
    (default schedule with its date overrides, each in their own zone, minus bookings and time
    off), every `step` minutes from the opening of each interval of their common hours."""
    start, end, query = parse_window()
    chosen = sorted({int(i) for i in query.members.split(",")}) if query.members else None
    with transaction() as cur:
        if membership(cur, org_id)["accepted_at"] is None:
            raise Forbidden("Accept this organization's invitation to see its members' availability")
        people = organizations.accepted_members(cur, org_id, chosen)
        if chosen is not None and len(people) != len(chosen):
            raise BadRequest("Every chosen member must belong to the organization and have accepted its invitation",
                             fields={"members": "not all are members of this organization who accepted"})
        slots = find_time.free(cur, people, start, end, duration=query.duration, step=query.step)
    return {"from": start, "to": end, "duration": query.duration, "step": query.step, "members": people,
            "slots": slots}
