from helpers import slot


def test_register_and_book(client, alice):
    r = client.post("/api/v1/bookings", json=slot("10:00", "11:00"), headers=alice.auth)
    assert r.status_code == 201, r.json
