from flask import Blueprint, g
from pydantic import Field

from ..auth import login_required
from ..db import transaction
from ..errors import NotFound
from ..repositories import notifications
from ..validation import Query, parse_query

bp = Blueprint("notifications", __name__)


class ListQuery(Query):
    limit: int = Field(default=50, ge=1, le=200)


@bp.get("")
@login_required
def list_notifications():
    query = parse_query(ListQuery)
    with transaction() as cur:
        return notifications.list_for_user(cur, g.user["id"], limit=query.limit)


@bp.get("/unread")
@login_required
def list_unread():
    query = parse_query(ListQuery)
    with transaction() as cur:
        return notifications.list_unread(cur, g.user["id"], limit=query.limit)


@bp.get("/count")
@login_required
def unread_count():
    with transaction() as cur:
        return {"unread": notifications.count_unread(cur, g.user["id"])}


@bp.patch("/read-all")
@login_required
def read_all():
    with transaction() as cur:
        updated = notifications.mark_all_read(cur, g.user["id"])
    return {"message": "All notifications marked as read", "updated": updated}


@bp.patch("/<id:notification_id>/read")
@login_required
def read_one(notification_id):
    with transaction() as cur:
        notification = notifications.mark_read(cur, notification_id, g.user["id"])
    if notification is None:
        raise NotFound("Notification not found")
    return {"message": "Notification marked as read", "notification": notification}


@bp.delete("/<id:notification_id>")
@login_required
def delete_one(notification_id):
    with transaction() as cur:
        deleted = notifications.delete(cur, notification_id, g.user["id"])
    if not deleted:
        raise NotFound("Notification not found")
    return {"message": "Notification deleted"}
