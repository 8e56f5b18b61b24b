"""Ways to hand a message on: the console (logs it), a local inbox (files) and SMTP."""

import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import parse_bool

log = logging.getLogger("scheduler.mail")


class ConsoleProvider:
    def send(self, message):
        log.info("email %s to=%s subject=%r", message["Message-ID"], message["To"], message["Subject"])


class InboxProvider:
    """Development mail: each message, whole (headers, every part, attachments), becomes one
    .eml file in `directory`, which any mail program opens. Never in production (config.py
    refuses it there): nothing is delivered to anyone."""

    def __init__(self, directory):
        self.directory = os.path.abspath(directory)

    def send(self, message):
        os.makedirs(self.directory, exist_ok=True)
        # Sorts by time; the Message-ID keeps names unique across worker threads and processes.
        message_id = re.sub(r"[^A-Za-z0-9._-]+", "_", str(message["Message-ID"] or "")).strip("_.")
        now = time.time_ns()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now // 10**9))
        path = os.path.join(self.directory, f"{stamp}.{now % 10**9:09d}-{message_id[:80] or 'message'}.eml")
        # CRLF line ends, as on the wire. Written under a temporary name and renamed, so a mail
        # program watching the folder never opens half a message.
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        log.info("email %s to=%s subject=%r written to %s", message["Message-ID"], message["To"], message["Subject"], path)
        return path


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
    if settings.email_provider == "inbox":
        return InboxProvider(settings.email_inbox_dir)
    return ConsoleProvider()


def describe(settings):
    """Where this configuration's emails go, in a line for `make run` to print."""
    if settings.email_provider == "inbox":
        return f"Emails: written as .eml files to {os.path.abspath(settings.email_inbox_dir)}"
    if settings.email_provider == "smtp":
        return "Emails: sent through SMTP_URL"
    return "Emails: logged by the worker (subject and recipients only; EMAIL_PROVIDER=inbox keeps them whole)"
