def test_create_admin_promotes_an_existing_user(app, client, alice):
    result = app.test_cli_runner().invoke(args=["create-admin", alice.email.upper()])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/users", headers=alice.auth).status_code == 200


def test_create_admin_creates_a_new_admin(app, client):
    result = app.test_cli_runner().invoke(args=["create-admin", "root@example.com", "--password", "rootpass1"])
    assert result.exit_code == 0, result.output
    r = client.post("/api/v1/auth/login", json={"email": "root@example.com", "password": "rootpass1"})
    assert r.status_code == 200 and r.json["user"]["role"] == "admin"


def test_create_admin_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "root@example.com", "--password", "123"])
    assert result.exit_code != 0
