"""The daily check inside `csbot serve` / `csbot worker` (once a local day, at start and when the
date changes) and `csbot alerts check-due`; an alert queued for a number that later opted out
is suppressed when its turn comes, with the reason."""

from __future__ import annotations

import datetime as dt

from bot.alerts.delivery import dispatch
from bot.alerts.runner import AlertsComponent, CheckReport
from bot.cli import main
from bot.outbound.queue import OutboundPolicy, claim_batch
from bot.store.models import SmsOptOut
from tests.alerts.conftest import NOV_26, alerts, disbursement, events, extract, import_at, messages, turn_on
from tests.support.dialog_harness import JAMES, MARIA


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_background_check_runs_once_a_local_day(example_long_ago):
    runtime = example_long_ago
    turn_on(runtime, JAMES, sender="+12125550122")
    clock = Clock(dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC))  # Nov 27, 23:00 in New York
    component = AlertsComponent(runtime, clock=clock)
    first = component.run_once()
    assert isinstance(first, CheckReport) and first.coupon_events == 1  # due Nov 28 (Aminata's case 0003)
    clock.now += dt.timedelta(minutes=30)
    assert not isinstance(component.run_once(), CheckReport)  # the same local day: dispatch only
    clock.now += dt.timedelta(hours=1)  # 00:30 on Nov 28 in New York: a new day
    second = component.run_once()
    assert isinstance(second, CheckReport) and second.coupon_events == 1  # due Dec 1 (James)
    assert second.dispatched.queued == 1 and "Dec 1" in messages(runtime)[0].payload["text"]
    assert sorted(e.source_key for e in events(runtime)) == ["CS10000001-K1", "CS10000003-K1"]


def test_check_due_command(example_long_ago, capsys):
    # The command uses the wall clock: whatever today is, a second run finds nothing new.
    assert main(["alerts", "check-due"]) == 0
    assert main(["alerts", "check-due"]) == 0
    second = capsys.readouterr().out.strip().splitlines()[-1]
    assert second.startswith("0 coupons due within 3 days newly found; 0 events dispatched")


def test_an_alert_to_a_number_that_opted_out_since_is_suppressed_when_claimed(example_long_ago):
    runtime = example_long_ago
    turn_on(runtime, MARIA)
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")]), NOV_26)
    dispatch(runtime, NOV_26)
    with runtime.sessions.begin() as session:  # opted out elsewhere (e.g. Twilio's own STOP handling)
        session.add(SmsOptOut(phone="+12125550111", opted_out_at=NOV_26))
    assert claim_batch(runtime, NOV_26, OutboundPolicy(), ["sms"]) == []
    (message,) = messages(runtime)
    assert (message.status, message.last_error) == ("suppressed", "opted out")
    assert [(a.status, a.reason) for a in alerts(runtime)] == [("suppressed", "opted out")]
