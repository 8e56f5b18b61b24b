from helpers import slot

NOTIFICATIONS = "/api/v1/notifications"


def test_notifications_follow_bookings_unread_first(client, alice):
    client.post("/api/v1/bookings", json=slot("08:00", "09:00", title="N1"), headers=alice.auth)
    b = client.post("/api/v1/bookings", json=slot("10:00", "11:00", title="N2"), headers=alice.auth).json["booking"]
    client.delete(f"/api/v1/bookings/{b['id']}", headers=alice.auth)

    listed = client.get(NOTIFICATIONS, headers=alice.auth).json
    assert [n["type"] for n in listed] == ["BOOKING_CANCELLED", "BOOKING_CONFIRMED", "BOOKING_CONFIRMED"]
    assert listed[0]["metadata"] == {"booking_id": b["id"]}
    assert client.get(f"{NOTIFICATIONS}/count", headers=alice.auth).json == {"unread": 3}

    first = listed[0]["id"]
    r = client.patch(f"{NOTIFICATIONS}/{first}/read", headers=alice.auth)
    assert r.status_code == 200 and r.json["notification"]["is_read"] is True
    assert client.get(f"{NOTIFICATIONS}/count", headers=alice.auth).json == {"unread": 2}
    assert client.get(NOTIFICATIONS, headers=alice.auth).json[-1]["id"] == first
    assert [n["id"] for n in client.get(f"{NOTIFICATIONS}/unread", headers=alice.auth).json] == [n["id"] for n in listed[1:]]

    assert client.patch(f"{NOTIFICATIONS}/read-all", headers=alice.auth).json["updated"] == 2
    assert client.get(f"{NOTIFICATIONS}/unread", headers=alice.auth).json == []
    assert client.delete(f"{NOTIFICATIONS}/{first}", headers=alice.auth).status_code == 200
    assert client.delete(f"{NOTIFICATIONS}/{first}", headers=alice.auth).status_code == 404


def test_limit_is_validated_and_applied(client, alice):
    for hour in range(3):
        client.post("/api/v1/bookings", json=slot(f"0{hour}:00", f"0{hour}:30"), headers=alice.auth)
    assert len(client.get(f"{NOTIFICATIONS}?limit=2", headers=alice.auth).json) == 2
    for bad in ("0", "201", "abc", "-1"):
        assert client.get(f"{NOTIFICATIONS}?limit={bad}", headers=alice.auth).status_code == 400


def test_notifications_are_private(client, alice, bob):
    client.post("/api/v1/bookings", json=slot("08:00", "09:00"), headers=alice.auth)
    nid = client.get(NOTIFICATIONS, headers=alice.auth).json[0]["id"]
    assert client.patch(f"{NOTIFICATIONS}/{nid}/read", headers=bob.auth).status_code == 404
    assert client.delete(f"{NOTIFICATIONS}/{nid}", headers=bob.auth).status_code == 404
    assert client.get(NOTIFICATIONS, headers=bob.auth).json == []
    assert client.patch(f"{NOTIFICATIONS}/read-all", headers=bob.auth).json["updated"] == 0
    assert client.get(f"{NOTIFICATIONS}/count", headers=alice.auth).json == {"unread": 1}


def test_the_badge_refuses_a_token_that_no_longer_holds(client, alice, register, db):
    """The unread count checks its login token in the statement that counts (one statement a
    request): a token logged out, older than a password change, or of a deleted account is
    refused there as on every other route, and another of the person's tokens still counts."""
    count = "/api/v1/notifications/count"
    second = client.post("/api/v1/auth/login", json={"email": alice.email, "password": alice.password}).json["token"]
    assert client.get(count, headers=alice.auth).json == {"unread": 0}
    assert client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 200
    refused = client.get(count, headers=alice.auth)
    assert refused.status_code == 401 and refused.json["error"] == "Unauthorized: invalid or expired token"
    assert client.get(count, headers={"Authorization": f"Bearer {second}"}).json == {"unread": 0}

    changed = client.patch("/api/v1/users/me/password", json={"currentPassword": alice.password,
                                                                "newPassword": "another-secret-9"},
                           headers={"Authorization": f"Bearer {second}"})
    assert changed.status_code == 200, changed.json
    assert client.get(count, headers={"Authorization": f"Bearer {second}"}).status_code == 401

    carl = register("Carl")
    with db.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (carl.id,))
    assert client.get(count, headers=carl.auth).status_code == 401
