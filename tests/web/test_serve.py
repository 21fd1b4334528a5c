"""`csbot serve` end to end: a real subprocess on loopback, real HTTP, requests signed with
twilio's RequestValidator, the example extract loaded with `csbot import`.

The service is configured as if behind a TLS proxy (CSBOT_PUBLIC_URL=https://bot.example.org)
while tests reach it at http://127.0.0.1:PORT: the signature must be checked against the
public URL, as Twilio computes it.
"""

from __future__ import annotations

import asyncio
import re
import signal
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from bot.channels.sms.gsm7 import is_gsm7
from bot.store.models import Conversation, HandledDelivery, SmsOptOut
from tests.support.live_service import Sms, db_engine, load_example, messages_of
from tests.support.serve_process import ServeProcess, csbot_env, run_csbot, running_serve
from tests.support.sms_checks import within_sms_budget

pytestmark = pytest.mark.slow

AUTH_TOKEN = "twilio-e2e-auth-token-4567"
PUBLIC_URL = "https://bot.example.org"
SSN_AND_PINS = ["987-65-4320", "987654320", "48213", "987-65-4322", "987654322", "31764"]


def _count_deliveries(db: Engine, sid: str) -> int:
    with db.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(HandledDelivery).where(HandledDelivery.delivery_id == sid)
        )


def _conversation(db: Engine, sender: str):
    with db.connect() as conn:
        return conn.execute(
            select(Conversation.state, Conversation.data, Conversation.last_activity_at).where(
                Conversation.channel == "sms", Conversation.sender == sender
            )
        ).first()


@pytest.fixture(scope="module")
def sms_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Engine]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'csbot.db'}"
    env = csbot_env(url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, CSBOT_PUBLIC_URL=PUBLIC_URL)
    load_example(env)
    with running_serve(env) as server:
        db = db_engine(url)
        yield server, db
        db.dispose()
        log = server.log_text()
        for secret in SSN_AND_PINS + [AUTH_TOKEN]:
            assert secret not in log, "a secret reached the server log"


@pytest.fixture
def client(sms_server) -> Iterator[Sms]:
    sms_client = Sms(sms_server[0], AUTH_TOKEN)
    yield sms_client
    sms_client.close()


# --- routes and signatures ------------------------------------------------------------------


def test_health_and_routes(sms_server) -> None:
    server, _db_engine = sms_server
    health = httpx.get(server.url + "/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert httpx.post(server.url + "/telegram/webhook", json={}).status_code == 404  # no token
    assert httpx.get(server.url + "/nothing-here").status_code == 404
    assert httpx.get(server.url + "/twilio/sms").status_code == 405
    assert "server" not in {k.lower() for k in health.headers}
    # Start-up's objects are out of the garbage collector's sight (bot/web/app.py _freeze_heap).
    assert "heap frozen after start-up" in server.log_text()


def test_missing_forged_and_tampered_signatures_are_403_and_record_nothing(
    client: Sms, sms_server
) -> None:
    _server, db = sms_server
    sender = "+12125559001"
    params = {"From": sender, "Body": "HELP", "MessageSid": client.next_sid()}

    missing = client.post(params)
    forged = client.post(params, client.sign(params, token="not-the-token"))
    garbage = client.post(params, "%%%")
    empty = client.post(params, "")
    tampered_params = dict(params, Body="BALANCE")
    tampered = client.post(tampered_params, client.sign(params))
    # Signed for the URL the app sees, not the public one Twilio was given: refused.
    local_url = client.sign(params, url=client.server.url + "/twilio/sms")
    wrong_url = client.post(params, local_url)
    dropped = {k: v for k, v in params.items() if k != "Body"}
    missing_param = client.post(dropped, client.sign(params))

    for response in (missing, forged, garbage, empty, tampered, wrong_url, missing_param):
        assert response.status_code == 403
        assert response.content == b""
    assert _count_deliveries(db, params["MessageSid"]) == 0
    assert _conversation(db, sender) is None


def test_extra_signed_parameters_are_accepted(client: Sms) -> None:
    params = {
        "From": "+12125559002", "Body": "HELP", "MessageSid": client.next_sid(),
        "FromCity": "NEW YORK", "FromZip": "", "SomethingNew": "élan ✓", "OptOutType": "",
    }
    response = client.post(params, client.sign(params))
    assert response.status_code == 200
    [help_text] = messages_of(response.text)
    assert "888-208-4485" in help_text


def test_oversized_bodies_are_413(client: Sms) -> None:
    big = {"From": "+12125559003", "Body": "x" * 70_000, "MessageSid": client.next_sid()}
    response = client.post(big, client.sign(big))
    assert response.status_code == 413
    # Streamed without a Content-Length: counted as it arrives.
    encoded = urllib.parse.urlencode(big).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(encoded), 8192):
            yield encoded[start : start + 8192]

    response = client.http.post(
        client.server.url + "/twilio/sms",
        content=chunks(),
        headers={
            "X-Twilio-Signature": client.sign(big),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 413
    # Just under the limit is an ordinary (long) message.
    fits = {"From": "+12125559003", "Body": "word " * 12_000, "MessageSid": client.next_sid()}
    response = client.post(fits, client.sign(fits))
    assert response.status_code == 200


def test_repeated_message_sid_is_empty_and_changes_nothing(client: Sms, sms_server) -> None:
    _server, db = sms_server
    sender, sid = "+12125559004", client.next_sid()
    first = client.send(sender, "BALANCE", sid=sid)
    assert first  # the SSN prompt
    before = _conversation(db, sender)
    again = client.send(sender, "987-65-4320", sid=sid)
    assert again == []
    assert _conversation(db, sender) == before
    assert _count_deliveries(db, sid) == 1


def test_unusable_sender_is_400(client: Sms) -> None:
    params = {"From": "not a number", "Body": "HELP", "MessageSid": client.next_sid()}
    response = client.post(params, client.sign(params))
    assert response.status_code == 400


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.text(max_size=3000),
    sender=st.sampled_from(["+12125559100", "212-555-9101", "x"]),
    extra=st.dictionaries(st.sampled_from(["A", "Zed", "From2", "b"]), st.text(max_size=50)),
)
def test_generated_bodies_through_the_server_never_5xx(client: Sms, body, sender, extra) -> None:
    params = {**extra, "From": sender, "Body": body, "MessageSid": client.next_sid()}
    response = client.post(params, client.sign(params))
    assert response.status_code < 500
    for message in messages_of(response.text):
        assert within_sms_budget(message), message


# --- compliance words -------------------------------------------------------------------------


def test_stop_start_help(client: Sms, sms_server) -> None:
    _server, db = sms_server
    sender = "+12125559005"
    [help_text] = client.send(sender, "HELP")
    assert "NYS Child Support" in help_text
    assert "888-208-4485" in help_text and "866-875-9975" in help_text
    assert "Msg & data rates may apply" in help_text and "STOP" in help_text
    assert client.send(sender, "info") == [help_text]

    [confirmation] = client.send(sender, " Stop ")
    assert "START" in confirmation
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SmsOptOut).where(SmsOptOut.phone == sender)) == 1
    for word in ("MENU", "BALANCE", "HELP", "987-65-4320", "STOP", "hello"):
        assert client.send(sender, word) == [], word

    [resumed] = client.send(sender, "start")
    assert "STOP" in resumed
    assert client.send(sender, "MENU")  # talking again: the SSN prompt

    # Every opt-out word works, each once with a confirmation, then silence.
    for number, word in enumerate(
        ["STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "ARRET", "arrêt"]
    ):
        other = f"+1212555{9200 + number}"
        assert len(client.send(other, word)) == 1, word
        assert client.send(other, "MENU") == [], word
        assert len(client.send(other, "UNSTOP")) == 1, word


# --- whole conversations, both languages ---------------------------------------------------


ENGLISH_SCRIPT = [
    "HELP", "MENU", "12345678", "987-65-4320", "4821", "48213", "MENU", "BALANCE", "PAYMENTS",
    "MORE", "PDF", "DISBURSEMENTS", "NOTICE", "STATEMENT", "OFFICE",
    "Please call me about my last payment. Thank you!", "SEND", "what?", "1", "FRANCAIS",
    "ENGLISH", "LOGOUT", "PIN", "987-65-4320", "1988-03-14", "10027",
]
FRENCH_SCRIPT = [
    "AIDE", "MENU", "987 65 4322", "31764", "SOLDE", "PAIEMENTS", "PLUS", "VERSEMENTS", "AVIS",
    "RELEVE", "COUPON", "BUREAU", "1", "Bonjour, pouvez-vous m’appeler ? Merci « beaucoup ».",
    "ENVOYER", "quoi ?", "DECONNEXION", "PIN", "987-65-4322", "1990-01-01", "11201",
]
PAYING_SCRIPT = ["COUPON", "987-65-4321", "90517", "COUPON", "STATEMENT", "BALANCE", "PAYMENTS"]


def _run_script(client: Sms, sender: str, script: list[str]) -> list[list[str]]:
    transcript = []
    for body in script:
        messages = client.send(sender, body)
        assert messages, f"no reply to {body!r}"
        for message in messages:
            assert within_sms_budget(message), message
        transcript.append(messages)
    return transcript


def _documents_open(client: Sms, transcript: list[list[str]]) -> int:
    links = re.findall(re.escape(PUBLIC_URL) + r"(/d/[A-Za-z0-9_-]+)", "\n".join(sum(transcript, [])))
    for path in links:
        response = client.http.get(client.server.url + path)
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
    return len(links)


def test_english_conversation(client: Sms) -> None:
    transcript = _run_script(client, "+12125550111", ENGLISH_SCRIPT)
    joined = "\n".join(sum(transcript, []))
    assert "Maria" in joined and "$1,475.75" in joined  # verified, balance shown
    assert "987-65-4320" not in joined and "48213" not in joined
    assert "Reply: BALANCE, PAYMENTS" in joined
    assert _documents_open(client, transcript) >= 2  # statement, notice, PDF of payments


def test_french_conversation(client: Sms) -> None:
    transcript = _run_script(client, "+17185550133", FRENCH_SCRIPT)
    joined = "\n".join(sum(transcript, []))
    assert "Aminata" in joined
    assert "SOLDE" in joined and "PAIEMENTS" in joined  # the French menu words
    assert "$US" in joined  # French money format
    # Its no-break spaces and « » stay only where the message goes as written at no extra
    # cost (every message passed within_sms_budget in _run_script); some were folded:
    assert any(is_gsm7(m) and "$US" in m for m in sum(transcript, []))
    assert _documents_open(client, transcript) >= 2


def test_paying_parent_conversation(client: Sms) -> None:
    transcript = _run_script(client, "+12125550122", PAYING_SCRIPT)
    assert _documents_open(client, transcript) >= 1  # the coupon


def test_graceful_stop_and_sqlite_worker_refusal(serve, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'csbot.db'}"
    env = csbot_env(url, TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    refused = run_csbot(env, "serve", "--workers", "2", "--port", "1")
    assert refused.returncode == 2
    assert refused.stderr.startswith("csbot: error: --workers 2 needs PostgreSQL")
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr

    server = serve(env)
    sms_client = Sms(server, AUTH_TOKEN)
    assert sms_client.send("+12125559300", "HELP")
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so the exit status
    # says "terminated by SIGTERM" (what service managers expect after a stop).
    assert server.stop() in (0, -signal.SIGTERM)
    log = server.log_text()
    assert "Application shutdown complete" in log and "Finished server process" in log


# --- PostgreSQL, two workers, concurrency -------------------------------------------------


@pytest.mark.postgres
def test_postgres_two_workers_conversation_and_concurrency(postgres_url: str, serve) -> None:
    env = csbot_env(postgres_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, CSBOT_PUBLIC_URL=PUBLIC_URL)
    load_example(env)
    server = serve(env, workers=2)
    assert server.log_text().count("Started server process") >= 2
    sms_client = Sms(server, AUTH_TOKEN)
    _run_script(sms_client, "+12125550111", ENGLISH_SCRIPT[:12])
    _run_script(sms_client, "+17185550133", FRENCH_SCRIPT[:6])

    # Verify one number, then send ten messages from it at once, each with its own MessageSid.
    sender = "+12125550122"
    _run_script(sms_client, sender, ["BALANCE", "987-65-4321", "90517"])
    sids = [sms_client.next_sid() for _ in range(10)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as http:
            requests = []
            for sid in sids:
                params = {"From": sender, "Body": "BALANCE", "MessageSid": sid}
                requests.append(
                    http.post(
                        server.url + "/twilio/sms",
                        data=params,
                        headers={"X-Twilio-Signature": sms_client.sign(params)},
                    )
                )
            # Plus ten different numbers at the same time.
            for n in range(10):
                params = {"From": f"+1347555{9400 + n}", "Body": "HELP", "MessageSid": sms_client.next_sid()}
                requests.append(
                    http.post(
                        server.url + "/twilio/sms",
                        data=params,
                        headers={"X-Twilio-Signature": sms_client.sign(params)},
                    )
                )
            return await asyncio.gather(*requests)

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 20
    for response in responses[:10]:
        [balance] = messages_of(response.text)
        assert "Case *0001" in balance and "Sorry" not in balance
    for response in responses[10:]:
        assert "888-208-4485" in messages_of(response.text)[0]

    db = db_engine(postgres_url)
    try:
        for sid in sids:
            assert _count_deliveries(db, sid) == 1
        with db.connect() as conn:
            rows = conn.execute(
                select(Conversation.state).where(Conversation.channel == "sms", Conversation.sender == sender)
            ).all()
        assert [row.state for row in rows] == ["idle"]
        # Same MessageSids again, all at once: all acknowledged, none acted on.
        again = asyncio.run(burst())
        assert all(r.status_code == 200 for r in again)
        assert all(messages_of(r.text) == [] for r in again[:10]), [r.text for r in again[:10]]
    finally:
        db.dispose()
    assert server.stop() in (0, -signal.SIGTERM)
    log = server.log_text()
    assert log.count("Finished server process") >= 2
    assert "Traceback" not in log and " ERROR " not in log
    for secret in SSN_AND_PINS:
        assert secret not in log
