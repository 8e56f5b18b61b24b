"""People's own calendars, read for their busy times: iCalendar subscriptions and CalDAV
accounts, fetched over the egress guard (transport.py), CalDAV's discovery and reports
(caldav.py), expanded into busy intervals (expand.py), and a refresh end to end: fetch, store
in one transaction, tell the owner of repeated failures (refresh.py). Nothing here knows Flask:
the API's create and refresh and the worker's periodic refresh call the same functions."""


class CalendarError(Exception):
    """A calendar could not be read. The message is shown to its owner (the API's 400, the
    calendar's `error`), so it names no credentials and no address a host resolved to."""
