from flask import Blueprint, g
from pydantic import Field

from ..auth import login_required
from ..db import single_statement
from ..errors import NotFound
from ..pagination import paginated
from ..repositories import notifications
from ..validation import Query, parse_query

bp = Blueprint("notifications", __name__)


class ListQuery(Query):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


def listing(unread_only):
    query = parse_query(ListQuery)
    with single_statement() as cur:
        return paginated(query, ("is_read", "created_at", "id"), lambda after, limit: notifications.list_for_user(
            cur, g.user["id"], unread_only=unread_only, after=after, limit=limit))


@bp.get("")
@login_required
def list_notifications():
    return listing(unread_only=False)


@bp.get("/unread")
@login_required
def list_unread():
    return listing(unread_only=True)


@bp.get("/count")
@login_required
def unread_count():
    with single_statement() as cur:
        return {"unread": notifications.count_unread(cur, g.user["id"])}


@bp.patch("/read-all")
@login_required
def read_all():
    with single_statement() as cur:
        updated = notifications.mark_all_read(cur, g.user["id"])
    return {"message": "All notifications marked as read", "updated": updated}


@bp.patch("/<id:notification_id>/read")
@login_required
def read_one(notification_id):
    with single_statement() as cur:
        notification = notifications.mark_read(cur, notification_id, g.user["id"])
    if notification is None:
        raise NotFound("Notification not found")
    return {"message": "Notification marked as read", "notification": notification}


@bp.delete("/<id:notification_id>")
@login_required
def delete_one(notification_id):
    with single_statement() as cur:
        deleted = notifications.delete(cur, notification_id, g.user["id"])
    if not deleted:
        raise NotFound("Notification not found")
    return {"message": "Notification deleted"}
