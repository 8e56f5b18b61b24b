"""Ways to hand a message on: the console (logs it) and SMTP."""

import logging
import smtplib
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import parse_bool

log = logging.getLogger("scheduler.mail")


class ConsoleProvider:
    def send(self, message):
        log.info("email %s to=%s subject=%r", message["Message-ID"], message["To"], message["Subject"])


class SmtpProvider:
    """smtp://user:pass@host:port (STARTTLS with ?starttls=true, the default on port 587)
    or smtps://user:pass@host:465 (TLS from the start)."""

    def __init__(self, url, timeout=30):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.starttls = parse_bool(query["starttls"][0]) if "starttls" in query else self.port == 587
        self.timeout = timeout

    def send(self, message):
        context = ssl.create_default_context()
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)
        except BaseException:
            client.close()
            raise
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            # The server has accepted the message: a failed goodbye must not make it a
            # failure, which would send it again.
            client.close()
        log.info("email %s to=%s subject=%r sent via smtp", message["Message-ID"], message["To"], message["Subject"])


def provider_for(settings):
    if settings.email_provider == "smtp":
        return SmtpProvider(settings.smtp_url)
    return ConsoleProvider()
