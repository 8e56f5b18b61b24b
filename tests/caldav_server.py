"""A real CalDAV server for tests: Radicale (PyPI `radicale`) as a subprocess on a free
127.0.0.1 port, one user with a plain htpasswd password, its collections in a temp folder.

`stop()` and `start()` again keep the port and the storage, so a test can take the server away
and bring it back with what it held. `make_calendar` creates a calendar collection
(MKCALENDAR) and returns its absolute URL; `items` and `events` read what a collection holds.
(tests/calendar_servers.py runs Radicale inside the test process instead, with several
accounts, for reading calendars; this one can be stopped and started again.)"""

import base64
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urljoin, urlsplit

import icalendar
import pytest

from helpers import end

START_SECONDS = 15
DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
# Every resource of a calendar collection with its data (RFC 4791, 7.8).
CALENDAR_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"/></C:filter>
</C:calendar-query>"""


class Radicale:
    def __init__(self, port, user="owner", password=None):
        self.port = port
        self.user = user
        self.password = password or uuid.uuid4().hex
        self.root = tempfile.mkdtemp(prefix="scheduler-radicale-")
        self.url = f"http://127.0.0.1:{port}/"
        self.process = None
        self.write_config()

    def write_config(self):
        with open(os.path.join(self.root, "users"), "w") as f:
            f.write(f"{self.user}:{self.password}\n")
        with open(os.path.join(self.root, "config"), "w") as f:
            f.write(f"""[server]
hosts = 127.0.0.1:{self.port}
delay_on_error = 0

[auth]
type = htpasswd
htpasswd_filename = {self.root}/users
htpasswd_encryption = plain
# Radicale waits after a refused login; tests that send a wrong password need no wait.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {self.root}/collections

[logging]
level = warning
""")

    def start(self):
        """Starts the server (again, on the same port and storage) and waits until it answers."""
        with open(os.path.join(self.root, "log"), "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", os.path.join(self.root, "config")],
                cwd=self.root, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.request("OPTIONS", self.url)
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"radicale did not start: {self.log()}") from None
                time.sleep(0.05)

    def stop(self):
        """Stops the server; its storage stays for the next start()."""
        end(self.process)

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        with open(os.path.join(self.root, "log"), errors="replace") as f:
            return f.read()[-2000:]

    def request(self, method, url, body=None, headers=None):
        """One request as the user; returns (status, headers, body)."""
        parts = urlsplit(url)
        credentials = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            conn.request(method, parts.path or "/", body=body,
                         headers={"Authorization": f"Basic {credentials}", **(headers or {})})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def make_calendar(self, name="calendar"):
        """Creates the calendar collection /<user>/<name>/ and returns its absolute URL."""
        url = urljoin(self.url, f"{self.user}/{name}/")
        status, _, body = self.request("MKCALENDAR", url)
        assert status == 201, (status, body)
        return url

    def items(self, calendar_url):
        """{absolute URL of each resource in the collection: its text}, read in one REPORT, so
        a resource removed meanwhile is either all there or not at all."""
        status, _, body = self.request("REPORT", calendar_url, body=CALENDAR_QUERY,
                                       headers={"Depth": "1", "Content-Type": "application/xml"})
        assert status == 207, (status, body)
        found = {}
        for response in ET.fromstring(body).iter(f"{DAV}response"):
            data = response.find(f".//{CALDAV}calendar-data")
            if data is not None and data.text:
                found[urljoin(calendar_url, response.find(f"{DAV}href").text)] = data.text
        return found

    def events(self, calendar_url):
        """{absolute URL of each resource: its VEVENT (an icalendar.Event)}; each resource is
        expected to hold one event."""
        found = {}
        for url, text in self.items(calendar_url).items():
            events = icalendar.Calendar.from_ical(text).walk("VEVENT")
            assert len(events) == 1, text
            found[url] = events[0]
        return found


@pytest.fixture
def radicale():
    """A started Radicale with one user (`.user`, `.password`), removed after the test."""
    from conftest import free_port
    server = Radicale(free_port()).start()
    yield server
    server.remove()
