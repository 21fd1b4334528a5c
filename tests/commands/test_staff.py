"""Staff commands end to end: rows seeded with the models, commands run through `csbot`."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.store.models import AccountLock, AuditRecord, OfficeMessage, PinRequest

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)



def _pin_requests(loaded_runtime):
    with loaded_runtime.sessions.begin() as session:
        session.add_all([
            PinRequest(person_id="P-1001", requested_at=NOW - dt.timedelta(hours=2), channel="sms", status="open"),
            PinRequest(person_id="P-1003", requested_at=NOW - dt.timedelta(hours=1), channel="telegram", status="open"),
            PinRequest(person_id="P-1002", requested_at=NOW - dt.timedelta(days=3), channel="sms",
                       status="mailed", mailed_at=NOW - dt.timedelta(days=2)),
        ])
    with loaded_runtime.sessions() as session:
        return [r.id for r in session.scalars(select(PinRequest).order_by(PinRequest.requested_at))]


def test_pin_requests_list_shows_open_ones(loaded_runtime, capsys):
    mailed, maria, aminata = _pin_requests(loaded_runtime)
    assert main(["pin-requests", "list"]) == 0
    out = capsys.readouterr().out
    assert "Maria Lopez" in out and "Aminata Diallo" in out and "James Carter" not in out
    assert (NOW - dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z") in out
    assert out.index("Maria Lopez") < out.index("Aminata Diallo")
    assert "2 open requests" in out


def test_pin_requests_export_is_csv_for_the_mailing_unit(loaded_runtime, capsys):
    mailed, maria, aminata = _pin_requests(loaded_runtime)
    assert main(["pin-requests", "export"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["request_id", "person_id", "name", "address_line1", "address_line2",
                       "city", "state", "zip", "requested_at"]
    assert rows[1] == [str(maria), "P-1001", "Maria Lopez", "12 West 120th Street", "", "New York",
                       "NY", "10027", (NOW - dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z")]
    assert [r[1] for r in rows[1:]] == ["P-1001", "P-1003"]


def test_mark_mailed_closes_requests(loaded_runtime, capsys):
    mailed, maria, aminata = _pin_requests(loaded_runtime)
    assert main(["pin-requests", "mark-mailed", str(maria)]) == 0
    assert f"marked 1 request mailed: {maria}" in capsys.readouterr().out
    with loaded_runtime.sessions() as session:
        request = session.get(PinRequest, maria)
        assert request.status == "mailed" and request.mailed_at is not None
        assert session.get(PinRequest, aminata).status == "open"
    main(["pin-requests", "export"])
    assert [r[1] for r in csv.reader(io.StringIO(capsys.readouterr().out))][1:] == ["P-1003"]


def test_mark_mailed_is_all_or_nothing(loaded_runtime, capsys):
    mailed, maria, aminata = _pin_requests(loaded_runtime)
    assert main(["pin-requests", "mark-mailed", str(maria), "9999", str(mailed)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("csbot: error: nothing was changed: ")
    assert "9999: no such request" in err and f"{mailed}: already marked mailed" in err
    with loaded_runtime.sessions() as session:
        assert session.get(PinRequest, maria).status == "open"


def _messages(loaded_runtime):
    common = dict(person_id="P-1001", case_number="CS10000001", office_code="MAN", role="receiving",
                  channel="sms", sender="+12125550111", body="Please call me")
    with loaded_runtime.sessions.begin() as session:
        session.add_all([
            OfficeMessage(reference="R-1", status="failed", attempts=10, last_error="550 mailbox unavailable",
                          next_attempt_at=NOW, created_at=NOW - dt.timedelta(days=1), **common),
            OfficeMessage(reference="R-2", status="queued", attempts=2, next_attempt_at=NOW + dt.timedelta(hours=1),
                          created_at=NOW - dt.timedelta(hours=5), **common),
            OfficeMessage(reference="R-3", status="mailed", attempts=1, next_attempt_at=NOW,
                          created_at=NOW - dt.timedelta(hours=4), sent_at=NOW - dt.timedelta(hours=4), **common),
        ])
    with loaded_runtime.sessions() as session:
        return {m.reference: m.id for m in session.scalars(select(OfficeMessage))}


def test_office_messages_list(loaded_runtime, capsys):
    _messages(loaded_runtime)
    assert main(["office-messages", "list"]) == 0
    out = capsys.readouterr().out
    assert "R-1" in out and "R-2" in out and "R-3" not in out
    assert "550 mailbox unavailable" in out and "CS10000001" in out and "failed" in out
    assert main(["office-messages", "list", "--all"]) == 0
    assert "R-3" in capsys.readouterr().out


def test_office_messages_retry(loaded_runtime, capsys):
    ids = _messages(loaded_runtime)
    before = dt.datetime.now(dt.UTC)
    assert main(["office-messages", "retry", str(ids["R-1"]), str(ids["R-2"])]) == 0
    assert "queued 2 messages again" in capsys.readouterr().out
    with loaded_runtime.sessions() as session:
        for ref in ("R-1", "R-2"):
            message = session.get(OfficeMessage, ids[ref])
            assert (message.status, message.attempts) == ("queued", 0)
            assert message.next_attempt_at >= before - dt.timedelta(seconds=1)
            assert message.next_attempt_at <= dt.datetime.now(dt.UTC)
        assert session.get(OfficeMessage, ids["R-1"]).last_error == "550 mailbox unavailable"


def test_office_messages_retry_refuses_sent_and_unknown(loaded_runtime, capsys):
    ids = _messages(loaded_runtime)
    assert main(["office-messages", "retry", str(ids["R-1"]), str(ids["R-3"]), "777"]) == 1
    err = capsys.readouterr().err
    assert f"{ids['R-3']}: already sent" in err and "777: no such message" in err
    with loaded_runtime.sessions() as session:
        assert session.get(OfficeMessage, ids["R-1"]).status == "failed"


def test_lockouts_list_and_unlock(loaded_runtime, capsys):
    with loaded_runtime.sessions.begin() as session:
        session.add_all([
            AccountLock(person_id="P-1002", consecutive_failures=5, locked_until=NOW + dt.timedelta(minutes=20)),
            AccountLock(person_id="P-1004", consecutive_failures=5, locked_until=NOW - dt.timedelta(minutes=1)),
            AccountLock(person_id="P-1005", consecutive_failures=2, locked_until=None),
        ])
    assert main(["lockouts", "list"]) == 0
    out = capsys.readouterr().out
    assert "P-1002" in out and "James Carter" in out and "P-1004" not in out and "P-1005" not in out
    assert (NOW + dt.timedelta(minutes=20)).isoformat().replace("+00:00", "Z") in out

    assert main(["lockouts", "unlock", "P-1002"]) == 0
    assert "unlocked P-1002" in capsys.readouterr().out
    with loaded_runtime.sessions() as session:
        lock = session.get(AccountLock, "P-1002")
        assert (lock.locked_until, lock.consecutive_failures) == (None, 0)
    assert main(["lockouts", "list"]) == 0
    assert "no locked accounts" in capsys.readouterr().out


@pytest.mark.parametrize("person,message", [("P-1005", "person 'P-1005' is not locked"),
                                            ("P-1004", "person 'P-1004' is not locked"),
                                            ("P-9", "no person with id 'P-9'")])
def test_unlock_errors(loaded_runtime, capsys, person, message):
    with loaded_runtime.sessions.begin() as session:
        session.add(AccountLock(person_id="P-1004", consecutive_failures=5, locked_until=NOW - dt.timedelta(minutes=1)))
        session.add(AccountLock(person_id="P-1005", consecutive_failures=2, locked_until=None))
    assert main(["lockouts", "unlock", person]) == 1
    assert capsys.readouterr().err == f"csbot: error: {message}\n"


def test_audit_list(loaded_runtime, capsys):
    with loaded_runtime.sessions.begin() as session:
        session.add_all([
            AuditRecord(person_id="P-1001", channel="sms", sender="+12125550111", record_kind="payments",
                        at=NOW - dt.timedelta(days=3)),
            AuditRecord(person_id="P-1001", channel="telegram", sender="5550001", record_kind="statement",
                        at=NOW - dt.timedelta(hours=1)),
            AuditRecord(person_id="P-1003", channel="sms", sender="+17185550133", record_kind="balance", at=NOW),
        ])
    assert main(["audit", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "balance" in lines[2] and "statement" in lines[3] and "payments" in lines[4]
    assert main(["audit", "list", "--person", "P-1001"]) == 0
    out = capsys.readouterr().out
    assert "P-1003" not in out and "5550001" in out and "telegram" in out
    since = (NOW - dt.timedelta(days=1)).date().isoformat()
    assert main(["audit", "list", "--person", "P-1001", "--since", since]) == 0
    out = capsys.readouterr().out
    assert "statement" in out and "payments" not in out
    assert main(["audit", "list", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "balance" in out and "statement" not in out and "newest 1 shown" in out
    assert main(["audit", "list", "--since", "yesterday"]) == 2
    assert "--since must be a date YYYY-MM-DD" in capsys.readouterr().err


def test_empty_queues(loaded_runtime, capsys):
    assert main(["pin-requests", "list"]) == 0
    assert "no open PIN re-mail requests" in capsys.readouterr().out
    assert main(["pin-requests", "export"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header alone
    assert main(["office-messages", "list"]) == 0
    assert "no unsent office messages" in capsys.readouterr().out
    assert main(["audit", "list"]) == 0
    assert "no audit records" in capsys.readouterr().out


def test_staff_commands_need_the_secret_key(sqlite_url, make_settings, monkeypatch, capsys):
    make_settings(sqlite_url)
    monkeypatch.delenv("CSBOT_SECRET_KEY")
    assert main(["lockouts", "list"]) == 2
    assert "CSBOT_SECRET_KEY is not set" in capsys.readouterr().err


def test_lockouts_list_shows_the_wrong_pins_that_locked_the_account(loaded_runtime, capsys):
    from tests.support.dialog_harness import JAMES, make_bot

    bot = make_bot(loaded_runtime)
    bot.clock.now = dt.datetime.now(dt.UTC)  # `lockouts list` compares with the real time
    for _ in range(5):
        bot.say("BALANCE")
        bot.say(JAMES["ssn"])
        bot.say("00000")
    assert main(["lockouts", "list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("P-1002"))
    assert row.split()[-1] == "5"
    # After the lock runs out, counting starts again from one.
    bot.clock.advance(minutes=31)
    bot.say("BALANCE")
    bot.say(JAMES["ssn"])
    bot.say("00000")
    with loaded_runtime.sessions() as session:
        lock = session.get(AccountLock, "P-1002")
        assert lock.consecutive_failures == 1 and lock.locked_until is None


def test_a_reader_that_stops_early_gets_no_traceback(loaded_runtime, tmp_path):
    """`csbot office-messages list --all | head -1` with more rows than a pipe holds."""
    import subprocess

    from tests.support.serve_process import csbot_command, csbot_env

    with loaded_runtime.sessions.begin() as session:
        session.add_all(
            OfficeMessage(
                reference=f"OM-{n:08d}", person_id="P-1001", case_number="CS10000001", office_code="MAN",
                role="receiving", channel="sms", sender="+12125550100", body="x", status="queued",
                attempts=0, next_attempt_at=NOW, created_at=NOW,
            )
            for n in range(3000)
        )
    env = csbot_env(loaded_runtime.settings.database_url)
    command = " ".join(csbot_command()) + " office-messages list --all | head -1"
    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("id")
    assert result.stderr == ""
