"""The webhook endpoints API: who may see and change what, validation, the secret shown once,
lists paged like the others, and registration refusing internal addresses."""

import base64
import re

import pytest

from helpers import slot
from scheduler import create_app


@pytest.fixture
def guarded_client(settings, redis_conn):
    """A client of an app with the default: no private addresses."""
    app = create_app(settings.replace(egress_allow_private=False))
    yield app.test_client()
    app.extensions["runtime"].db.close()


HOOK = "http://127.0.0.1:9/hooks"


def create(client, user, **fields):
    return client.post("/api/v1/webhooks", json={"url": HOOK, "events": ["booking.created"], **fields},
                       headers=user.auth)


def test_create_shows_the_secret_once(client, alice):
    r = create(client, alice, description="CRM", events=["booking.cancelled", "booking.created",
                                                         "booking.created"])
    assert r.status_code == 201
    webhook = r.json["webhook"]
    assert webhook["secret"].startswith("whsec_") and len(base64.b64decode(webhook["secret"][6:])) == 32
    assert webhook["events"] == ["booking.cancelled", "booking.created"]
    assert webhook["user_id"] == alice.id and webhook["organization_id"] is None and webhook["enabled"] is True
    assert "secret" not in client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json
    assert all("secret" not in w for w in client.get("/api/v1/webhooks", headers=alice.auth).json)


@pytest.mark.parametrize("fields, field", [
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "https://user:pw@example.com/x"}, "url"),
    ({"url": "https:///nohost"}, "url"),
    ({"url": "http://example.com:99999/"}, "url"),
    ({"url": "http://example.com/" + "x" * 2048}, "url"),
    ({"url": 42}, "url"),
    ({"events": []}, "events"),
    ({"events": ["booking.exploded"]}, "events.0"),
    ({"events": "booking.created"}, "events"),
    ({"description": "d" * 501}, "description"),
    ({"organization_id": "1"}, "organization_id"),
])
def test_invalid_input_is_a_400_naming_the_field(client, alice, fields, field):
    r = create(client, alice, **fields)
    assert r.status_code == 400 and field in r.json["fields"], r.json
    assert client.get("/api/v1/webhooks", headers=alice.auth).json == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x", "http://10.1.2.3/x", "http://192.168.0.1/x",
    "http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x",
    "http://100.100.100.200/x", "http://[fd00:ec2::254]/x", "http://224.0.0.1/x", "http://2130706433/x",
])
def test_an_internal_address_is_refused_at_registration(guarded_client, register, url):
    user = register("Guarded")
    r = guarded_client.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]}, headers=user.auth)
    assert r.status_code == 400
    assert "private or reserved" in r.json["fields"]["url"]
    # A public address is accepted (nothing is sent: no event fires in this test).
    r = guarded_client.post("/api/v1/webhooks", json={"url": "http://8.8.8.8/x", "events": ["booking.created"]},
                            headers=user.auth)
    assert r.status_code == 201
    r = guarded_client.patch(f"/api/v1/webhooks/{r.json['webhook']['id']}", json={"url": url}, headers=user.auth)
    assert r.status_code == 400 and "url" in r.json["fields"]


@pytest.mark.parametrize("url", ["http://localhost:8080/x", "http://2130706433/x", "http://0x7f.1/x"])
def test_a_refusal_never_names_the_address_a_host_resolves_to(guarded_client, register, url):
    """The host is the client's own text; what it resolves to inside our network is not theirs."""
    user = register("Guarded")
    r = guarded_client.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]}, headers=user.auth)
    assert r.status_code == 400
    assert "resolves to a private or reserved address, which webhooks may not reach" in r.json["fields"]["url"]
    for address in ("127.0.0.1", "::1"):
        assert address not in r.json["error"] and address not in r.json["fields"]["url"]


@pytest.mark.parametrize("url", ["https://hooks.example.com:65535/in", "http://localhost:80/", "https://x.example:8443"])
def test_what_the_description_says_a_url_is_matches_what_is_accepted(client, alice, url):
    """A client validating against /openapi.json must not refuse a URL the API takes (5-digit ports were)."""
    pattern = client.get("/api/v1/openapi.json").json["components"]["schemas"]["WebhookIn"]["properties"]["url"]["pattern"]
    r = client.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]}, headers=alice.auth)
    assert r.status_code == 201, r.json
    assert re.fullmatch(pattern, url)


def test_others_webhooks_are_404(client, alice, bob, org_of):
    webhook = create(client, alice).json["webhook"]
    org_of(alice, bob)  # colleagues, still not bob's
    base = f"/api/v1/webhooks/{webhook['id']}"
    for method, path in [("get", base), ("patch", base), ("delete", base), ("post", base + "/rotate-secret"),
                         ("post", base + "/test"), ("get", base + "/deliveries"),
                         ("post", base + "/deliveries/1/retry")]:
        r = getattr(client, method)(path, json={"enabled": False} if method == "patch" else None, headers=bob.auth)
        assert r.status_code == 404, (method, path)
    assert client.get("/api/v1/webhooks", headers=bob.auth).json == []
    assert client.get(base, headers=alice.auth).json["enabled"] is True


def test_an_organizations_webhooks_are_managed_by_its_owner_and_admins(client, alice, bob, register):
    carol, dave = register("Carol"), register("Dave")
    org = client.post("/api/v1/organizations", json={"name": "Team"}, headers=alice.auth).json["organization"]
    client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": bob.email, "role": "admin"},
                headers=alice.auth)
    client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": carol.email}, headers=alice.auth)
    webhook = create(client, bob, organization_id=org["id"]).json["webhook"]
    assert webhook["organization_id"] == org["id"] and webhook["user_id"] is None
    for manager in (alice, bob):
        assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=manager.auth).status_code == 200
        assert [w["id"] for w in client.get("/api/v1/webhooks", headers=manager.auth).json] == [webhook["id"]]
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=carol.auth).status_code == 404
    assert create(client, carol, organization_id=org["id"]).status_code == 403  # a member, not an admin
    assert create(client, dave, organization_id=org["id"]).status_code == 404  # not a member
    assert create(client, dave, organization_id=999999).status_code == 404


def test_patch_changes_fields_and_enabling_starts_afresh(client, alice, db):
    webhook = create(client, alice, description="old").json["webhook"]
    url = f"/api/v1/webhooks/{webhook['id']}"
    assert client.patch(url, json={}, headers=alice.auth).status_code == 400
    r = client.patch(url, json={"events": ["attendee.responded"], "description": "new", "enabled": False},
                     headers=alice.auth)
    assert r.status_code == 200
    assert (r.json["webhook"]["events"], r.json["webhook"]["description"], r.json["webhook"]["enabled"]) == (
        ["attendee.responded"], "new", False)
    with db.cursor() as cur:
        cur.execute("UPDATE webhook_endpoints SET disabled_reason = 'gone', failing_since = now()")
    r = client.patch(url, json={"enabled": True}, headers=alice.auth)
    assert r.json["webhook"]["enabled"] is True and r.json["webhook"]["disabled_reason"] is None
    with db.cursor() as cur:
        cur.execute("SELECT failing_since FROM webhook_endpoints")
        assert cur.fetchone() == (None,)


def test_delete_removes_the_endpoint_and_its_log(client, alice, db):
    webhook = create(client, alice).json["webhook"]
    client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=alice.auth)
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).status_code == 200
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).status_code == 404
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM webhook_deliveries")
        assert cur.fetchone() == (0,)


def test_rotation_shows_the_new_secret_once(client, alice):
    webhook = create(client, alice).json["webhook"]
    r = client.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret", headers=alice.auth)
    assert r.status_code == 200 and r.json["webhook"]["secret"] not in (None, webhook["secret"])
    assert r.json["webhook"]["previous_secret_expires_at"] is not None
    assert "secret" not in client.get(f"/api/v1/webhooks/{webhook['id']}", headers=alice.auth).json


def test_lists_are_paged_with_a_link(client, alice):
    ids = [create(client, alice).json["webhook"]["id"] for _ in range(3)]
    first = client.get("/api/v1/webhooks?limit=2", headers=alice.auth)
    assert [w["id"] for w in first.json] == ids[:2] and 'rel="next"' in first.headers["Link"]
    following = first.headers["Link"].split(">")[0].lstrip("<")
    second = client.get(following, headers=alice.auth)
    assert [w["id"] for w in second.json] == ids[2:] and "Link" not in second.headers
    assert client.get("/api/v1/webhooks?cursor=nonsense", headers=alice.auth).status_code == 400


def test_the_delivery_log_is_newest_first_paged_and_filtered(client, alice):
    webhook = create(client, alice, events=["booking.created", "booking.cancelled"]).json["webhook"]
    base = f"/api/v1/webhooks/{webhook['id']}/deliveries"
    booking = client.post("/api/v1/bookings", json=slot("09:00", "10:00"), headers=alice.auth).json["booking"]
    client.delete(f"/api/v1/bookings/{booking['id']}", headers=alice.auth)
    client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=alice.auth)
    first = client.get(base + "?limit=2", headers=alice.auth)
    assert [d["type"] for d in first.json] == ["webhook.test", "booking.cancelled"]
    assert all(d["status"] == "pending" and d["attempts"] == [] and d["message_id"].startswith("msg_")
               for d in first.json)
    second = client.get(first.headers["Link"].split(">")[0].lstrip("<"), headers=alice.auth)
    assert [d["type"] for d in second.json] == ["booking.created"]
    assert client.get(base + "?status=delivered", headers=alice.auth).json == []
    assert client.get(base + "?status=bogus", headers=alice.auth).status_code == 400


def test_retrying_an_unknown_delivery_is_404(client, alice, bob):
    mine = create(client, alice).json["webhook"]
    theirs = create(client, bob).json["webhook"]
    delivery = client.post(f"/api/v1/webhooks/{theirs['id']}/test", headers=bob.auth).json["delivery"]
    r = client.post(f"/api/v1/webhooks/{mine['id']}/deliveries/{delivery['id']}/retry", headers=alice.auth)
    assert r.status_code == 404
