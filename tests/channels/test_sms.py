"""The SMS channel in process: rendering, sender numbers, the webhook through Starlette's
TestClient (real app, real engine, real SQLite database), Hypothesis-generated bodies, and
the apology on an internal failure. The same behaviour through a running `csbot serve` is
in test_serve.py."""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from starlette.datastructures import MultiDict
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.base import apology_text
from bot.channels.sms.gsm7 import is_gsm7, segments
from bot.channels.sms.render import fit_for_sms, merge_messages, render_choices, render_reply
from bot.channels.sms.route import SMS_PATH, inbound_from_form, normalise_sender
from bot.conversation.turn import Channel
from bot.hashing import KeyedHasher
from bot.importer.pipeline import import_extract
from bot.runtime import Runtime, open_runtime
from bot.store.database import make_engine, make_sessionmaker
from bot.store.models import Conversation, HandledDelivery
from bot.web.app import create_app
from dialogs.replies import Choice, DocumentKind, DocumentRef, Reply
from tests.support.databases import EXAMPLE_EXTRACT
from tests.support.sms_checks import within_sms_budget

AUTH_TOKEN = "twilio-test-auth-token-0123"
EXAMPLE = EXAMPLE_EXTRACT
MESSAGE_RE = re.compile(r"<Message>(.*?)</Message>", re.S)


def messages_of(xml: str) -> list[str]:
    import html

    return [html.unescape(m) for m in MESSAGE_RE.findall(xml)]


# --- rendering ---------------------------------------------------------------------------


def test_choices_render_as_words() -> None:
    choices = (Choice("Balance", "BALANCE"), Choice("Payment history", "PAYMENTS"))
    assert render_choices(choices, "What would you like to see?", "en") == (
        "Reply: BALANCE, PAYMENTS"
    )


def test_numbered_choices_already_in_the_text_are_not_repeated() -> None:
    text_ = "Which case is your message about?\n1: Case *0002, Brooklyn\n2: Case *0003, Brooklyn"
    choices = (Choice("Case *0002, Brooklyn", "1"), Choice("Case *0003, Brooklyn", "2"))
    assert render_choices(choices, text_, "en") == ""
    assert render_choices(choices, "Which case?", "en") == (
        "1: Case *0002, Brooklyn\n2: Case *0003, Brooklyn"
    )


def test_reply_with_document_gets_a_link() -> None:
    ref = DocumentRef(DocumentKind.STATEMENT, "P-1001", "S1", "en")
    reply = Reply("Statement ready.", (Choice("Menu", "MENU"),), ref)
    [message] = render_reply(
        reply, locale="en", encoding="gsm7", document_link=lambda r: "https://x.example/d/abc"
    )
    assert message == (
        "Statement ready.\nReply: MENU\nPrintable copy (the link works for 15 minutes): https://x.example/d/abc"
    )


def test_gsm7_mode_folds_and_unicode_mode_keeps() -> None:
    text_ = "Solde : 1\u202f250,75\u00a0$US « à jour » — fenêtre"
    # Short enough for one segment as written: sent as written, accents and all.
    assert fit_for_sms(text_, "gsm7") == [text_] == fit_for_sms(text_, "unicode")
    # Longer than one UCS-2 segment but one GSM-7 segment: folded, never an extra segment.
    long_text = text_ + " " + "x" * 60
    [folded] = fit_for_sms(long_text, "gsm7")
    assert folded == 'Solde : 1 250,75 $US "à jour" - fenetre ' + "x" * 60
    assert is_gsm7(folded) and segments(folded) == 1
    [kept] = fit_for_sms(long_text, "unicode")
    assert kept == long_text


def test_long_replies_are_split_within_two_segments_never_cut() -> None:
    lines = [f"Oct {day:02d}, 2026: $1,234.56, income withholding" for day in range(1, 29)]
    reply = Reply("\n".join(lines))
    parts = render_reply(reply, locale="en", encoding="gsm7")
    assert len(parts) > 1
    assert all(segments(part) <= 2 and len(part) <= 306 for part in parts)
    assert "\n".join(parts) == "\n".join(lines)


def test_unicode_mode_budget_is_two_ucs2_segments() -> None:
    lines = [f"Paiement {i:02d} : 100,00 $ — reçu ✓" for i in range(20)]
    parts = fit_for_sms("\n".join(lines), "unicode")
    assert len(parts) > 1
    assert all(segments(part) <= 2 and len(part) <= 134 for part in parts)


def test_short_messages_are_merged_when_it_costs_nothing() -> None:
    assert merge_messages(["Thank you.", "Your balance is $10."]) == [
        "Thank you.\n\nYour balance is $10."
    ]
    long_a, long_b = "a" * 200, "b" * 200
    assert merge_messages([long_a, long_b]) == [long_a, long_b]
    # 150 + 150: one segment each apart, two joined: no saving, but no extra cost either.
    assert merge_messages(["a" * 150, "b" * 150]) == ["a" * 150 + "\n\n" + "b" * 150]


def test_control_characters_never_reach_the_xml() -> None:
    [message] = fit_for_sms("a\x00b\x07c\x1bd\ufffe", "unicode")
    assert message == "abcd"


def test_apology_is_short_and_names_the_error() -> None:
    text_ = apology_text("en", "A1B2C3D4")
    assert text_ == (
        "Sorry, something went wrong on our side. Please try again in a few minutes."
        " (Error A1B2C3D4)"
    )
    assert segments(text_) == 1


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+12125550111", "+12125550111"),
        ("(212) 555-0111", "+12125550111"),
        ("212.555.0111", "+12125550111"),
        ("1 212 555 0111", "+12125550111"),
        ("+33 6 12 34 56 78", "+33612345678"),
        (" +1-718-555-0133 ", "+17185550133"),
    ],
)
def test_sender_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise_sender(raw) == e164


@pytest.mark.parametrize("raw", ["", "hello", "12", "+1" + "2" * 40, "whatsapp:"])
def test_unusable_sender(raw: str) -> None:
    assert normalise_sender(raw) is None


def test_inbound_needs_sender_and_message_sid() -> None:
    ok = inbound_from_form(
        MultiDict({"From": "+12125550111", "Body": "HI\x00", "MessageSid": "SM" + "a" * 32})
    )
    assert ok is not None and ok.channel is Channel.SMS and ok.text == "HI"
    assert ok.delivery_id == "SM" + "a" * 32
    assert inbound_from_form(MultiDict({"From": "+12125550111", "Body": "HI"})) is None
    assert inbound_from_form(MultiDict({"Body": "HI", "MessageSid": "SM1"})) is None
    assert (
        inbound_from_form(
            MultiDict({"From": "+12125550111", "Body": "x", "MessageSid": "SM" + "a" * 80})
        )
        is None
    )


# --- the route in process -------------------------------------------------------------------


@pytest.fixture
def sms_runtime(sqlite_url: str, make_settings) -> Iterator[Runtime]:
    settings = make_settings(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    runtime = open_runtime(settings)
    import_extract(runtime, EXAMPLE)
    yield runtime
    runtime.dispose()


@pytest.fixture
def client(sms_runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(sms_runtime, background=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class Signer:
    def __init__(self, url: str, token: str = AUTH_TOKEN) -> None:
        self.url = url
        self.validator = RequestValidator(token)

    def headers(self, params: dict[str, str]) -> dict[str, str]:
        return {
            "X-Twilio-Signature": self.validator.compute_signature(self.url, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }


def post_sms(client: TestClient, runtime: Runtime, params: dict[str, str], order=None):
    signer = Signer(runtime.settings.public_url + SMS_PATH)
    pairs = list(params.items()) if order is None else order
    return client.post(
        SMS_PATH, content=urllib.parse.urlencode(pairs), headers=signer.headers(params)
    )


def sms(body: str, sid: str, sender: str = "+12125550111") -> dict[str, str]:
    return {"From": sender, "To": "+15185550000", "Body": body, "MessageSid": sid}


def test_public_url_counts_not_the_request_url(client: TestClient, sms_runtime: Runtime) -> None:
    params = sms("HELP", "SM" + "1" * 32)
    # TestClient sends to http://testserver; the signature over the configured public URL
    # (http://127.0.0.1:8080) is the valid one.
    wrong = Signer("http://testserver" + SMS_PATH).headers(params)
    assert client.post(SMS_PATH, data=params, headers=wrong).status_code == 403
    response = post_sms(client, sms_runtime, params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    [help_text] = messages_of(response.text)
    assert "888-208-4485" in help_text and "866-875-9975" in help_text


def test_signature_with_query_string_is_checked_against_the_full_url(
    client: TestClient, sms_runtime: Runtime
) -> None:
    params = sms("HELP", "SM" + "2" * 32)
    signer = Signer(sms_runtime.settings.public_url + SMS_PATH + "?site=ny")
    response = client.post(SMS_PATH + "?site=ny", data=params, headers=signer.headers(params))
    assert response.status_code == 200
    response = client.post(SMS_PATH + "?site=nj", data=params, headers=signer.headers(params))
    assert response.status_code == 403


def test_malformed_bodies_are_403_never_500(client: TestClient) -> None:
    for body in (b"Body=%FF%FE&From=%2B12125550111", b"\xff\xfe\x00", b"&&&===", b""):
        response = client.post(
            SMS_PATH,
            content=body,
            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl", "Content-Type": "x"},
        )
        assert response.status_code == 403, body
        assert response.content == b""


def test_signed_request_without_sender_is_400_and_records_nothing(
    client: TestClient, sms_runtime: Runtime
) -> None:
    response = post_sms(client, sms_runtime, {"Body": "HELP", "MessageSid": "SM" + "3" * 32})
    assert response.status_code == 400
    with sms_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(HandledDelivery)) == 0


_SENDERS = st.sampled_from(["+12125550111", "+17185550133", "(347) 555-0155", "nonsense", ""])
_FREE_TEXT = st.text(max_size=200) | st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10_000
)
_SIDS = st.from_regex(r"\ASM[0-9a-f]{32}\Z") | st.text(max_size=80)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sender=_SENDERS,
    body=_FREE_TEXT | st.sampled_from(["STOP", "start", "AIDE", "987-65-4320", "48213", "MENU"]),
    sid=_SIDS,
    extra=st.dictionaries(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1,
                max_size=12),
        st.text(max_size=300),
        max_size=6,
    ),
    data=st.data(),
)
def test_any_signed_body_never_gives_5xx(
    client: TestClient, sms_runtime: Runtime, sender, body, sid, extra, data
) -> None:
    params = {**extra, "From": sender, "Body": body, "MessageSid": sid}
    order = data.draw(st.permutations(list(params.items())))
    response = post_sms(client, sms_runtime, params, order=order)
    assert response.status_code in (200, 400, 413), response.status_code
    if response.status_code == 200:
        assert response.text.startswith("<?xml")
        for message in messages_of(response.text):
            assert within_sms_budget(message), message


def _break_the_database(runtime: Runtime) -> None:
    # A real failure inside the engine: the table it writes first is gone.
    with runtime.db.begin() as conn:
        conn.execute(text("DROP TABLE handled_deliveries"))


def test_internal_error_gives_an_apology_with_an_error_id(
    client: TestClient, sms_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    _break_the_database(sms_runtime)
    caplog.set_level(logging.INFO)
    response = post_sms(client, sms_runtime, sms("987-65-4320", "SM" + "4" * 32))
    assert response.status_code == 200
    [message] = messages_of(response.text)
    error_id = re.search(r"\(Error ([0-9A-F]{8})\)", message).group(1)  # type: ignore[union-attr]
    # Language unknown (no conversation): English and French, within the budget.
    assert message.startswith("Sorry, something went wrong on our side.")
    assert message.count(error_id) == 2
    assert segments(message) <= 2 and is_gsm7(message)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and error_id in errors[0].getMessage()
    logged = caplog.text
    assert "987-65-4320" not in logged and "987654320" not in logged
    assert "Traceback" not in response.text and "handled_deliveries" not in response.text


def test_apology_in_the_conversation_language(client: TestClient, sms_runtime: Runtime) -> None:
    """Needs the lead's French catalog entry for the apology (see the helper's report)."""
    response = post_sms(client, sms_runtime, sms("FRANCAIS", "SM" + "5" * 32))
    assert response.status_code == 200
    _break_the_database(sms_runtime)
    response = post_sms(client, sms_runtime, sms("SOLDE", "SM" + "6" * 32))
    assert response.status_code == 200
    [message] = messages_of(response.text)
    error_id = re.search(r"\(Erreur ([0-9A-F]{8})\)", message)
    assert error_id is not None, message
    assert "Sorry" not in message  # French only


def test_database_down_healthz_503_and_sms_apology(make_settings) -> None:
    # PostgreSQL on a port where nothing listens: every query fails at connect time.
    settings = make_settings(
        "postgresql://postgres@127.0.0.1:9/nothing", TWILIO_AUTH_TOKEN=AUTH_TOKEN
    )
    db = make_engine(settings.database_url)
    runtime = Runtime(
        settings=settings,
        db=db,
        sessions=make_sessionmaker(db),
        hasher=KeyedHasher(settings.require_secret_key()),
    )
    app = create_app(runtime, background=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        health = test_client.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable"}
        response = post_sms(test_client, runtime, sms("BALANCE", "SM" + "7" * 32))
        assert response.status_code == 200
        [message] = messages_of(response.text)
        assert message.startswith("Sorry, something went wrong")


def test_healthz_ok_and_route_off_without_token(sqlite_url: str, make_settings) -> None:
    settings = make_settings(sqlite_url)
    runtime = open_runtime(settings)
    app = create_app(runtime, background=False)
    with TestClient(app) as test_client:
        assert test_client.get("/healthz").json() == {"status": "ok"}
        assert test_client.post(SMS_PATH, data={"Body": "HI"}).status_code == 404


def test_duplicate_message_sid_is_empty_and_changes_nothing(
    client: TestClient, sms_runtime: Runtime
) -> None:
    first = post_sms(client, sms_runtime, sms("BALANCE", "SM" + "8" * 32))
    assert messages_of(first.text)
    with sms_runtime.sessions() as session:
        before = session.scalars(select(Conversation)).one()
        before_state = (before.state, dict(before.data), before.last_activity_at)
    again = post_sms(client, sms_runtime, sms("987-65-4320", "SM" + "8" * 32))
    assert again.status_code == 200
    assert messages_of(again.text) == []
    assert "<Response />" in again.text or "<Response/>" in again.text
    with sms_runtime.sessions() as session:
        after = session.scalars(select(Conversation)).one()
        assert (after.state, dict(after.data), after.last_activity_at) == before_state



def test_unicode_mode_sends_text_as_written(sqlite_url: str, make_settings) -> None:
    settings = make_settings(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, CSBOT_SMS_ENCODING="unicode")
    runtime = open_runtime(settings)
    import_extract(runtime, EXAMPLE)
    app = create_app(runtime, background=False)
    replies = []
    with TestClient(app) as test_client:
        for n, body in enumerate(["SOLDE", "987-65-4322", "31764", "RELEVE"]):
            response = post_sms(test_client, runtime, sms(body, f"SM{n:032d}", "+17185550133"))
            assert response.status_code == 200
            replies.extend(messages_of(response.text))
    joined = "\n".join(replies)
    # Babel's French money keeps its narrow no-break space: nothing was folded.
    assert "\u202f" in joined and "$US" in joined
    for message in replies:
        assert segments(message) <= 2
        if not is_gsm7(message):
            assert len(message) <= 134


def test_choice_words_the_text_already_asks_for_are_not_repeated() -> None:
    choices = (Choice("More", "MORE"), Choice("Printable copy (PDF)", "PDF"), Choice("Menu", "MENU"))
    text_ = "Payments 1-3 of 5:\n...\nSend MORE for older ones.\nSend PDF for a printable copy."
    assert render_choices(choices, text_, "en") == "Reply: MENU"
    assert render_choices(choices[:2], text_, "en") == ""


# --- hardening (outside review) -----------------------------------------------------------------


def test_message_sid_must_have_twilios_shape() -> None:
    base = {"From": "+12125550111", "Body": "HI"}
    good = "SM" + "0123456789abcdef" * 2
    assert inbound_from_form(MultiDict({**base, "MessageSid": good})) is not None
    assert inbound_from_form(MultiDict({**base, "MessageSid": "MM" + "A" * 32})) is not None
    for bad in (good + "NumMedia0", good[:-1], "XX" + good[2:], "SM" + "g" * 32, "", "SMsm" + "0" * 30):
        assert inbound_from_form(MultiDict({**base, "MessageSid": bad})) is None, bad
    assert inbound_from_form(MultiDict({**base, "MessageSid": good, "SmsSid": "SM123"})) is None
    assert inbound_from_form(MultiDict({**base, "MessageSid": good, "SmsSid": good})) is not None


def test_a_parameter_moved_into_the_message_sid_is_400_and_records_nothing(
    client: TestClient, sms_runtime: Runtime
) -> None:
    """Twilio signs names and values joined with no separator: moving `NumMedia` and its value
    into MessageSid keeps the signature valid and made a "new" MessageSid (a replay)."""
    sid = "SM" + "9" * 32
    original = {**sms("BALANCE", sid), "NumMedia": "0"}
    signature = Signer(sms_runtime.settings.public_url + SMS_PATH).headers(original)["X-Twilio-Signature"]
    assert post_sms(client, sms_runtime, original).status_code == 200
    moved = {key: value for key, value in original.items() if key != "NumMedia"}
    moved["MessageSid"] = sid + "NumMedia0"
    assert RequestValidator(AUTH_TOKEN).validate(sms_runtime.settings.public_url + SMS_PATH, moved, signature)
    response = client.post(
        SMS_PATH,
        content=urllib.parse.urlencode(moved),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    with sms_runtime.db.connect() as conn:
        recorded = conn.scalar(text("SELECT count(*) FROM handled_deliveries WHERE delivery_id LIKE :p"), {"p": sid + "%"})
    assert recorded == 1  # the original only


def test_a_status_callback_posted_to_the_sms_route_changes_nothing(
    client: TestClient, sms_runtime: Runtime
) -> None:
    bot_number = "+15185550000"
    callback = {
        "MessageSid": "SM" + "c" * 32, "SmsSid": "SM" + "c" * 32, "AccountSid": "AC" + "0" * 32,
        "From": bot_number, "To": "+12125550111", "MessageStatus": "delivered", "SmsStatus": "delivered",
    }
    response = post_sms(client, sms_runtime, callback)
    assert response.status_code == 200 and messages_of(response.text) == []
    with sms_runtime.db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM conversations WHERE sender = :s"), {"s": bot_number}) == 0
        assert conn.scalar(text("SELECT count(*) FROM handled_deliveries")) == 0


def test_a_step_that_misses_its_deadline_is_rolled_back_so_the_apology_is_true(
    client: TestClient, sms_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twilio waits 15 s. A step that finishes after the webhook gave up must not be acted on
    while the parent is told something went wrong: resending then mails the message once."""
    from bot.channels.sms import route
    from bot.services.requests import RequestServices

    sender = "+12125550177"
    n = iter(range(1000))

    def say(body: str) -> str:
        response = post_sms(client, sms_runtime, sms(body, f"SM{next(n):032x}", sender))
        assert response.status_code == 200
        return "\n".join(messages_of(response.text))

    for body in ("OFFICE", "987-65-4320", "48213", "Please call me about the March payment."):
        say(body)
    queue = RequestServices.queue_office_message

    def slow_queue(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.6)  # the step outlives the deadline below
        return queue(self, *args, **kwargs)

    monkeypatch.setattr(route, "HANDLE_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(RequestServices, "queue_office_message", slow_queue)
    first = say("SEND")
    assert "Sorry, something went wrong" in first

    def mailed() -> int:
        with sms_runtime.db.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM office_messages")) or 0)

    time.sleep(1.0)  # the abandoned thread has finished by now, whatever it did
    assert mailed() == 0
    monkeypatch.setattr(RequestServices, "queue_office_message", queue)
    monkeypatch.setattr(route, "HANDLE_TIMEOUT_SECONDS", 12)
    assert "on its way" in say("SEND")  # the preview was kept: resending works, once
    assert mailed() == 1


def test_a_parents_own_words_are_quoted_as_typed_within_the_budget() -> None:
    typed = Reply(text='Vous avez écrit : « Bonjour, j\u2019ai déménagé à Montréal, rue de l\u2019Église. »', as_typed=True)
    [message] = render_reply(typed, locale="fr", encoding="gsm7")
    assert "déménagé à Montréal, rue de l\u2019Église" in message and segments(message) <= 2
    # Too long for two Unicode segments: folded, still whole and within the budget.
    long_typed = Reply(text="Vous avez écrit : « " + "Ça coûte très cher. " * 9 + "»", as_typed=True)
    for part in render_reply(long_typed, locale="fr", encoding="gsm7"):
        assert is_gsm7(part) and segments(part) <= 2
