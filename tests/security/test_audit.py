"""The audit trail end to end (45 CFR 307.13): parents view records through a running
`csbot serve` (SMS, a document link), then `csbot audit list` as staff run it shows each
view with its kind, channel, chat and time, filtered by --person and --since, and never the
data itself."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from tests.support.dialog_harness import JAMES, MARIA
from tests.support.live_service import Sms, both_channels_env, load_example
from tests.support.serve_process import run_csbot, running_serve

pytestmark = pytest.mark.slow

ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def test_audit_list_shows_who_viewed_what_without_the_data(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'csbot.db'}"
    env = both_channels_env(url, None)
    load_example(env)
    with running_serve(env) as server:
        sms = Sms(server)
        maria, james = "+12125552001", "+12125552002"
        sms.verify(maria, MARIA)
        balance = sms.say(maria, "BALANCE")
        sms.say(maria, "PAYMENTS")
        statement = sms.say(maria, "STATEMENT")
        [link] = re.findall(r"/d/[A-Za-z0-9_-]+", statement)
        assert httpx.get(server.url + link, timeout=30).status_code == 200
        sms.verify(james, JAMES)
        sms.say(james, "COUPON")
        sms.close()

    listed = run_csbot(env, "audit", "list", "--person", MARIA["id"])
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if MARIA["id"] in line]
    assert len(lines) >= 4  # balance, payment history, statement, the statement PDF
    for kind in ("balance", "payment_history", "statement", "statement_pdf"):
        assert any(re.search(rf"\b{kind}\b", line) for line in lines), kind
    assert any("sms" in line and maria in line for line in lines)
    assert any("link" in line for line in lines)  # the PDF opened by its link
    assert all(ISO_TIME.search(line) for line in lines)
    # Who and what kind, never the data: no amounts, names, case numbers, SSNs, other people.
    amount = re.search(r"\$[\d,]+\.\d\d", balance).group(0)  # type: ignore[union-attr]
    for data in (amount, "Maria", "Lopez", "CS10000001", MARIA["ssn"], MARIA["pin"], JAMES["id"], james):
        assert data not in listed.stdout, data

    everyone = run_csbot(env, "audit", "list")
    assert JAMES["id"] in everyone.stdout and "coupon" in everyone.stdout

    today = dt.datetime.now(dt.UTC).date()
    since_today = run_csbot(env, "audit", "list", "--since", today.isoformat())
    assert MARIA["id"] in since_today.stdout and JAMES["id"] in since_today.stdout
    tomorrow = run_csbot(env, "audit", "list", "--since", (today + dt.timedelta(days=1)).isoformat())
    assert tomorrow.returncode == 0 and MARIA["id"] not in tomorrow.stdout

    bad = run_csbot(env, "audit", "list", "--since", "last week")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "--since" in bad.stderr
