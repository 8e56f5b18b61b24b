"""EMAIL_PROVIDER=inbox: development mail written whole, as .eml files."""

import email
import email.policy
import logging
import threading
from email.message import EmailMessage

from scheduler.config import Settings
from scheduler.mail.providers import ConsoleProvider, InboxProvider, describe, provider_for

ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:b-1@scheduler.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def invitation(number=1):
    message = EmailMessage()
    message["From"] = "Scheduler <noreply@scheduler.test>"
    message["To"] = "guest@example.test"
    message["Subject"] = "Booking confirmed: Café ☕"
    message["Message-ID"] = f"<outbox-{number}.1700000000@scheduler.test>"
    message.set_content("Manage your booking: https://scheduler.test/manage/abc?token=xyz\n")
    message.add_alternative("<p><a href='https://scheduler.test/manage/abc?token=xyz'>Manage</a></p>", subtype="html")
    message.add_attachment(ICS.encode(), maintype="text", subtype="calendar", filename="invite.ics",
                           params={"method": "REQUEST"})
    return message


def read(path):
    with open(path, "rb") as file:
        return email.message_from_binary_file(file, policy=email.policy.default)


def test_the_inbox_keeps_the_whole_message(tmp_path, caplog):
    inbox = tmp_path / "new" / "inbox"  # made on the first message
    with caplog.at_level(logging.INFO, logger="scheduler.mail"):
        path = InboxProvider(str(inbox)).send(invitation())
    assert [p.name for p in inbox.iterdir()] == [path.rsplit("/", 1)[1]] and path.endswith(".eml")
    assert "outbox-1.1700000000" in path and path in caplog.text

    saved = read(path)
    assert saved["Subject"] == "Booking confirmed: Café ☕" and saved["To"] == "guest@example.test"
    assert saved["Message-ID"] == "<outbox-1.1700000000@scheduler.test>"
    assert "https://scheduler.test/manage/abc?token=xyz" in saved.get_body(("plain",)).get_content()
    assert "<a href=" in saved.get_body(("html",)).get_content()
    [attachment] = saved.iter_attachments()
    assert attachment.get_filename() == "invite.ics" and attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_content().replace("\r\n", "\n") == ICS.replace("\r\n", "\n")
    raw = open(path, "rb").read()
    assert b"\r\n\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # line ends as on the wire


def test_messages_get_one_file_each_in_order(tmp_path):
    provider = InboxProvider(str(tmp_path))
    threads = [threading.Thread(target=provider.send, args=(invitation(n),)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 8 and all(f.suffix == ".eml" for f in files)  # no temporary files left
    assert sorted(read(f)["Message-ID"] for f in files) == sorted(invitation(n)["Message-ID"] for n in range(8))
    later = provider.send(invitation(99))
    assert sorted(str(f) for f in tmp_path.iterdir())[-1] == later


def test_the_settings_choose_the_provider(tmp_path):
    inbox = provider_for(Settings.from_mapping({"EMAIL_INBOX_DIR": str(tmp_path)}))
    assert isinstance(inbox, InboxProvider) and inbox.directory == str(tmp_path)
    assert str(tmp_path) in describe(Settings.from_mapping({"EMAIL_INBOX_DIR": str(tmp_path)}))
    assert isinstance(provider_for(Settings.from_mapping({"EMAIL_PROVIDER": "console"})), ConsoleProvider)
