"""SMS the bot sends first, through Twilio's Messages API with the `twilio` REST client.

    POST {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json
    basic auth (account SID, TWILIO_AUTH_TOKEN); To, From (TWILIO_FROM_NUMBER), Body,
    StatusCallback (CSBOT_PUBLIC_URL + /twilio/status)

The client is blocking (requests): each send runs in a thread, one at a time, paced to
CSBOT_SMS_PER_SECOND. Outcomes: 201 -> Sent(MessageSid); 429 -> TryAgain(after=Retry-After);
5xx or no answer -> TryAgain; error 21610 (the recipient unsubscribed) -> Refused(unreachable),
which marks the number opted out; any other 4xx -> Refused. Twilio takes no idempotency key.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from bot.channels.sms.render import fit_for_sms
from bot.channels.sms.status import STATUS_PATH
from bot.config import Settings
from bot.outbound.messages import Claimed, Kind, Outcome, Refused, Sent, TryAgain, enqueue
from bot.outbound.pacing import Pacer

log = logging.getLogger("csbot.outbound")

SMS_SENDER_VARIABLES = "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER"
UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
HTTP_TIMEOUT_SECONDS = 30.0


def enqueue_sms(
    session: Session, *, kind: Kind, recipient: str, text: str, encoding: str, now: dt.datetime
) -> list[int]:
    """Queue `text` as SMS of at most two segments each (several, in order, when longer); their ids."""
    return [
        enqueue(session, kind=kind, channel="sms", recipient=recipient, payload={"text": part}, now=now)
        for part in fit_for_sms(text, encoding)
    ]


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """Twilio's own client, remembering the last answer's Retry-After (sends are serialised)."""

    retry_after: str | None = None

    def request(self, *args: Any, **kwargs: Any) -> TwilioResponse:
        self.retry_after = None
        response = super().request(*args, **kwargs)
        headers = response.headers or {}
        self.retry_after = headers.get("Retry-After")
        return response


class TwilioSender:
    channel = "sms"

    def __init__(self, settings: Settings) -> None:
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number
        self.from_number = settings.twilio_from_number
        self.status_callback = settings.public_url + STATUS_PATH
        self.encoding = settings.sms_encoding
        self.http = _HttpClient(timeout=HTTP_TIMEOUT_SECONDS)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=self.http)
        # The Api domain's base URL is where every /2010-04-01/... path is resolved.
        self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        self.pacer = Pacer(settings.sms_per_second)
        self._one_at_a_time = anyio.Lock()

    async def send(self, message: Claimed) -> Outcome:
        text = str(message.payload.get("text", ""))
        parts = fit_for_sms(text, self.encoding)
        if len(parts) != 1:
            return Refused("not one message of at most two segments")
        async with self._one_at_a_time:
            await self.pacer.wait()
            return await anyio.to_thread.run_sync(self._send, message.recipient, parts[0])

    def _send(self, to: str, body: str) -> Outcome:
        try:
            created = self.client.messages.create(
                to=to, from_=self.from_number, body=body, status_callback=self.status_callback
            )
        except TwilioRestException as exc:
            return self._refusal(exc)
        except TwilioException as exc:  # an answer the client could not read
            return TryAgain(f"Twilio: {type(exc).__name__}")
        except Exception as exc:  # requests' connection errors and timeouts
            return TryAgain(f"Twilio unreachable: {type(exc).__name__}")
        return Sent(provider_id=created.sid)

    def _refusal(self, exc: TwilioRestException) -> Outcome:
        status, code = exc.status, exc.code
        described = f"Twilio HTTP {status}" + (f" error {code}" if code else "")
        if status == 429:
            return TryAgain(described, after=_seconds(self.http.retry_after))
        if status >= 500:
            return TryAgain(described)
        if code == UNSUBSCRIBED:
            return Refused(described + " (the recipient unsubscribed)", unreachable=True)
        return Refused(described)

    async def close(self) -> None:
        session = self.http.session
        if session is not None:
            session.close()


def _seconds(header: str | None) -> dt.timedelta | None:
    try:
        return dt.timedelta(seconds=max(0.0, float(header))) if header else None
    except ValueError:
        return None


def sms_sender(settings: Settings) -> TwilioSender | None:
    """The SMS sender, or None (SMS waits in the queue) without SID, token and From number."""
    return TwilioSender(settings) if settings.sms_sending_enabled else None
