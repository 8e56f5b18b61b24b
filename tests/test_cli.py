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


def test_create_admin_applies_the_apis_checks(app, client):
    runner = app.test_cli_runner()
    for args in (["bad,addr@example.com", "--password", "rootpass1"], ["root@example.com", "--password", "p" * 73]):
        result = runner.invoke(args=["create-admin", *args])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    spaced = runner.invoke(args=["create-admin", "  spaced@example.com ", "--password", "rootpass1"])
    assert spaced.exit_code == 0, spaced.output
    assert client.post("/api/v1/auth/login", json={"email": "spaced@example.com", "password": "rootpass1"}).status_code == 200


def test_create_admin_does_not_ignore_a_password_for_an_existing_account(app, client, alice):
    result = app.test_cli_runner().invoke(args=["create-admin", alice.email, "--password", "another1"])
    assert result.exit_code == 2 and "already" in result.output
    assert client.get("/api/v1/users", headers=alice.auth).status_code == 403
