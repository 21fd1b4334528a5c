"""The office mail: what a parent's message looks like when it reaches their office.

Written for office staff, in English (not parent-facing, so no gettext). Plain text, UTF-8.
The mail is a pure function of the stored message, so a resend after a crash is the same mail
with the same Message-ID, and the office's mail system can drop the duplicate.
Never in the mail: SSN, PIN (the store holds neither in clear), the bot's own secrets.
"""

from __future__ import annotations

import datetime as dt
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

_ROLE_WORDS = {
    "receiving": "receiving parent (custodial parent)",
    "paying": "paying parent (noncustodial parent)",
}


@dataclass(frozen=True, slots=True)
class OfficeMail:
    """Everything the mail says, read from the store at send time."""

    reference: str
    case_number: str
    office_name: str
    office_email: str
    person_id: str
    first_name: str
    last_name: str
    role: str  # receiving | paying
    channel: str  # sms | telegram | console
    sender: str  # E.164 number or Telegram chat id
    body: str  # the parent's text, exactly as typed
    created_at: dt.datetime


def sender_address(smtp_from: str) -> str:
    """The bare address of CSBOT_SMTP_FROM, which may be `Name <addr>` or just `addr`."""
    _name, address = parseaddr(smtp_from)
    return address or smtp_from.strip()


def message_id_for(reference: str, smtp_from: str) -> str:
    """A Message-ID that depends only on the reference and the sending domain: stable across
    resends, unique per message (references are unique)."""
    address = sender_address(smtp_from)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<{reference}@csbot.{domain}>"


def describe_channel(channel: str, sender: str) -> str:
    if channel == "sms":
        return f"text message (SMS) from {sender}"
    if channel == "telegram":
        return f"Telegram (chat id {sender})"
    return f"{channel} ({sender})"


def subject_for(mail: OfficeMail) -> str:
    return f"Parent message {mail.reference} - case {mail.case_number}"


def body_for(mail: OfficeMail, *, replies_read: bool = False) -> str:
    role = _ROLE_WORDS.get(mail.role, mail.role)
    received = mail.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    name = f"{mail.first_name} {mail.last_name}".strip()
    lines = [
        "A parent sent this message to your office through the child support",
        "self-service bot.",
        "",
        f"Reference:    {mail.reference}",
        f"Case number:  {mail.case_number}",
        f"Parent:       {name} (person id {mail.person_id})",
        f"Role:         {role}",
        f"Wrote in by:  {describe_channel(mail.channel, mail.sender)}",
        f"Received:     {received}",
        "",
        *_how_to_answer(mail.reference, replies_read),
        "",
        "----- message as typed by the parent -----",
        mail.body,
        "----- end of message -----",
    ]
    return "\n".join(lines) + "\n"


def _how_to_answer(reference: str, replies_read: bool) -> list[str]:
    if replies_read:
        return [
            "To answer the parent, reply to this email from this office's address and write",
            f"your answer above the quoted text (keep {reference} in the subject). The parent",
            "is told in their chat that you answered, and reads your answer there after",
            "signing in. Only the text is passed on: attachments are not forwarded.",
            f"Staff can also answer with: csbot office-messages reply {reference}",
        ]
    return [
        "To answer the parent in their chat, run: csbot office-messages reply",
        f"{reference} (the parent is told you answered and reads it after signing in).",
        "Replies to this email do not reach the parent; you can also answer them by",
        "your usual means (telephone or mail, using the contact details on file).",
    ]


def compose(mail: OfficeMail, smtp_from: str, reply_to: str | None = None) -> EmailMessage:
    """The EmailMessage for one office message (raises ValueError on unusable addresses).
    With `reply_to` (CSBOT_REPLY_TO, the mailbox csbot reads), replies come back as answers."""
    if not mail.office_email or "@" not in mail.office_email:
        raise ValueError(f"office has no usable email address ({mail.office_email!r})")
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = smtp_from
    message["To"] = formataddr((mail.office_name, mail.office_email))
    message["Subject"] = subject_for(mail)
    message["Date"] = format_datetime(mail.created_at.astimezone(dt.UTC))
    message["Message-ID"] = message_id_for(mail.reference, smtp_from)
    message["X-Csbot-Reference"] = mail.reference
    if reply_to:
        message["Reply-To"] = reply_to
    # Tell autoresponders not to answer an unattended mailbox.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the mail 7-bit clean (no reliance on the relay's 8BITMIME) and
    # still readable as source; it also keeps trailing spaces the parent typed.
    message.set_content(body_for(mail, replies_read=bool(reply_to)), charset="utf-8", cte="quoted-printable")
    return message
