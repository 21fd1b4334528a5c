"""SMS over Twilio: the inbound webhook, signature checks and TwiML replies.

POST /twilio/sms, step by step:
1. Read the body (at most 64 KB; more is 413 from bot.web's limit).
2. No X-Twilio-Signature header, a body that is not a UTF-8 form, or a signature that does
   not match CSBOT_PUBLIC_URL + /twilio/sms and the posted parameters: 403, empty body,
   nothing recorded. (Behind a TLS proxy the app sees http://127.0.0.1:8080/...; Twilio
   signed the public URL, so that is the one checked.)
3. A signed request without a usable sender or MessageSid: 400, nothing recorded.
4. The sender is normalised to E.164 (US numbers without a country code are +1), the engine
   handles the message in a worker thread, and the answer is TwiML: one <Message> per reply
   part, or an empty <Response/> for a repeated MessageSid or a number that opted out.
5. Any failure inside: a short apology with an error id (logged at ERROR, without the
   message), status 200. The route never answers 5xx: Twilio would only retry or report it,
   and the parent would hear nothing.

"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from functools import partial

import anyio
import phonenumbers
from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from bot.channels.base import apology_text, log_failure, new_error_id
from bot.channels.sms.render import fit_for_sms, render_outcome, twiml_response
from bot.channels.sms.signature import parse_form, signature_ok
from bot.channels.sms.status import STATUS_PATH, StatusCallbacks
from bot.conversation.engine import ConversationEngine
from bot.conversation.turn import Channel, InboundMessage, Outcome
from bot.documents.links import make_document_token
from bot.runtime import Runtime
from dialogs.replies import DocumentRef

log = logging.getLogger(__name__)

SMS_PATH = "/twilio/sms"
DEFAULT_REGION = "US"
# Twilio waits 15 seconds for the webhook's answer; leave room for the network.
HANDLE_TIMEOUT_SECONDS = 12
STUCK_THREAD_GRACE_SECONDS = 2
LOCALE_LOOKUP_TIMEOUT_SECONDS = 2
# Twilio's message SIDs: SM (SMS) or MM (MMS) and 32 hex digits.
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")



class SmsComponent:
    """The Twilio webhook routes (messages, and delivery reports: bot.channels.sms.status);
    nothing to start or stop."""

    def __init__(self, runtime: Runtime, engine: ConversationEngine) -> None:
        settings = runtime.settings
        assert settings.twilio_auth_token  # sms_component checks before building
        self.runtime = runtime
        self.engine = engine
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.signed_url = settings.public_url + SMS_PATH
        self.encoding = settings.sms_encoding
        self.status = StatusCallbacks(runtime, self.validator, settings.public_url + STATUS_PATH)
        self.routes: list[BaseRoute] = [
            Route(SMS_PATH, self.handle, methods=["POST"]),
            Route(STATUS_PATH, self.status.handle, methods=["POST"]),
        ]

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # --- the route ---------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            return Response(status_code=403)
        body = await request.body()  # bounded by bot.web.BodySizeLimit
        params = parse_form(body)
        if params is None or not self._signature_ok(request, params, signature):
            return Response(status_code=403)

        if is_status_callback(params):
            # A delivery report for a message the bot sent (configured on the wrong URL):
            # acknowledged, never a parent's message. POST /twilio/status is its place.
            return twiml_response([])
        inbound = inbound_from_form(params)
        if inbound is None:
            log.warning("SMS webhook: signed request without a usable From or MessageSid")
            return Response(status_code=400)

        # The engine rolls the step back if it cannot commit by the deadline, so an apology is
        # never sent for something that was done. The outer bound only frees the request from
        # a thread stuck in I/O; that thread then finds its deadline passed and rolls back.
        deadline = time.monotonic() + HANDLE_TIMEOUT_SECONDS
        try:
            with anyio.fail_after(HANDLE_TIMEOUT_SECONDS + STUCK_THREAD_GRACE_SECONDS):
                outcome: Outcome = await anyio.to_thread.run_sync(
                    partial(self.engine.handle, inbound, deadline=deadline), abandon_on_cancel=True
                )
            messages = self.render_outcome(outcome)
        except Exception as exc:  # never a 5xx: the parent gets an apology instead
            error_id = new_error_id()
            log_failure(log, "SMS webhook", error_id, exc)
            locale = await self._known_locale(inbound.sender)
            messages = fit_for_sms(apology_text(locale, error_id), self.encoding)
        return twiml_response(messages)

    def _signature_ok(self, request: Request, params: MultiDict, signature: str) -> bool:
        return signature_ok(self.validator, self.signed_url, request, params, signature)

    def render_outcome(self, outcome: Outcome) -> list[str]:
        return render_outcome(outcome, self.encoding, self.document_link)

    def document_link(self, ref: DocumentRef) -> str:
        settings = self.runtime.settings
        token = make_document_token(settings, ref, dt.datetime.now(dt.UTC))
        return f"{settings.public_url}/d/{token}"

    async def _known_locale(self, sender: str) -> str | None:
        """The conversation's language, if the database still answers quickly."""
        try:
            with anyio.fail_after(LOCALE_LOOKUP_TIMEOUT_SECONDS):
                return await anyio.to_thread.run_sync(
                    self.engine.locale_of, Channel.SMS, sender, abandon_on_cancel=True
                )
        except Exception:
            return None


def sms_component(runtime: Runtime, engine: ConversationEngine) -> SmsComponent | None:
    """The SMS routes, or None (route off, 404) when TWILIO_AUTH_TOKEN is not set."""
    if not runtime.settings.twilio_auth_token:
        return None
    return SmsComponent(runtime, engine)


# --- pieces, testable alone ------------------------------------------------------------------


def normalise_sender(raw: str) -> str | None:
    """E.164 for a phone number ('(212) 555-0111' -> '+12125550111'), else None."""
    candidate = raw.strip()
    if not candidate or len(candidate) > 40:
        return None
    try:
        number = phonenumbers.parse(candidate, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_status_callback(params: MultiDict) -> bool:
    """Twilio's status callbacks carry MessageStatus; inbound messages never do."""
    return "MessageStatus" in params


def inbound_from_form(params: MultiDict) -> InboundMessage | None:
    """The engine's message, or None for a form that is not an inbound message: no usable
    sender, or a MessageSid (or SmsSid) that is not Twilio's shape. The signature joins names
    and values with no separator, so a parameter's text moved into MessageSid keeps it valid:
    the exact shape is what stops such a "new" MessageSid from replaying a captured request."""
    sender = normalise_sender(params.get("From", ""))
    delivery_id = params.get("MessageSid", "")
    sms_sid = params.get("SmsSid")
    if sender is None or not _MESSAGE_SID.match(delivery_id):
        return None
    if sms_sid is not None and not _MESSAGE_SID.match(sms_sid):
        return None
    # NUL cannot be stored in PostgreSQL text and means nothing in a message.
    text = params.get("Body", "").replace("\x00", "")
    return InboundMessage(channel=Channel.SMS, sender=sender, text=text, delivery_id=delivery_id)


