"""`csbot desk`: its options, and the warning when it would listen beyond loopback without https."""

from __future__ import annotations

import logging

import pytest

from bot.cli import build_parser, main
from bot.commands import desk


def test_the_defaults_are_loopback_8090():
    args = build_parser().parse_args(["desk"])
    assert (args.host, args.port) == ("127.0.0.1", 8090)


def test_a_bad_port_is_named(sqlite_url, make_settings, monkeypatch, capsys):
    make_settings(sqlite_url)
    # configure_logging would bind the root logger to this test's captured stderr
    monkeypatch.setattr(desk, "configure_logging", lambda settings: None)
    assert main(["desk", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "csbot: error: --port must be between 1 and 65535\n"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("10.1.2.3", False), ("desk.internal", False)])
def test_loopback_hosts(host, loopback):
    assert desk._loopback(host) is loopback


def test_listening_beyond_loopback_without_https_warns(sqlite_url, make_settings, monkeypatch, caplog):
    settings = make_settings(sqlite_url)
    monkeypatch.setattr(desk.uvicorn, "run", lambda app, **options: None)  # do not actually listen
    monkeypatch.setattr(desk, "configure_logging", lambda settings: None)  # keep pytest's log capture
    caplog.set_level(logging.WARNING)
    args = build_parser().parse_args(["desk", "--host", "0.0.0.0"])
    assert desk.run(args, settings) == 0
    assert "without CSBOT_DESK_URL=https://" in caplog.text
    caplog.clear()
    secure = make_settings(sqlite_url, CSBOT_DESK_URL="https://desk.agency.example")
    assert desk.run(args, secure) == 0
    assert "without CSBOT_DESK_URL" not in caplog.text
