"""The few CalDAV requests reading needs, written out over transport.py rather than through
the `caldav` package, whose HTTP (niquests/requests) has no seam for connecting only to the
address the egress guard checked: discovery (RFC 6764's /.well-known/caldav, the principal and
its calendar home, RFC 4791), listing the home's calendars with their sync tokens, a
calendar-query over a time range, and RFC 6578's sync-collection with a calendar-multiget of
what changed. Answers are parsed by defusedxml: no DTDs, no entities."""

from dataclasses import dataclass
from datetime import timezone
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from . import CalendarError
from .transport import check_status, request

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
XML = {"Content-Type": "application/xml; charset=utf-8"}
# Objects asked for per calendar-multiget.
MULTIGET_BATCH = 100
# Answers that say a sync token is no longer valid (RFC 6578 3.2: 403 or 409 with
# DAV:valid-sync-token; some servers answer 400, 410 or 507).
TOKEN_REFUSED = (400, 403, 409, 410, 507)


class NotCalDAV(CalendarError):
    """The URL answered, but not as a CalDAV server (discovery then tries /.well-known/caldav)."""


@dataclass(frozen=True)
class Collection:
    href: str  # absolute URL
    name: str
    events: bool  # it may hold VEVENTs
    sync_token: str | None


@dataclass(frozen=True)
class Delta:
    changed: list  # hrefs (absolute URLs) added or changed since the token
    removed: list
    token: str


def tag(namespace, name):
    return f"{{{namespace}}}{name}"


def propfind(budget, credentials, url, depth, props):
    body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            f"<d:prop>{props}</d:prop></d:propfind>")
    return multistatus(request(budget, "PROPFIND", url, credentials=credentials,
                               headers={**XML, "Depth": str(depth)}, body=body.encode()))


def report(budget, credentials, url, depth, body):
    return multistatus(request(budget, "REPORT", url, credentials=credentials,
                               headers={**XML, "Depth": str(depth)}, body=body.encode()))


def multistatus(response):
    """(the response, its parsed body) for a 207; CalendarError for anything else, NotCalDAV
    where another address of the server may still answer (discovery tries /.well-known/caldav):
    a refusal by the path rather than by the credentials, or no WebDAV at all."""
    if response.status in (405, 501) or 200 <= response.status < 300 and response.status != 207:
        raise NotCalDAV(f"not a CalDAV server: it answered HTTP {response.status} to a WebDAV request")
    try:
        check_status(response)
    except CalendarError as exc:
        if response.status in (403, 404):
            raise NotCalDAV(str(exc)) from None
        raise
    try:
        return response, fromstring(response.body)
    except (ParseError, DefusedXmlException):
        raise NotCalDAV("not a CalDAV server: its answer is not WebDAV XML") from None


def responses(response, root):
    """(absolute href, {property tag: element} of the 200 propstats, status of the response)
    for each DAV:response."""
    for item in root.iter(tag(DAV, "response")):
        href = absolute(response, item.findtext(tag(DAV, "href")))
        if href is None:
            continue
        props = {}
        for propstat in item.iter(tag(DAV, "propstat")):
            if " 200 " in (propstat.findtext(tag(DAV, "status")) or " 200 "):
                for prop in propstat.iter(tag(DAV, "prop")):
                    props |= {child.tag: child for child in prop}
        yield href, props, item.findtext(tag(DAV, "status")) or ""


def absolute(response, href):
    """An href in an answer as an absolute URL; None if there is none or it is not a URL."""
    try:
        return urljoin(response.url, href.strip()) if href and href.strip() else None
    except ValueError:
        return None


def href_in(response, element):
    return None if element is None else absolute(response, element.findtext(tag(DAV, "href")))


def discover(budget, credentials, url):
    """The account's calendar home URL: from `url` itself (a server root, a principal or a
    home), else from the origin's /.well-known/caldav. CalendarError if neither leads to one."""
    parts = urlsplit(url)
    well_known = urlunsplit((parts.scheme, parts.netloc, "/.well-known/caldav", "", ""))
    refusal = None
    for context in dict.fromkeys([url, well_known]):
        try:
            return home_from(budget, credentials, context)
        except NotCalDAV as exc:
            refusal = refusal or exc
    raise refusal


def home_from(budget, credentials, context):
    props = "<d:current-user-principal/><c:calendar-home-set/><d:resourcetype/>"
    response, root = propfind(budget, credentials, context, 0, props)
    for _, found, _ in responses(response, root):
        home = href_in(response, found.get(tag(CALDAV, "calendar-home-set")))
        if home:
            return home
        principal = href_in(response, found.get(tag(DAV, "current-user-principal")))
        if principal:
            response, root = propfind(budget, credentials, principal, 0, "<c:calendar-home-set/>")
            for _, at_principal, _ in responses(response, root):
                home = href_in(response, at_principal.get(tag(CALDAV, "calendar-home-set")))
                if home:
                    return home
    raise NotCalDAV("not a CalDAV server: no calendar home found for this account")


def collections(budget, credentials, home):
    """The calendar collections in the home."""
    props = "<d:resourcetype/><d:displayname/><c:supported-calendar-component-set/><d:sync-token/>"
    response, root = propfind(budget, credentials, home, 1, props)
    found = []
    for href, props, _ in responses(response, root):
        kind = props.get(tag(DAV, "resourcetype"))
        if kind is None or kind.find(tag(CALDAV, "calendar")) is None:
            continue
        components = props.get(tag(CALDAV, "supported-calendar-component-set"))
        events = components is None or any(comp.get("name", "").upper() == "VEVENT"
                                           for comp in components.iter(tag(CALDAV, "comp")))
        name = text_of(props.get(tag(DAV, "displayname"))) or unquote(urlsplit(href).path.rstrip("/").rpartition("/")[2])
        found.append(Collection(href, name or href, events, text_of(props.get(tag(DAV, "sync-token"))) or None))
    return found


def objects(response, root):
    """(href, calendar data as bytes) of each object in a calendar-query or multiget answer."""
    for href, props, _ in responses(response, root):
        data = props.get(tag(CALDAV, "calendar-data"))
        if data is not None and data.text:
            yield href, data.text.encode()


def in_range(budget, credentials, collection, start, end):
    """Every event object of the collection with an instance between start and end."""
    stamp = "%Y%m%dT%H%M%SZ"
    body = ('<?xml version="1.0" encoding="utf-8"?>'
            '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            '<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
            f'<c:time-range start="{start.astimezone(timezone.utc).strftime(stamp)}" '
            f'end="{end.astimezone(timezone.utc).strftime(stamp)}"/>'
            "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
    return list(objects(*report(budget, credentials, collection.href, 1, body)))


def changes(budget, credentials, collection, token):
    """What changed in the collection since `token`; None if the server no longer takes it."""
    body = ('<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
            f"<d:sync-token>{escape(token)}</d:sync-token><d:sync-level>1</d:sync-level>"
            "<d:prop><d:getetag/></d:prop></d:sync-collection>")
    response = request(budget, "REPORT", collection.href, credentials=credentials,
                       headers={**XML, "Depth": "0"}, body=body.encode())
    if response.status in TOKEN_REFUSED:
        return None
    response, root = multistatus(response)
    changed, removed = [], []
    for href, props, status in responses(response, root):
        if href.rstrip("/") == collection.href.rstrip("/"):
            continue
        (removed if " 404 " in status else changed).append(href)
    token = (root.findtext(tag(DAV, "sync-token")) or "").strip()
    if not token:
        return None
    return Delta(changed, removed, token)


def fetch(budget, credentials, collection, hrefs):
    """(href, calendar data) of the given objects of the collection (calendar-multiget)."""
    found = []
    for first in range(0, len(hrefs), MULTIGET_BATCH):
        listed = "".join(f"<d:href>{escape(urlsplit(href).path)}</d:href>" for href in hrefs[first:first + MULTIGET_BATCH])
        body = ('<?xml version="1.0" encoding="utf-8"?>'
                '<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                f"<d:prop><d:getetag/><c:calendar-data/></d:prop>{listed}</c:calendar-multiget>")
        found += objects(*report(budget, credentials, collection.href, 1, body))
    return found


def text_of(element):
    return "" if element is None else (element.text or "").strip()


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
