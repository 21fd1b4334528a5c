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

Rendering: each reply is its text, then its choices as words to send back, then a link to
its document. In `gsm7` mode the text is folded to the GSM-7 alphabet first. Each <Message>
is at most two segments (306 GSM-7 characters, or 134 UCS-2 characters in `unicode` mode for
text outside GSM-7); the dialogs page long lists themselves, and anything longer still is
split at line boundaries into more messages, never cut.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import anyio
import phonenumbers
from sqlalchemy import select
from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from bot.channels.base import Channel, InboundMessage, Outcome
from bot.channels.gsm7 import fold_to_gsm7, segments, split_to_fit
from bot.documents.links import make_document_token
from bot.i18n import LOCALES, translator
from bot.runtime import Runtime
from dialogs.replies import Choice, DocumentRef, Reply

log = logging.getLogger(__name__)

SMS_PATH = "/twilio/sms"
MAX_SEGMENTS = 2
DEFAULT_REGION = "US"
# Twilio waits 15 seconds for the webhook's answer; leave room for the network.
HANDLE_TIMEOUT_SECONDS = 12
LOCALE_LOOKUP_TIMEOUT_SECONDS = 2
# Twilio's MessageSid is 'SM' + 32 hex digits; handled_deliveries.delivery_id holds 64.
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
# Characters XML 1.0 cannot carry (TwiML is XML): C0 controls but tab/newline/CR, and
# surrogates, U+FFFE, U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

TWIML_CONTENT_TYPE = "application/xml"
_TWIML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


class SmsComponent:
    """The Twilio webhook route; nothing to start or stop."""

    def __init__(self, runtime: Runtime, engine: Any) -> None:
        settings = runtime.settings
        assert settings.twilio_auth_token  # sms_component checks before building
        self.runtime = runtime
        self.engine = engine
        self.validator = RequestValidator(settings.twilio_auth_token)
        self.signed_url = settings.public_url + SMS_PATH
        self.encoding = settings.sms_encoding
        self.routes: list[BaseRoute] = [Route(SMS_PATH, self.handle, methods=["POST"])]

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
        params = _parse_form(body)
        if params is None or not self._signature_ok(request, params, signature):
            return Response(status_code=403)

        inbound = inbound_from_form(params)
        if inbound is None:
            log.warning("SMS webhook: signed request without a usable From or MessageSid")
            return Response(status_code=400)

        try:
            with anyio.fail_after(HANDLE_TIMEOUT_SECONDS):
                outcome: Outcome = await anyio.to_thread.run_sync(
                    self.engine.handle, inbound, abandon_on_cancel=True
                )
            messages = self.render_outcome(outcome)
        except Exception as exc:  # never a 5xx: the parent gets an apology instead
            error_id = secrets.token_hex(4).upper()
            _log_failure(error_id, exc)
            locale = await self._known_locale(inbound.sender)
            messages = self.apology(error_id, locale)
        return twiml_response(messages)

    def _signature_ok(self, request: Request, params: MultiDict, signature: str) -> bool:
        url = self.signed_url
        if request.url.query:  # Twilio signs the full URL it was given, query included
            url += "?" + request.url.query
        algorithm = _signature_algorithm(request.headers.get(_SIGNATURE_SETTINGS_HEADER))
        try:
            if algorithm is None:
                return bool(self.validator.validate(url, params, signature))
            return bool(self.validator.validate(url, params, signature, algorithm=algorithm))
        except Exception:  # a malformed signature must be a 403, not a 500
            return False

    # --- rendering -----------------------------------------------------------------------

    def render_outcome(self, outcome: Outcome) -> list[str]:
        if outcome.duplicate or outcome.silent:
            return []
        messages: list[str] = []
        for reply in outcome.replies:
            messages.extend(
                render_reply(
                    reply,
                    locale=outcome.locale,
                    encoding=self.encoding,
                    document_link=self.document_link,
                )
            )
        return merge_messages(messages)

    def document_link(self, ref: DocumentRef) -> str:
        settings = self.runtime.settings
        token = make_document_token(settings, ref, dt.datetime.now(dt.UTC))
        return f"{settings.public_url}/d/{token}"

    def apology(self, error_id: str, locale: str | None) -> list[str]:
        # Language unknown (no conversation yet, or the database is down): every language.
        codes = [locale] if locale in LOCALES else list(LOCALES)
        text = "\n".join(apology_text(code, error_id) for code in codes)
        return fit_for_sms(text, self.encoding)

    async def _known_locale(self, sender: str) -> str | None:
        """The conversation's language, if the database still answers quickly."""
        try:
            with anyio.fail_after(LOCALE_LOOKUP_TIMEOUT_SECONDS):
                return await anyio.to_thread.run_sync(
                    _conversation_locale, self.runtime, sender, abandon_on_cancel=True
                )
        except Exception:
            return None


def sms_component(runtime: Runtime, engine: Any) -> SmsComponent | None:
    """The SMS route, or None (route off, 404) when TWILIO_AUTH_TOKEN is not set."""
    if not runtime.settings.twilio_auth_token:
        return None
    return SmsComponent(runtime, engine)


# --- pieces, testable alone ------------------------------------------------------------------


def _parse_form(body: bytes) -> MultiDict | None:
    """The posted form, or None when it is not UTF-8 application/x-www-form-urlencoded."""
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return MultiDict(pairs)


def _signature_algorithm(settings_header: str | None) -> str | None:
    """The algorithm named by X-Twilio-Webhooks-Signature-Settings, when twilio supports it."""
    if not settings_header:
        return None
    from twilio import request_validator

    pick = getattr(request_validator, "get_signature_algorithm", None)
    return pick(settings_header) if pick is not None else None


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


def inbound_from_form(params: MultiDict) -> InboundMessage | None:
    sender = normalise_sender(params.get("From", ""))
    delivery_id = params.get("MessageSid", "").strip()
    if sender is None or not _DELIVERY_ID.match(delivery_id):
        return None
    # NUL cannot be stored in PostgreSQL text and means nothing in a message.
    text = params.get("Body", "").replace("\x00", "")
    return InboundMessage(channel=Channel.SMS, sender=sender, text=text, delivery_id=delivery_id)


def render_reply(
    reply: Reply,
    *,
    locale: str,
    encoding: str,
    document_link: Callable[[DocumentRef], str | None] | None = None,
) -> list[str]:
    """One reply as SMS texts, each within the two-segment budget."""
    parts = [reply.text.strip()]
    if reply.choices:
        parts.append(render_choices(reply.choices, reply.text, locale))
    if reply.document is not None and document_link is not None:
        link = document_link(reply.document)
        if link:
            t = translator(locale)
            parts.append(t.gettext("Printable copy: {link}").format(link=link))
    text = "\n".join(part for part in parts if part)
    return fit_for_sms(text, encoding)


def render_choices(choices: tuple[Choice, ...], text: str, locale: str) -> str:
    """Choices as the words to send back: 'Reply: BALANCE, PAYMENTS, LOGOUT'.

    Words, not numbers: every word of the interface always works, while numbers only pick
    from the last reply's choices. A numbered choice (a case to pick) is already listed by
    the dialog's own text ('1: Case ...1234'); it is added only when the text lacks it.
    """
    t = translator(locale)
    listed = {line.split(":", 1)[0].strip() for line in text.splitlines() if ":" in line}
    # A word the text already asks for ("Send MORE for older ones") is not repeated.
    words = [
        c.word
        for c in choices
        if not c.word.isdigit() and not re.search(rf"\b{re.escape(c.word)}\b", text)
    ]
    numbered = [
        f"{c.word}: {c.label}" for c in choices if c.word.isdigit() and c.word not in listed
    ]
    lines = list(numbered)
    if words:
        lines.append(t.gettext("Reply: {words}").format(words=", ".join(words)))
    return "\n".join(lines)


def merge_messages(messages: list[str]) -> list[str]:
    """Join consecutive short messages when that costs no more segments: fewer messages, the
    same price, and the parts cannot arrive out of order."""
    merged: list[str] = []
    for message in messages:
        if merged:
            joined = merged[-1] + "\n\n" + message
            cost_apart = segments(merged[-1]) + segments(message)
            if segments(joined) <= min(MAX_SEGMENTS, cost_apart):
                merged[-1] = joined
                continue
        merged.append(message)
    return merged


def fit_for_sms(text: str, encoding: str) -> list[str]:
    """Fold (gsm7 mode), make XML-safe, and split into messages of at most two segments."""
    if encoding == "gsm7":
        text = fold_to_gsm7(text)
    text = _XML_INVALID.sub("", text)
    return [part for part in split_to_fit(text, MAX_SEGMENTS) if part.strip()]


def twiml_response(messages: list[str]) -> Response:
    """The same document as twilio's MessagingResponse, written directly: building it through
    ElementTree cost more per message than the rest of the rendering (bench/RESULTS.md)."""
    if not messages:
        return Response(_TWIML_HEAD + "<Response />", media_type=TWIML_CONTENT_TYPE)
    body = "".join(f"<Message>{xml_escape(message)}</Message>" for message in messages)
    return Response(f"{_TWIML_HEAD}<Response>{body}</Response>", media_type=TWIML_CONTENT_TYPE)


def _conversation_locale(runtime: Runtime, sender: str) -> str | None:
    from bot.store.models import Conversation, Person

    with runtime.sessions() as session:
        conversation = session.scalar(
            select(Conversation).where(
                Conversation.channel == Channel.SMS.value, Conversation.sender == sender
            )
        )
        if conversation is None:
            return None
        if conversation.chosen_locale:
            return conversation.chosen_locale
        if conversation.person_id:
            person = session.get(Person, conversation.person_id)
            if person is not None and person.language:
                return person.language
        return conversation.hint_locale


def apology_text(locale: str, error_id: str) -> str:
    t = translator(locale)
    return t.gettext(
        "Sorry, something went wrong on our side. Please try again in a few minutes."
        " (Error {error_id})"
    ).format(error_id=error_id)


def _log_failure(error_id: str, exc: BaseException) -> None:
    """Log where it failed, never what was in the message: exception texts can quote SQL
    parameters or the text a parent typed, so only the type and the code locations go."""
    frames = traceback.extract_tb(exc.__traceback__)
    # Our own frames say where in csbot it went wrong; the innermost one says in what library.
    ours = [f for f in frames if "/bot/" in f.filename or "/dialogs/" in f.filename][-5:]
    shown = ours + ([frames[-1]] if frames and (not ours or frames[-1] is not ours[-1]) else [])
    where = " <- ".join(
        f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno} {frame.name}"
        for frame in reversed(shown)
    )
    kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
    log.error("SMS webhook failed, error id %s: %s at %s", error_id, kind, where or "?")

