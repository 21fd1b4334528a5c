"""POST /twilio/status: Twilio's delivery reports for the SMS the bot sent first (bot/outbound).

Signed exactly like /twilio/sms (CSBOT_PUBLIC_URL + /twilio/status): 403 without a valid
signature, nothing read or recorded. A signed report without a MessageSid of Twilio's shape or
a MessageStatus: 400. Otherwise 200: "delivered", "undelivered" and "failed" are recorded on the
sent message whose provider id is the MessageSid (other statuses, such as "sent", only
acknowledged); an unknown SID is logged and acknowledged. A report never starts a conversation.
"""

from __future__ import annotations

import logging
import re

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from bot.channels.sms.signature import parse_form, signature_ok
from bot.outbound.queue import record_delivery_status
from bot.runtime import Runtime

log = logging.getLogger(__name__)

STATUS_PATH = "/twilio/status"
_MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_STATUS = re.compile(r"^[a-z_]{1,20}$")


class StatusCallbacks:
    def __init__(self, runtime: Runtime, validator: RequestValidator, signed_url: str) -> None:
        self.runtime = runtime
        self.validator = validator
        self.signed_url = signed_url

    async def handle(self, request: Request) -> Response:
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            return Response(status_code=403)
        params = parse_form(await request.body())
        if params is None or not signature_ok(self.validator, self.signed_url, request, params, signature):
            return Response(status_code=403)
        sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
        if not _MESSAGE_SID.match(sid) or not _STATUS.match(status):
            log.warning("Twilio status callback: signed but without a usable MessageSid or MessageStatus")
            return Response(status_code=400)
        known = await anyio.to_thread.run_sync(self._record, sid, status)
        if not known:
            log.info("Twilio status callback: %s for a message not in the queue (SID …%s)", status, sid[-4:])
        return Response(status_code=200)

    def _record(self, sid: str, status: str) -> bool:
        with self.runtime.write() as session:
            return record_delivery_status(session, sid, status)
