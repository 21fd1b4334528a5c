"""Signing in and staying signed in: Argon2id passwords, one refusal for every failure, the
lockout, the cookie's flags, the idle timeout, CSRF, and sessions that end when the user is
disabled, gets a new password or signs out."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from bot.desk import passwords
from bot.desk.accounts import add_user, disable_user, reset_password
from bot.desk.app import create_desk_app
from bot.store.models import AuditRecord, OfficeMessage, StaffUser
from tests.desk.conftest import MAN_REF, PASSWORD, sign_in, token_from


def _refusal_text(response) -> str:
    """The page without its per-session token and the echoed username."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)
    return re.sub(r'id="username"([^>]*)value="[^"]*"', r'id="username"\1', text)


def _audit(runtime, kind: str) -> list[AuditRecord]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditRecord).where(AuditRecord.record_kind == kind)))


def test_a_clerk_signs_in_and_the_session_cookie_is_httponly_strict_and_scoped(desk):
    client = desk.client()
    response = sign_in(client, "clerk", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/staff/messages"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("csbot_desk=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "path=/staff" in cookie.lower()
    assert "secure" not in cookie.lower()  # CSBOT_DESK_URL is not https here
    page = client.get("/staff/messages")
    assert page.status_code == 200 and "Signed in as <strong>clerk</strong>" in page.text
    [signed_in] = _audit(desk.runtime, "desk sign-in")
    assert (signed_in.channel, signed_in.sender) == ("desk", "clerk")


def test_the_cookie_is_secure_when_the_desk_url_is_https(desk, runtime_factory, db_url):
    runtime = runtime_factory(db_url, CSBOT_DESK_URL="https://desk.agency.example")
    app = create_desk_app(runtime, clock=desk.clock)
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = sign_in(client, "clerk", PASSWORD)
    assert response.status_code == 303
    assert "; secure" in response.headers["set-cookie"].lower()


def test_the_password_is_stored_as_an_argon2id_hash(desk):
    with desk.runtime.sessions() as session:
        stored = session.scalar(select(StaffUser.password_hash).where(StaffUser.username == "clerk"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_every_failure_gets_the_same_answer(desk):
    disable_user_name = "gone"
    add_user(desk.runtime, disable_user_name, PASSWORD, offices=["MAN"], all_offices=False, supervisor=False)
    disable_user(desk.runtime, disable_user_name)
    add_user(desk.runtime, "locked", PASSWORD, offices=["MAN"], all_offices=False, supervisor=False)
    for _ in range(5):
        sign_in(desk.client(), "locked", "wrong password!!")
    answers = {
        "unknown user": sign_in(desk.client(), "nobody", PASSWORD),
        "wrong password": sign_in(desk.client(), "clerk", "not the password"),
        "disabled": sign_in(desk.client(), disable_user_name, PASSWORD),
        "locked (right password)": sign_in(desk.client(), "locked", PASSWORD),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert set(statuses.values()) == {401}, statuses
    texts = {_refusal_text(r) for r in answers.values()}
    assert len(texts) == 1
    assert "Sign-in failed. Check your username and password." in texts.pop()


def test_an_unknown_user_costs_the_same_argon2_work(desk, monkeypatch):
    calls = []
    real = passwords._hasher

    class Counting:
        def verify(self, stored, password):
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "_hasher", Counting())
    sign_in(desk.client(), "nobody", PASSWORD)
    sign_in(desk.client(), "clerk", "not the password")
    assert len(calls) == 2 and all(c.startswith("$argon2id$") for c in calls)


def test_five_failures_lock_the_user_for_15_minutes(desk, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        assert sign_in(desk.client(), "clerk", "not the password").status_code == 401
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 401  # locked: the right password too
    assert len(_audit(desk.runtime, "desk sign-in locked")) == 1
    assert "staff user clerk is locked for 15 minutes after 5 failed sign-ins" in caplog.text
    assert "not the password" not in caplog.text and PASSWORD not in caplog.text
    desk.clock.advance(minutes=14)
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 401
    desk.clock.advance(minutes=1, seconds=1)
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 303


def test_a_success_resets_the_failure_count(desk):
    for _ in range(4):
        sign_in(desk.client(), "clerk", "not the password")
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 303
    for _ in range(4):
        sign_in(desk.client(), "clerk", "not the password")
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 303


def test_idle_for_30_minutes_ends_the_session(desk):
    client = desk.signed_in()
    desk.clock.advance(minutes=29)
    assert client.get("/staff/messages").status_code == 200  # activity moves the idle clock
    desk.clock.advance(minutes=29)
    assert client.get("/staff/messages").status_code == 200
    desk.clock.advance(minutes=30, seconds=1)
    response = client.get("/staff/messages")
    assert response.status_code == 303 and response.headers["location"] == "/staff/sign-in"
    assert "Your session has ended" in client.get("/staff/sign-in").text


def test_pages_need_a_session(desk):
    for path in ("/staff/messages", f"/staff/messages/{MAN_REF}", "/staff/pin-requests", "/staff/pin-requests.csv",
                 "/staff/lockouts", "/staff/audit?person=P-1001", "/staff/imports"):
        response = desk.client().get(path)
        assert (response.status_code, response.headers.get("location")) == (303, "/staff/sign-in"), path


@pytest.mark.parametrize("token", [None, "", "forged-token-forged-token-forged-token-00"])
def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(desk, token):
    client = desk.signed_in()
    data = {"answer": "Hello"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/staff/messages/{MAN_REF}/answer", data=data)
    assert response.status_code == 403 and "Nothing was changed" in response.text
    with desk.runtime.sessions() as session:
        assert session.scalar(select(OfficeMessage.status).where(OfficeMessage.reference == MAN_REF)) == "mailed"
    anonymous = desk.client()
    anonymous.get("/staff/sign-in")
    sign_in_data = {"username": "clerk", "password": PASSWORD, **({"csrf_token": token} if token is not None else {})}
    assert anonymous.post("/staff/sign-in", data=sign_in_data).status_code == 403


def test_every_post_route_checks_the_csrf_token(desk):
    client = desk.signed_in()
    posts = [route.path for route in desk.app.routes if "POST" in (getattr(route, "methods", None) or ())]
    assert set(posts) >= {"/staff/sign-in", "/staff/sign-out", "/staff/messages/{reference}/answer",
                          "/staff/pin-requests/mark-mailed", "/staff/lockouts/unlock"}
    for path in posts:
        url = path.replace("{reference}", MAN_REF)
        assert client.post(url, data={"csrf_token": "wrong"}).status_code == 403, path
    assert client.get("/staff/messages").status_code == 200  # still signed in: nothing ran


@pytest.mark.parametrize("change", ["disable", "reset-password"])
def test_a_disabled_or_reset_users_old_session_stops_working(desk, change):
    client = desk.signed_in()
    token = token_from(client, f"/staff/messages/{MAN_REF}")
    if change == "disable":
        disable_user(desk.runtime, "clerk")
    else:
        reset_password(desk.runtime, "clerk", "a brand new password")
    response = client.get("/staff/messages")
    assert (response.status_code, response.headers["location"]) == (303, "/staff/sign-in")
    posted = client.post(f"/staff/messages/{MAN_REF}/answer", data={"csrf_token": token, "answer": "Hi"})
    assert posted.status_code == 303 and posted.headers["location"] == "/staff/sign-in"
    with desk.runtime.sessions() as session:
        assert session.scalar(select(OfficeMessage.status).where(OfficeMessage.reference == MAN_REF)) == "mailed"


def test_signing_out_ends_the_session_even_for_a_copied_cookie(desk):
    client = desk.signed_in()
    copied = dict(client.cookies)
    response = client.post("/staff/sign-out", data={"csrf_token": token_from(client, "/staff/messages")})
    assert (response.status_code, response.headers["location"]) == (303, "/staff/sign-in")
    assert "You are signed out." in client.get("/staff/sign-in").text
    replay = desk.client()
    replay.cookies.update(copied)
    assert replay.get("/staff/messages").status_code == 303
    assert [r.sender for r in _audit(desk.runtime, "desk sign-out")] == ["clerk"]


def test_the_cookie_is_signed_with_a_key_derived_from_the_secret_key(desk):
    from bot.desk.sessions import cookie_key

    key = cookie_key(desk.runtime.settings)
    assert key != desk.runtime.settings.secret_key and desk.runtime.settings.secret_key not in key
    client = desk.signed_in()
    value = client.cookies["csbot_desk"]
    tampered = desk.client()
    tampered.cookies.set("csbot_desk", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/staff")
    assert tampered.get("/staff/messages").status_code == 303


def test_a_new_password_must_be_12_characters(desk):
    from bot.errors import RequestRefused

    with pytest.raises(RequestRefused, match="at least 12 characters") as refused:
        reset_password(desk.runtime, "clerk", "elevenchars")
    assert "elevenchars" not in str(refused.value)
    assert sign_in(desk.client(), "clerk", PASSWORD).status_code == 303
