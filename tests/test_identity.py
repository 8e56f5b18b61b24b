"""One identity per person: every spelling of an address that looks the same is one account,
invisible and direction-changing characters are refused, and the login limiter counts per
identity, however the address is written."""

import shutil
import threading
import time
import uuid

import psycopg2
import pytest

from conftest import with_database
from migrate import SQL_DIR, migrate
from scheduler import create_app

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"


def register(client, email, name="Ian"):
    return client.post(REGISTER, json={"name": name, "email": email, "password": "secure123"})


@pytest.mark.parametrize("look_alike", [
    "IAN@EXAMPLE.COM",
    "\u0130an@example.com",                  # İ, dotted capital I: PostgreSQL's lower() made it 'i'
    "\uff49\uff41\uff4e@example.com",        # full-width letters
    "ian\uff20example.com",                  # full-width @
    "ian@example\uff0ecom",                  # full-width dot
    "I\u0307an@example.com",                 # I + combining dot above
])
def test_look_alikes_of_an_address_are_the_same_account(client, look_alike):
    first = register(client, "ian@example.com")
    assert first.status_code == 201
    again = register(client, look_alike)
    assert again.status_code == 409 and again.json["error"] == "Email already in use"
    login = client.post(LOGIN, json={"email": look_alike, "password": "secure123"})
    assert login.status_code == 200 and login.json["user"]["id"] == first.json["user"]["id"]


@pytest.mark.parametrize("first, second", [
    ("jos\u00e9@example.com", "jose\u0301@example.com"),   # NFC, then NFD
    ("jose\u0301@example.com", "jos\u00e9@example.com"),   # NFD, then NFC
    ("ian@b\u00fccher.de", "ian@xn--bcher-kva.de"),        # a domain in Unicode and in IDNA form
])
def test_composed_and_decomposed_forms_are_one_account(client, first, second):
    assert register(client, first).status_code == 201
    assert register(client, second).status_code == 409


def test_addresses_are_stored_in_composed_form_keeping_their_case(client):
    r = register(client, "\uff21da@Example.com")
    assert r.status_code == 201 and r.json["user"]["email"] == "Ada@Example.com"
    r = register(client, "rene\u0301@example.com")
    assert r.json["user"]["email"] == "ren\u00e9@example.com"


@pytest.mark.parametrize("address", [
    "i\u200ban@example.com",      # zero-width space
    "ia\u200dn@example.com",      # zero-width joiner
    "\ufeffian@example.com",      # zero-width no-break space
    "i\u00adan@example.com",      # soft hyphen
    "ian\u200e@example.com",      # left-to-right mark
    "\u202eian@example.com",      # right-to-left override
    "ian@\u2067example.com",      # right-to-left isolate
    "ia\u034fn@example.com",      # combining grapheme joiner
    "ian@example.com.",           # trailing dot
    "ian@example..com",           # empty domain label
])
def test_invisible_characters_and_trailing_dots_are_refused(client, db, address):
    r = register(client, address)
    assert r.status_code == 400 and "email" in r.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        assert cur.fetchone()[0] == 0


def test_a_space_in_an_address_is_refused_as_misshapen_not_as_invisible(client):
    r = register(client, "a b@example.org")
    assert r.status_code == 400
    assert r.json["fields"]["email"] == "must be a valid email address"


@pytest.mark.parametrize("name", ["\u202eevil", "Ev\u200bil", "Eve\u00ad", "Ev\u2028e", "Ev\r\ne"])
def test_names_may_not_hide_characters_or_turn_text_around(client, alice, db, name):
    assert register(client, "eve@example.com", name=name).json["fields"]["name"] == \
        "must not contain invisible, control or text-direction characters"
    r = client.patch("/api/v1/users/me", json={"name": name}, headers=alice.auth)
    assert r.status_code == 400 and "name" in r.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT name FROM users")
        assert cur.fetchall() == [(alice.name,)]


def test_names_keep_their_spaces_and_accents(client):
    r = register(client, "jose@example.com", name="Jos\u00e9 de la Cruz")
    assert r.status_code == 201 and r.json["user"]["name"] == "Jos\u00e9 de la Cruz"


def test_a_look_alike_is_refused_on_profile_change_too(client, alice, register):
    bob = register("Bob", email="bob@example.com")
    r = client.patch("/api/v1/users/me", json={"email": "\uff42ob@example.com"}, headers=alice.auth)
    assert r.status_code == 409
    r = client.patch("/api/v1/users/me", json={"email": "bob\u200b@example.com"}, headers=alice.auth)
    assert r.status_code == 400
    assert client.get("/api/v1/users/me", headers=alice.auth).json["email"] == alice.email
    assert client.get("/api/v1/users/me", headers=bob.auth).json["email"] == "bob@example.com"


@pytest.mark.parametrize("address, spelling", [("bob@example.com", "BO\uff22@example.com"),  # fullwidth
                                               ("ace@example.com", "\u0430\u0441\u0435@example.com")])  # Cyrillic
def test_members_are_found_by_any_spelling_or_look_alike_of_their_address(client, alice, register, address, spelling):
    member = register("Member", email=address)
    org = client.post("/api/v1/organizations", json={"name": "Crew"}, headers=alice.auth).json["organization"]
    r = client.post(f"/api/v1/organizations/{org['id']}/members", json={"email": spelling}, headers=alice.auth)
    assert r.status_code == 201 and r.json["member"]["user_id"] == member.id


# Look-alikes from other scripts (UTS #39). Each pair: an existing address, then one that looks the same.
WHOLE_SCRIPT_LOOK_ALIKES = [
    ("ace@example.com", "\u0430\u0441\u0435@example.com"),   # Cyrillic а с е
    ("io@example.com", "\u03b9\u03bf@example.com"),           # Greek ι ο
    ("opo@example.com", "\u039f\u03a1\u039f@example.com"),   # Greek capitals Ο Ρ Ο
    ("ian@example.com", "\u0131an@example.com"),               # Latin dotless ı
    ("ada@example.com", "\u0251da@example.com"),               # Latin alpha ɑ
    ("ian@pay.com", "ian@\u0440\u0430\u0443.com"),           # a Cyrillic domain label р а у
    ("ian@pay.com", "ian@xn--80a5ak.com"),                      # the same label in IDNA form
]


@pytest.mark.parametrize("first, look_alike", WHOLE_SCRIPT_LOOK_ALIKES)
def test_look_alikes_from_other_scripts_are_the_same_account(client, first, look_alike):
    owner = register(client, first)
    assert owner.status_code == 201
    again = register(client, look_alike)
    assert again.status_code == 409 and again.json["error"] == "Email already in use"
    login = client.post(LOGIN, json={"email": look_alike, "password": "secure123"})
    assert login.status_code == 200 and login.json["user"]["id"] == owner.json["user"]["id"]


@pytest.mark.parametrize("first, look_alike", WHOLE_SCRIPT_LOOK_ALIKES[:3])
def test_the_plain_spelling_of_a_registered_look_alike_is_taken_too(client, first, look_alike):
    assert register(client, look_alike).status_code == 201
    assert register(client, first).status_code == 409


@pytest.mark.parametrize("address", [
    "\u0430da@example.com",              # Cyrillic а among Latin letters
    "ad\u03b1@example.com",              # Greek α among Latin letters
    "ada@ex\u0430mple.com",              # a domain label mixing Latin and Cyrillic
    "ada@xn--exmple-4nf.com",            # the same label in IDNA form
    "\u0438\u0432a\u043d@example.com",  # Cyrillic with one Latin a
])
def test_mixing_scripts_within_a_part_is_refused(client, alice, db, address):
    r = register(client, address)
    assert r.status_code == 400
    assert r.json["fields"]["email"] == \
        "must not mix scripts (such as Latin and Cyrillic) in its local part or a domain label"
    r = client.patch("/api/v1/users/me", json={"email": address}, headers=alice.auth)
    assert r.status_code == 400 and "email" in r.json["fields"]
    with db.cursor() as cur:
        cur.execute("SELECT email FROM users")
        assert cur.fetchall() == [(alice.email,)]


@pytest.mark.parametrize("address", [
    "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",  # иван@пример.рф
    "\u03bd\u03af\u03ba\u03b7@example.gr",                                      # νίκη: Greek, no look-alike
    "\u5c71\u7530\u3055\u3093@\u4f8b\u3048.jp",                                 # Han with Hiragana
    "jos\u00e9.garc\u00eda@example.com",                                       # Latin with accents
])
def test_single_script_addresses_are_their_own_people(client, address):
    assert register(client, address).status_code == 201
    assert register(client, "ace@example.com").status_code == 201


@pytest.mark.parametrize("first, second", [("amie@example.com", "arnie@example.com"),
                                           ("user1@example.com", "userl@example.com"),
                                           ("bob0@example.com", "bobo@example.com")])
def test_ascii_addresses_that_differ_stay_different_people(client, first, second):
    """Mail has always told these apart: folding them would lock a real person out."""
    assert register(client, first).status_code == 201
    assert register(client, second).status_code == 201


def test_a_whole_script_look_alike_is_refused_on_profile_change(client, alice, register):
    ace = register("Ace", email="ace@example.com")
    r = client.patch("/api/v1/users/me", json={"email": "\u0430\u0441\u0435@example.com"}, headers=alice.auth)
    assert r.status_code == 409
    assert client.get("/api/v1/users/me", headers=alice.auth).json["email"] == alice.email
    assert client.get("/api/v1/users/me", headers=ace.auth).json["email"] == "ace@example.com"


def test_limiter_counts_look_alikes_from_other_scripts_as_one_identity(client, app):
    register(client, "ace@example.com")
    for _ in range(app.extensions["runtime"].settings.login_max_failures):
        assert client.post(LOGIN, json={"email": "ace@example.com", "password": "wrong-one"}).status_code == 401
    r = client.post(LOGIN, json={"email": "\u0430\u0441\u0435@example.com", "password": "secure123"})
    assert r.status_code == 429


def test_limiter_counts_per_identity_not_per_spelling(client, app):
    """After the limit of failures on ian@, İan@ (which PostgreSQL's lower() used to match to
    the same account) must not get fresh guesses."""
    register(client, "ian@example.com")
    for _ in range(app.extensions["runtime"].settings.login_max_failures):
        assert client.post(LOGIN, json={"email": "ian@example.com", "password": "wrong-one"}).status_code == 401
    assert client.post(LOGIN, json={"email": "ian@example.com", "password": "secure123"}).status_code == 429
    for spelling in ("\u0130an@example.com", "\uff49an@example.com", "IAN@example.com."):
        r = client.post(LOGIN, json={"email": spelling, "password": "secure123"})
        assert r.status_code == 429, spelling


def test_losers_of_parallel_password_changes_are_not_failed_logins(settings, redis_conn, register, db):
    """Two changes with the same token and the right password: the second waits for the first,
    whose change voids the token. That is a stale token (401), not a wrong guess."""
    app = create_app(settings.replace(login_max_failures=1))
    alice = register("Alice")
    holder = psycopg2.connect(settings.database_url)
    results = {}

    def change(new_password):
        r = app.test_client().patch("/api/v1/users/me/password", headers=alice.auth,
                                    json={"currentPassword": alice.password, "newPassword": new_password})
        results[new_password] = r.status_code
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (alice.id,))
        threads = [threading.Thread(target=change, args=(p,)) for p in ("first-new-1", "second-new-2")]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while waiting_on_locks(db) < 2:
            assert time.monotonic() < deadline, "the two changes never queued on the row lock"
            time.sleep(0.05)
        holder.commit()
        for t in threads:
            t.join(20)
            assert not t.is_alive()
    finally:
        holder.close()
        app.extensions["runtime"].db.close()
    assert sorted(results.values()) == [200, 401]
    [winner] = [password for password, status in results.items() if status == 200]
    client = app.test_client()
    assert client.post(LOGIN, json={"email": alice.email, "password": winner}).status_code == 200


def waiting_on_locks(db):
    """Sessions waiting for a lock on a users row (the test's holder has it)."""
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE '%%users%%'")
        return cur.fetchone()[0]


@pytest.fixture
def database_before(database_url, tmp_path):
    """Makes new databases with the schema as it was before a migration (`before("005")`)."""
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    made = []

    def make(migration):
        name = f"scheduler_identity_{uuid.uuid4().hex[:8]}"
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        url = with_database(database_url, name)
        old = tmp_path / name
        (old / "migrations").mkdir(parents=True)
        shutil.copy(SQL_DIR / "init.sql", old / "init.sql")
        for path in (SQL_DIR / "migrations").iterdir():
            if path.name < migration:
                shutil.copy(path, old / "migrations" / path.name)
        migrate(url, old)
        return url
    yield make
    with admin.cursor() as cur:
        for name in made:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def database_before_005(database_before):
    """A new database with the schema as it was before migration 005 (and the old index)."""
    return database_before("005")


def test_the_migration_reports_existing_look_alikes_instead_of_failing(database_before_005, caplog):
    conn = psycopg2.connect(database_before_005)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
        for email in ("ian@example.com", "\uff49an@example.com", "i\u200ban@example.com", "ann@example.com",
                      "Ian@Example.com."):
            cur.execute("INSERT INTO users (name, email, password_hash) VALUES ('x', %s, 'x') RETURNING id", (email,))
    with caplog.at_level("WARNING", logger="scheduler.migrate"):
        assert migrate(database_before_005)[0] == "005_email_identity.py"  # later migrations follow it
    [report] = [r.getMessage() for r in caplog.records if "look-alike" in r.getMessage()]
    assert "account 1 keeps its address" in report and "accounts 2, 3, 5" in report
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id, email_key FROM users ORDER BY id")
        assert cur.fetchall() == [(1, "ian@example.com"), (2, None), (3, None), (4, "ann@example.com"), (5, None)]
        cur.execute("SELECT to_regclass('users_email_lower_key')")
        assert cur.fetchone() == (None,)
    with pytest.raises(psycopg2.errors.UniqueViolation), conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, email_key, password_hash) VALUES ('x', 'xyz', 'ann@example.com', 'x')")
    conn.close()


def test_the_confusables_migration_rekeys_accounts_and_reports_look_alikes(database_before, caplog):
    url = database_before("016")
    conn = psycopg2.connect(url)
    accounts = [  # (address, its key under 005's rule), oldest first
        ("\u0430\u0441\u0435@example.com", "\u0430\u0441\u0435@example.com"),  # 1: Cyrillic асе
        ("ace@example.com", "ace@example.com"),                                  # 2: the plain spelling
        ("\u03b9\u03bf@example.com", "\u03b9\u03bf@example.com"),              # 3: Greek ιο, nobody else
        ("\u0251da@example.com", "\u0251da@example.com"),                        # 4: Latin-alpha ɑda
        ("\u0430da@example.com", "\u0430da@example.com"),                        # 5: Cyrillic а + Latin
        ("ann@example.com", "ann@example.com"),                                  # 6: nothing to fold
        ("\uff41nn@example.com", None),                                          # 7: left keyless by 005
    ]
    with conn, conn.cursor() as cur:
        for email, key in accounts:
            cur.execute("INSERT INTO users (name, email, email_key, password_hash) VALUES ('x', %s, %s, 'x')",
                        (email, key))
    with caplog.at_level("WARNING", logger="scheduler.migrate"):
        assert migrate(url)[0] == "016_confusable_identity.py"
    reports = sorted(r.getMessage() for r in caplog.records if "look-alike" in r.getMessage())
    assert len(reports) == 2
    assert "account 2 has the address's identity; accounts 1 look the same" in reports[0]
    assert "account 4 has the address's identity; accounts 5 look the same" in reports[1]
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id, email_key FROM users ORDER BY id")
        assert cur.fetchall() == [
            (1, "\u0430\u0441\u0435@example.com"),  # kept: no address reaches it until it is changed
            (2, "ace@example.com"),
            (3, "io@example.com"),
            (4, "ada@example.com"),                  # the oldest of two that both changed
            (5, "\u0430da@example.com"),
            (6, "ann@example.com"),
            (7, None),
        ]
    assert migrate(url) == []
    conn.close()
