def test_profile_hides_secrets(client, alice):
    r = client.get("/api/v1/users/me", headers=alice.auth)
    assert r.status_code == 200
    assert set(r.json) == {"id", "name", "email", "role", "username", "timezone", "working_hours", "reminders",
                           "locale", "created_at", "updated_at"}
    assert r.json["email"] == alice.email


def test_profile_update(client, alice):
    r = client.patch("/api/v1/users/me", json={"name": "Alicia", "email": "alicia@example.com"}, headers=alice.auth)
    assert r.status_code == 200
    assert r.json["user"]["name"] == "Alicia" and r.json["user"]["email"] == "alicia@example.com"


def test_profile_update_needs_a_field(client, alice):
    assert client.patch("/api/v1/users/me", json={}, headers=alice.auth).status_code == 400
    assert client.patch("/api/v1/users/me", json={"name": None}, headers=alice.auth).status_code == 400


def test_profile_update_rejects_bad_email(client, alice):
    r = client.patch("/api/v1/users/me", json={"email": "nope"}, headers=alice.auth)
    assert r.status_code == 400 and "email" in r.json["fields"]


def test_profile_email_taken_is_409_and_changes_nothing(client, alice, bob):
    r = client.patch("/api/v1/users/me", json={"name": "New", "email": bob.email.upper()}, headers=alice.auth)
    assert r.status_code == 409
    assert client.get("/api/v1/users/me", headers=alice.auth).json["name"] == "Alice"


def test_password_change_revokes_every_older_token(client, alice):
    other_session = client.post("/api/v1/auth/login", json={"email": alice.email, "password": alice.password}).json["token"]
    r = client.patch("/api/v1/users/me/password", json={"currentPassword": alice.password, "newPassword": "newpass456"},
                     headers=alice.auth)
    assert r.status_code == 200
    for token in (alice.token, other_session):
        assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {r.json['token']}"}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"email": alice.email, "password": "newpass456"}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"email": alice.email, "password": alice.password}).status_code == 401


def test_password_change_checks_current_and_new(client, alice):
    wrong = client.patch("/api/v1/users/me/password", json={"currentPassword": "wrong-one", "newPassword": "newpass456"},
                         headers=alice.auth)
    assert wrong.status_code == 401
    short = client.patch("/api/v1/users/me/password", json={"currentPassword": alice.password, "newPassword": "123"},
                         headers=alice.auth)
    assert short.status_code == 400 and "newPassword" in short.json["fields"]
    assert client.get("/api/v1/users/me", headers=alice.auth).status_code == 200


def test_current_password_guesses_count_as_failed_logins(client, alice, app):
    """A stolen token must not buy unlimited guesses at the password it could then change."""
    limit = app.extensions["runtime"].settings.login_max_failures
    for _ in range(limit):
        r = client.patch("/api/v1/users/me/password", json={"currentPassword": "guess", "newPassword": "newpass456"},
                         headers=alice.auth)
        assert r.status_code == 401
    right = client.patch("/api/v1/users/me/password", json={"currentPassword": alice.password, "newPassword": "newpass456"},
                         headers=alice.auth)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert client.post("/api/v1/auth/login", json={"email": alice.email, "password": alice.password}).status_code == 429


def test_listing_users_is_for_admins(client, alice, admin):
    assert client.get("/api/v1/users", headers=alice.auth).status_code == 403
    r = client.get("/api/v1/users?limit=1", headers=admin.auth)
    assert r.status_code == 200 and len(r.json) == 1 and "password_hash" not in r.json[0]
    assert client.get("/api/v1/users?limit=0", headers=admin.auth).status_code == 400


def test_demoted_admin_loses_access_at_once(client, admin, db):
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'member' WHERE id = %s", (admin.id,))
    assert client.get("/api/v1/users", headers=admin.auth).status_code == 403
