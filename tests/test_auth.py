import time

import jwt
import pytest

from scheduler.config import Settings
from helpers import PRODUCTION

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"


def test_register_returns_token_and_user_without_secrets(client):
    r = client.post(REGISTER, json={"name": "Bob", "email": "bob@example.com", "password": "secure123"})
    assert r.status_code == 201
    assert r.json["token"] and r.json["message"]
    assert r.json["user"] == {"id": r.json["user"]["id"], "name": "Bob", "email": "bob@example.com", "role": "member"}
    assert "password" not in r.get_data(as_text=True)


@pytest.mark.parametrize("body, field", [
    ({"email": "x@example.com", "password": "secure123"}, "name"),
    ({"name": "X", "password": "secure123"}, "email"),
    ({"name": "X", "email": "x@example.com"}, "password"),
    ({"name": "X", "email": "not-an-email", "password": "secure123"}, "email"),
    ({"name": "X", "email": "a,b@example.com", "password": "secure123"}, "email"),
    ({"name": "X", "email": "Eve <eve@example.com>", "password": "secure123"}, "email"),
    ({"name": "X", "email": "a@b@example.com", "password": "secure123"}, "email"),
    ({"name": "X", "email": "x;y@example.com", "password": "secure123"}, "email"),
    ({"name": "X", "email": "x@exa\"mple.com", "password": "secure123"}, "email"),
    ({"name": "X", "email": "x@example.com", "password": "123"}, "password"),
    ({"name": 42, "email": "x@example.com", "password": "secure123"}, "name"),
    ({"name": "   ", "email": "x@example.com", "password": "secure123"}, "name"),
    ({"name": "X", "email": "x@example.com", "password": "p" * 73}, "password"),
])
def test_register_rejects_bad_input_naming_the_field(client, db, body, field):
    r = client.post(REGISTER, json=body)
    assert r.status_code == 400
    assert field in r.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        assert cur.fetchone()[0] == 0


def test_register_duplicate_email_conflicts_case_insensitively(client, alice):
    r = client.post(REGISTER, json={"name": "Dup", "email": alice.email.upper(), "password": "secure123"})
    assert r.status_code == 409
    assert r.json["error"] == "Email already in use"


def test_login_accepts_any_case_of_the_email(client, alice):
    r = client.post(LOGIN, json={"email": alice.email.upper(), "password": alice.password})
    assert r.status_code == 200
    assert r.json["user"]["id"] == alice.id and r.json["user"]["role"] == "member"


def test_login_failures_look_the_same(client, alice):
    wrong = client.post(LOGIN, json={"email": alice.email, "password": "nope-nope"})
    unknown = client.post(LOGIN, json={"email": "nobody@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json == {"error": "Invalid credentials"}


def test_login_without_password_is_400(client, alice):
    assert client.post(LOGIN, json={"email": alice.email}).status_code == 400


def test_verify_reads_the_user_fresh(client, alice, db):
    with db.cursor() as cur:
        cur.execute("UPDATE users SET role = 'admin', name = 'Alicia' WHERE id = %s", (alice.id,))
    r = client.get("/api/v1/auth/verify", headers=alice.auth)
    assert r.status_code == 200
    assert r.json == {"valid": True, "user": {"id": alice.id, "name": "Alicia", "email": alice.email, "role": "admin"}}


def test_token_of_a_deleted_user_fails(client, alice, db):
    with db.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (alice.id,))
    assert client.get("/api/v1/users/me", headers=alice.auth).status_code == 401


@pytest.mark.parametrize("header", [None, "garbage", "Bearer", "Bearer not.a.jwt", "Basic abc"])
def test_protected_routes_need_a_valid_token(client, header):
    headers = {"Authorization": header} if header else {}
    r = client.get("/api/v1/users/me", headers=headers)
    assert r.status_code == 401 and r.json["error"]


def claims_of(user, **changes):
    return jwt.decode(user.token, options={"verify_signature": False}) | changes


def test_token_signed_with_another_secret_fails(client, alice):
    token = jwt.encode(claims_of(alice), "another-secret-another-secret-xx", algorithm="HS256")
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_unsigned_token_fails(client, alice):
    token = jwt.encode(claims_of(alice), None, algorithm="none")
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_expired_token_fails(client, alice, settings):
    claims = claims_of(alice, exp=int(time.time()) - 5)
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize("path, method", [("/api/v1/users/me", "get"), ("/api/v1/auth/logout", "post")])
def test_token_living_longer_than_we_issue_fails(client, alice, settings, path, method):
    """A token this API never issued, even if signed with its secret (say the public development one)."""
    claims = claims_of(alice, exp=10**15)
    token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
    r = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize("changes", [{"jti": "a\u0000b"}, {"jti": 12}, {"jti": "x" * 5000}, {"sub": "\u0661"},
                                     {"sub": "1e3"}, {"sub": "1\n"}, {"ver": "0"}, {"exp": 1.5e9 + 0.5}])
def test_claims_of_another_shape_than_we_issue_fail(client, alice, settings, db, changes):
    token = jwt.encode(claims_of(alice, **changes), settings.jwt_secret, algorithm="HS256")
    assert client.get("/api/v1/auth/verify", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    logged = client.post("/api/v1/analytics/event", json={"eventType": "X"}, headers={"Authorization": f"Bearer {token}"})
    assert logged.status_code == 201
    with db.cursor() as cur:
        cur.execute("SELECT user_id FROM analytics_events WHERE id = %s", (logged.json["event"]["id"],))
        assert cur.fetchone() == (None,)


def test_logout_revokes_only_that_token(client, alice):
    second = client.post(LOGIN, json={"email": alice.email, "password": alice.password}).json["token"]
    assert client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 200
    assert client.get("/api/v1/users/me", headers=alice.auth).status_code == 401
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_logout_twice_is_401(client, alice):
    client.post("/api/v1/auth/logout", headers=alice.auth)
    assert client.post("/api/v1/auth/logout", headers=alice.auth).status_code == 401


def test_failed_logins_are_limited_per_account(client, alice, app):
    limit = app.extensions["runtime"].settings.login_max_failures
    for _ in range(limit):
        assert client.post(LOGIN, json={"email": alice.email, "password": "wrong-guess"}).status_code == 401
    blocked = client.post(LOGIN, json={"email": alice.email.upper(), "password": alice.password})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    other = client.post(REGISTER, json={"name": "Carl", "email": "carl@example.com", "password": "secure123"})
    assert client.post(LOGIN, json={"email": "carl@example.com", "password": "secure123"}).status_code == 200, other


def test_successful_login_clears_the_failure_count(client, alice, app):
    limit = app.extensions["runtime"].settings.login_max_failures
    for _ in range(limit - 1):
        client.post(LOGIN, json={"email": alice.email, "password": "wrong-guess"})
    assert client.post(LOGIN, json={"email": alice.email, "password": alice.password}).status_code == 200
    for _ in range(limit - 1):
        client.post(LOGIN, json={"email": alice.email, "password": "wrong-guess"})
    assert client.post(LOGIN, json={"email": alice.email, "password": alice.password}).status_code == 200


def test_auth_routes_are_limited_per_address_when_configured(settings, redis_conn, database_url):
    from scheduler import create_app
    app = create_app(settings.replace(auth_ip_rate_limit=3))
    client = app.test_client()
    statuses = [client.post(LOGIN, json={"email": f"u{i}@example.com", "password": "x"}).status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    app.extensions["runtime"].db.close()


def test_production_limits_auth_routes_per_address_by_default():
    settings = Settings.from_mapping(PRODUCTION)
    assert settings.auth_ip_rate_limit > 0


def test_a_token_that_expires_after_use_is_refused(client, alice, settings):
    expires = int(time.time()) + 2
    token = jwt.encode(claims_of(alice, exp=expires), settings.jwt_secret, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    time.sleep(expires - time.time() + 0.1)
    assert client.get("/api/v1/users/me", headers=headers).status_code == 401
