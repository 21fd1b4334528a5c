"""The desk's HTTP tests: the app on the example extract (SQLite and PostgreSQL), a clock the
test moves, two staff users (a Manhattan clerk, a supervisor for every office) and one office
message per office."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import pytest
from starlette.testclient import TestClient

from bot.desk.accounts import add_user
from bot.desk.app import create_desk_app
from bot.runtime import Runtime
from bot.store.models import AccountLock, OfficeMessage, PinRequest

PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 11, 20, 14, 3, tzinfo=dt.UTC)
MAN_REF, BKN_REF = "OM-2F7KAB3C", "OM-9QX4MN7P"
HOSTILE = "Où est mon paiement? <script>alert(1)</script> <img src=x onerror=alert(1)>"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clock:
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def seed_work(runtime: Runtime, now: dt.datetime) -> None:
    """An office message for Manhattan (with HTML and accents) and one for Brooklyn, a PIN
    request and a lock per office."""
    with runtime.sessions.begin() as session:
        for reference, person, case, office, body in (
            (MAN_REF, "P-1001", "CS10000001", "MAN", HOSTILE),
            (BKN_REF, "P-1003", "CS10000002", "BKN", "When is my next payment?"),
        ):
            session.add(OfficeMessage(
                reference=reference, person_id=person, case_number=case, office_code=office, role="receiving",
                channel="sms", sender="+12125550100" if office == "MAN" else "+17185550111", body=body,
                status="mailed", attempts=1, next_attempt_at=T0, created_at=T0, sent_at=T0,
            ))
        session.add_all([
            PinRequest(person_id="P-1001", requested_at=now - dt.timedelta(hours=2), channel="sms", status="open"),
            PinRequest(person_id="P-1003", requested_at=now - dt.timedelta(hours=1), channel="telegram", status="open"),
            AccountLock(person_id="P-1002", consecutive_failures=5, locked_until=now + dt.timedelta(minutes=30)),
            AccountLock(person_id="P-1004", consecutive_failures=5, locked_until=now + dt.timedelta(minutes=30)),
        ])


@dataclass
class Desk:
    runtime: Runtime
    clock: Clock
    app: object

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)  # type: ignore[arg-type]

    def signed_in(self, username: str = "clerk", password: str = PASSWORD) -> TestClient:
        client = self.client()
        response = sign_in(client, username, password)
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str):
    token = csrf_of(client.get("/staff/sign-in").text)
    return client.post("/staff/sign-in", data={"csrf_token": token, "username": username, "password": password})


def token_from(client: TestClient, path: str) -> str:
    return csrf_of(client.get(path).text)


@pytest.fixture
def desk(loaded_runtime) -> Desk:
    clock = Clock()
    seed_work(loaded_runtime, clock.now)
    add_user(loaded_runtime, "clerk", PASSWORD, offices=["MAN"], all_offices=False, supervisor=False)
    add_user(loaded_runtime, "boss", PASSWORD, offices=[], all_offices=True, supervisor=True)
    return Desk(loaded_runtime, clock, create_desk_app(loaded_runtime, clock=clock))
