"""The egress guard: which addresses the service's outbound HTTP (webhooks, calendars) may
reach, checked where it matters: on the address a name resolved to, at the moment of connecting
(so a name that re-resolves inside, as in DNS rebinding, is still refused), and once more when
the URL is registered, to say so early. `exchange` is one HTTP request over such a connection.

The standard library's http.client is enough and adds no dependency: it never follows
redirects (a caller that does makes a new exchange per hop, each connection checked again),
verifies certificates with the default SSL context, and its connect step is the one seam
needed to connect only to the address that `connect` checked.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The host resolves only to addresses the service may not reach. Its message names the host,
    never the addresses: it is shown to whoever registered the URL, and what a name resolves
    to inside the service's network is not theirs to learn."""


class UnresolvableHost(Exception):
    """The host name does not resolve."""


def embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address):
    """True for a globally routable unicast address. Loopback, private, shared (CGNAT),
    link-local (and so the 169.254.169.254 cloud metadata service), multicast, unspecified,
    reserved and documentation ranges are not, nor IPv6 forms that carry one of them."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    inner = embedded_ipv4(ip)
    if inner is not None:
        ip = inner
    return ip.is_global and not ip.is_multicast


def resolve(host, port):
    """(family, sockaddr) pairs for a TCP connection to host:port."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host} does not resolve ({exc})") from None
    return [(family, sockaddr) for family, _, _, _, sockaddr in found]


def check_host(host, port):
    """Raises BlockedAddress if any address of the host is not public."""
    if not all(is_public(sockaddr[0]) for _, sockaddr in resolve(host, port)):
        raise BlockedAddress(f"{host} resolves to a private or reserved address, which webhooks may not reach")


def connect(host, port, timeout, *, allow_private=False):
    """A TCP socket to the first reachable permitted address of host:port. The address is
    checked after resolution and connected to directly, so nothing re-resolves in between."""
    candidates = resolve(host, port)
    permitted = [(f, a) for f, a in candidates if allow_private or is_public(a[0])]
    if not permitted:
        raise BlockedAddress(f"{host} resolves only to private or reserved addresses, which the service may not reach")
    error = None
    for family, sockaddr in permitted:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


class GuardedHTTPConnection(http.client.HTTPConnection):
    allow_private = False

    def connect(self):
        self.sock = connect(self.host, self.port, self.timeout, allow_private=self.allow_private)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedHTTPSConnection(http.client.HTTPSConnection, GuardedHTTPConnection):
    """HTTPSConnection.connect wraps what GuardedHTTPConnection.connect opened, checking the
    certificate against the URL's host name."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def exchange(method, url, *, headers, body=None, connect_timeout, total_timeout, allow_private, read_limit):
    """Sends one request to an http(s) URL over a guarded connection and returns the Answer, with
    at most `read_limit` bytes of its body. The whole exchange ends after total_timeout seconds
    however slowly the server answers: socket timeouts bound each read, a watchdog the total,
    against a server that answers a byte at a time. Raises BlockedAddress, UnresolvableHost,
    OSError (TimeoutError), http.client.HTTPException or ValueError."""
    parts = urlsplit(url)
    kind = GuardedHTTPSConnection if parts.scheme == "https" else GuardedHTTPConnection
    options = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
    conn = kind(parts.hostname, parts.port, timeout=min(connect_timeout, total_timeout), **options)
    conn.allow_private = allow_private
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    watchdog = threading.Timer(total_timeout, close_quietly, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()
        remaining = total_timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise TimeoutError
        conn.sock.settimeout(remaining)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read(read_limit))
    finally:
        watchdog.cancel()
        conn.close()


def close_quietly(conn):
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
