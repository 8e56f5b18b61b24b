from datetime import datetime

from flask import Blueprint, g

from ..auth import login_required, token_refused
from ..context import single_statement
from ..errors import NotFound
from ..openapi import Message, Shape, describe
from ..pagination import PageQuery, paginated
from ..repositories import notifications
from ..validation import parse_query

bp = Blueprint("notifications", __name__)


class Notification(Shape):
    id: int
    user_id: int
    type: str
    title: str
    message: str | None
    is_read: bool
    metadata: dict
    created_at: datetime


class UnreadCount(Shape):
    unread: int


class ReadAll(Shape):
    message: str
    updated: int


class NotificationRead(Shape):
    message: str
    notification: Notification


def listing(unread_only):
    query = parse_query(PageQuery)
    with single_statement() as cur:
        return paginated(query, ("is_read", "created_at", "id"), lambda after, limit: notifications.list_for_user(
            cur, g.user["id"], unread_only=unread_only, after=after, limit=limit))


@bp.get("")
@describe(query=PageQuery, responses={200: list[Notification]})
@login_required("profile:read")
def list_notifications():
    """My notifications: unread first, then newest."""
    return listing(unread_only=False)


@bp.get("/unread")
@describe(query=PageQuery, responses={200: list[Notification]})
@login_required("profile:read")
def list_unread():
    """My unread notifications, newest first."""
    return listing(unread_only=True)


@bp.get("/count")
@describe(responses={200: UnreadCount})
@login_required("profile:read", token_checked_by_view=True)
def unread_count():
    """How many of my notifications are unread (the badge)."""
    person = g.user["id"] if g.user else g.claims["user_id"]
    with single_statement() as cur:
        unread = notifications.count_unread(cur, person, token=g.claims)
    if unread is None:
        raise token_refused()
    return {"unread": unread}


@bp.patch("/read-all")
@describe(responses={200: ReadAll})
@login_required("profile:write")
def read_all():
    """Mark all my notifications read; `updated` says how many changed."""
    with single_statement() as cur:
        updated = notifications.mark_all_read(cur, g.user["id"])
    return {"message": "All notifications marked as read", "updated": updated}


@bp.patch("/<id:notification_id>/read")
@describe(responses={200: NotificationRead})
@login_required("profile:write")
def read_one(notification_id):
    """Mark one of my notifications read."""
    with single_statement() as cur:
        notification = notifications.mark_read(cur, notification_id, g.user["id"])
    if notification is None:
        raise NotFound("Notification not found")
    return {"message": "Notification marked as read", "notification": notification}


@bp.delete("/<id:notification_id>")
@describe(responses={200: Message})
@login_required("profile:write")
def delete_one(notification_id):
    """Delete one of my notifications."""
    with single_statement() as cur:
        deleted = notifications.delete(cur, notification_id, g.user["id"])
    if not deleted:
        raise NotFound("Notification not found")
    return {"message": "Notification deleted"}
