"""Which addresses a webhook may reach: the classification, and the refusal at connect time."""

import socket

import pytest

from scheduler.egress import BlockedAddress, connect, is_public


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",  # loopback, private, CGNAT
    "169.254.169.254", "100.100.100.200", "fd00:ec2::254",  # cloud metadata services
    "169.254.1.1", "fe80::1", "fe80::1%1",  # link-local
    "224.0.0.1", "239.1.2.3", "ff02::1", "ff0e::1",  # multicast
    "0.0.0.0", "::", "::1", "255.255.255.255", "240.0.0.1", "192.0.2.1", "2001:db8::1",  # unspecified, reserved
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "2002:7f00:1::", "64:ff9b::a00:1", "::127.0.0.1", "fc00::1",  # 6to4, NAT64, IPv4-compatible, ULA
])
def test_internal_addresses_are_not_public(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_global_unicast_addresses_are_public(address):
    assert is_public(address)


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433"])
def test_connect_refuses_a_name_that_resolves_inside(listener, host):
    with pytest.raises(BlockedAddress, match="private or reserved"):
        connect(host, listener, 1.0)


def test_connect_reaches_a_private_address_when_allowed(listener):
    connect("127.0.0.1", listener, 1.0, allow_private=True).close()


@pytest.mark.parametrize("host", ["localhost", "2130706433"])
def test_a_refused_connection_does_not_name_the_address(listener, host):
    """The message becomes the delivery attempt's `error`, shown to the webhook's owner."""
    with pytest.raises(BlockedAddress) as refused:
        connect(host, listener, 1.0)
    assert str(refused.value) == f"{host} resolves only to private or reserved addresses, which the service may not reach"
