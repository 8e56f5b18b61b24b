"""Real servers on this machine that calendars are read from in tests: an HTTP server that
serves iCalendar feeds (with ETag / Last-Modified, 304s, redirects, basic auth, failures), and
Radicale, a real CalDAV server, run in-process on a loopback port."""

import base64
import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

# How often a server's loop looks for shutdown: the default half second was most of each test's teardown.
POLL_SECONDS = 0.05


@dataclass
class Feed:
    """What a path answers: a body (with an ETag and Last-Modified, so a conditional GET that
    matches gets 304), or a status, or a redirect; `credentials` (user, password) are required."""

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    location: str | None = None
    credentials: tuple | None = None
    content_type: str = "text/calendar"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict = field(default_factory=dict)


class FeedServer:
    def __init__(self):
        self.feeds = {}
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.requests.append(Seen("GET", self.path, dict(self.headers.items())))
                    feed = server.feeds.get(self.path)
                if feed is None:
                    return self.answer(404)
                if feed.credentials is not None:
                    expected = "Basic " + base64.b64encode(":".join(feed.credentials).encode()).decode()
                    if self.headers.get("Authorization") != expected:
                        return self.answer(401, {"WWW-Authenticate": 'Basic realm="feeds"'})
                if feed.location:
                    return self.answer(feed.status, {"Location": feed.location})
                if feed.status != 200:
                    return self.answer(feed.status)
                if feed.etag and self.headers.get("If-None-Match") == feed.etag or \
                        feed.last_modified and self.headers.get("If-Modified-Since") == feed.last_modified:
                    return self.answer(304)
                headers = {"Content-Type": feed.content_type}
                headers |= {"ETag": feed.etag} if feed.etag else {}
                headers |= {"Last-Modified": feed.last_modified} if feed.last_modified else {}
                self.answer(200, headers, feed.body)

            def answer(self, status, headers=None, body=b""):
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True)
        self.thread.start()

    def serve(self, path, body=b"", **options):
        """Serves `body` (or what `options` say) at `path`; returns its URL."""
        with self.lock:
            self.feeds[path] = Feed(body=body, **options)
        return self.base + path

    def seen(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Radicale:
    """Radicale on 127.0.0.1 with htpasswd users (plain text, as its tests do), its collections in
    `folder`. `account(user)` has helpers that make calendars and put and delete events over
    CalDAV itself."""

    def __init__(self, folder, users):
        import radicale
        from radicale import config
        (folder / "users").write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
        configuration = config.load()
        configuration.update({
            "storage": {"filesystem_folder": str(folder / "collections")},
            "auth": {"type": "htpasswd", "htpasswd_filename": str(folder / "users"), "htpasswd_encryption": "plain",
                     "delay": "0.05"},
            "rights": {"type": "owner_only"},
        }, "tests", privileged=True)
        self.users = users
        self.server = make_server("127.0.0.1", 0, radicale.Application(configuration),
                                  server_class=ThreadingWSGIServer, handler_class=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,), daemon=True)
        self.thread.start()

    def request(self, user, method, path, body=b"", headers=None):
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        auth = base64.b64encode(f"{user}:{self.users[user]}".encode()).decode()
        try:
            conn.request(method, path, body=body, headers={"Authorization": f"Basic {auth}", **(headers or {})})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def make_calendar(self, user, slug, name, components=("VEVENT",)):
        """A calendar collection /user/slug/; returns its URL."""
        comps = "".join(f'<C:comp name="{c}"/>' for c in components)
        body = ('<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
                f"<D:set><D:prop><D:displayname>{name}</D:displayname>"
                f"<C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set>"
                "</D:prop></D:set></C:mkcalendar>")
        assert self.request(user, "MKCALENDAR", f"/{user}/{slug}/", body.encode(),
                            {"Content-Type": "application/xml"}) == 201
        return f"{self.url}/{user}/{slug}/"

    def put(self, user, slug, uid, ics):
        assert self.request(user, "PUT", f"/{user}/{slug}/{uid}.ics", ics, {"Content-Type": "text/calendar"}) in (201, 204)

    def delete(self, user, slug, uid):
        assert self.request(user, "DELETE", f"/{user}/{slug}/{uid}.ics") in (200, 204)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
