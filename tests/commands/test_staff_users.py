"""`csbot staff-users`: accounts for the staff desk. Bad input is an error naming what is wrong;
the password never appears in any output or log."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.store.models import StaffUser, StaffUserOffice

PASSWORD = "correct horse battery staple"


def _csbot(monkeypatch, capsys, *args: str, stdin: str = f"{PASSWORD}\n") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_add_list_disable_and_reset(loaded_runtime, monkeypatch, capsys):
    assert _csbot(monkeypatch, capsys, "staff-users", "add", "clerk", "--office", "MAN", "BKN") == (
        0, "added staff user clerk (BKN, MAN)\n", "")
    assert _csbot(monkeypatch, capsys, "staff-users", "add", "boss", "--all-offices", "--supervisor")[1] == (
        "added supervisor user boss (every office)\n")
    status, out, _ = _csbot(monkeypatch, capsys, "staff-users", "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["username", "offices"]
    assert lines[2].split()[:3] == ["boss", "all", "yes"] and lines[3].split()[:3] == ["clerk", "BKN,MAN", "no"]
    assert lines[-1] == "2 staff users"
    with loaded_runtime.sessions() as session:
        clerk = session.scalar(select(StaffUser).where(StaffUser.username == "clerk"))
        offices = set(session.scalars(select(StaffUserOffice.office_code).where(StaffUserOffice.user_id == clerk.id)))
    assert offices == {"MAN", "BKN"} and clerk.password_hash.startswith("$argon2id$")
    assert _csbot(monkeypatch, capsys, "staff-users", "disable", "clerk")[0] == 0
    assert _csbot(monkeypatch, capsys, "staff-users", "reset-password", "boss",
                  stdin="another good password\n")[0] == 0
    with loaded_runtime.sessions() as session:
        users = {u.username: u for u in session.scalars(select(StaffUser))}
    assert users["clerk"].disabled_at is not None and users["clerk"].session_version == 2
    assert users["boss"].session_version == 2 and users["boss"].password_hash != clerk.password_hash


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "x", "--office", "MAN"), "short pw\n", "the password is too short: use at least 12 characters"),
        (("add", "x", "--office", "MAN", "ZZZ", "QQ"), f"{PASSWORD}\n", "unknown office codes: QQ, ZZZ (known: BKN, MAN)"),
        (("add", "x", "--office", "MAN"), "", "no password on standard input; nothing was changed"),
        (("add", "Bad Name!", "--office", "MAN"), f"{PASSWORD}\n", "bad username 'Bad Name!'"),
        (("disable", "nobody"), "", "no staff user named 'nobody'"),
        (("reset-password", "nobody"), f"{PASSWORD}\n", "no staff user named 'nobody'"),
        (("reset-password", "clerk"), "tooshort\n", "the password is too short"),
    ],
)
def test_bad_input_is_named_and_the_password_never_shown(loaded_runtime, monkeypatch, capsys, caplog, args, stdin, message):
    caplog.set_level(logging.DEBUG)
    assert _csbot(monkeypatch, capsys, "staff-users", "add", "clerk", "--office", "MAN")[0] == 0
    status, out, err = _csbot(monkeypatch, capsys, "staff-users", *args, stdin=stdin)
    assert status != 0 and out == ""
    assert err.startswith("csbot: error: ") and message in err
    typed = stdin.strip()
    if typed:
        assert typed not in err and typed not in caplog.text


def test_a_duplicate_username_is_refused(loaded_runtime, monkeypatch, capsys):
    assert _csbot(monkeypatch, capsys, "staff-users", "add", "clerk", "--office", "MAN")[0] == 0
    status, _, err = _csbot(monkeypatch, capsys, "staff-users", "add", "clerk", "--all-offices")
    assert (status, err) == (1, "csbot: error: a staff user named 'clerk' already exists\n")


def test_office_and_all_offices_are_exclusive_and_one_is_required(loaded_runtime, monkeypatch, capsys):
    for args in (("add", "x"), ("add", "x", "--office", "MAN", "--all-offices")):
        with pytest.raises(SystemExit) as exited:
            _csbot(monkeypatch, capsys, "staff-users", *args)
        assert exited.value.code == 2


def test_audit_list_shows_desk_actions_with_their_staff_user_and_detail(loaded_runtime, monkeypatch, capsys):
    import datetime as dt

    from bot.desk.audit import Action, record

    with loaded_runtime.sessions.begin() as session:
        record(session, "maria.k", Action.ANSWER, dt.datetime.now(dt.UTC), person_id="P-1001", detail="OM-2F7KAB3C")
    status, out, _ = _csbot(monkeypatch, capsys, "audit", "list", "--person", "P-1001")
    assert status == 0
    assert out.splitlines()[0].split()[-1] == "detail"
    assert out.splitlines()[2].split()[-5:] == ["desk", "maria.k", "desk", "answer", "OM-2F7KAB3C"]


def test_a_supervisor_sees_every_office(loaded_runtime, monkeypatch, capsys):
    status, out, _ = _csbot(monkeypatch, capsys, "staff-users", "add", "lead", "--office", "MAN", "--supervisor")
    assert (status, out) == (0, "added supervisor user lead (every office)\n")
    import datetime as dt

    from bot.desk.auth import sign_in
    with loaded_runtime.sessions.begin() as session:
        staff = sign_in(session, "lead", PASSWORD, dt.datetime.now(dt.UTC)).staff
    assert staff is not None and staff.offices is None and staff.may_see("BKN")
