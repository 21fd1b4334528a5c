"""Events from `csbot import` and the daily coupon check, and their dispatch into alerts:
new and recent records only, once per person and source record, one alert per person, kind,
day and chat; nothing lost or doubled by a crash. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.alerts import delivery
from bot.alerts.delivery import dispatch
from bot.alerts.runner import check_due
from bot.conversation.turn import Channel
from bot.importer import write
from tests.alerts.conftest import (
    LONG_AGO,
    NOV_26,
    alerts,
    disbursement,
    events,
    extract,
    import_at,
    messages,
    payment,
    turn_on,
)
from tests.support.databases import EXAMPLE_EXTRACT
from tests.support.dialog_harness import AMINATA, CLAUDE, JAMES, MARIA, make_bot

NOV_20 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def test_an_import_records_new_payments_and_disbursements_of_the_last_7_days(runtime):
    report = import_at(runtime, str(EXAMPLE_EXTRACT), NOV_20)
    found = {(e.person_id, e.kind, e.source_key, e.event_date.isoformat()) for e in events(runtime)}
    assert found == {
        ("P-1001", "payment_sent", "CS10000001-D5", "2026-11-17"),  # receiving parents
        ("P-1003", "payment_sent", "CS10000002-D2", "2026-11-16"),
        ("P-1005", "payment_sent", "CS10000003-D1", "2026-11-18"),
        ("P-1002", "payment_received", "CS10000001-R5", "2026-11-14"),  # paying parents
        ("P-1004", "payment_received", "CS10000002-R2", "2026-11-13"),
        ("P-1003", "payment_received", "CS10000003-R1", "2026-11-14"),
    }  # the 10 older payments and disbursements are not alerted
    assert report.alert_events == 6


def test_reimport_replace_and_backfill_record_nothing_new(example_long_ago):
    runtime = example_long_ago
    assert events(runtime) == []  # nothing in the example was recent when it was imported
    new = extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")])
    assert import_at(runtime, new, NOV_26).alert_events == 1
    assert import_at(runtime, new, NOV_26).alert_events == 0  # the same extract again
    assert import_at(runtime, new, NOV_26 + dt.timedelta(days=1), replace=True).alert_events == 0
    backfill = extract(payments=[payment("CS10000001-OLD1", "2026-06-01"), payment("CS10000001-OLD2", "2026-11-18")])
    assert import_at(runtime, backfill, NOV_26).alert_events == 0  # dated more than 7 days ago
    future = extract(payments=[payment("CS10000001-F1", "2026-12-24")])
    assert import_at(runtime, future, NOV_26).alert_events == 0  # not received yet
    assert [e.source_key for e in events(runtime)] == ["CS10000001-D6"]


def test_a_record_removed_by_replace_and_sent_again_alerts_nothing_new(example_long_ago):
    runtime = example_long_ago
    one = extract(payments=[payment("CS10000001-R9", "2026-11-25")])
    import_at(runtime, one, NOV_26)
    import_at(runtime, extract(payments=[payment("CS10000001-R8", "2026-11-20")]), NOV_26, replace=True)
    import_at(runtime, one, NOV_26)  # R9 is new to the live table again, but known as an event
    assert sorted(e.source_key for e in events(runtime)) == ["CS10000001-R8", "CS10000001-R9"]


def test_no_consent_means_no_message_and_a_reason(example_long_ago):
    runtime = example_long_ago
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")]), NOV_26)
    report = dispatch(runtime, NOV_26)
    assert (report.events, report.queued, report.suppressed) == (1, 0, 1)
    (alert,) = alerts(runtime)
    assert (alert.status, alert.reason, alert.channel, alert.recipient) == ("suppressed", "no consent", "", "")
    assert messages(runtime) == [] and dispatch(runtime, NOV_26).events == 0


def test_a_consenting_chat_gets_one_alert_in_its_language(example_long_ago):
    runtime = example_long_ago
    turn_on(runtime, MARIA)  # +12125550111, English
    turn_on(runtime, CLAUDE, sender="+17185550144", word="ALERTES OUI")
    turn_on(runtime, MARIA, sender="4242", channel=Channel.TELEGRAM)
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")],
                               payments=[payment("CS10000002-R3", "2026-11-24", case="CS10000002")]), NOV_26)
    report = dispatch(runtime, NOV_26)
    assert (report.events, report.queued, report.suppressed) == (2, 3, 0)
    by_chat = {(m.channel, m.recipient): m.payload for m in messages(runtime)}
    assert by_chat[("sms", "+12125550111")]["text"] == (
        "NYS Child Support: a payment was sent to you on Nov 25. Send BALANCE to see it (PIN needed)."
        " Send ALERTS OFF to stop alerts.")
    assert by_chat[("sms", "+17185550144")]["text"].startswith(
        "NYS Child Support : votre paiement du 24 nov. est enregistré. Envoyez SOLDE")
    telegram = by_chat[("telegram", "4242")]
    assert telegram["text"] == by_chat[("sms", "+12125550111")]["text"]
    assert [word for _label, word in telegram["choices"]] == ["BALANCE", "ALERTS OFF"]
    assert all(m.priority == 3 and m.status == "queued" for m in messages(runtime))
    assert {a.status for a in alerts(runtime)} == {"pending"}


def test_a_parent_with_several_cases_gets_one_alert_per_event_not_per_case(example_long_ago):
    runtime = example_long_ago
    second_case = {"case_number": "CS10000004", "office": "MAN", "custodial_parent": "P-1001",
                   "noncustodial_parent": "P-1004", "current_support": {"amount": "100.00", "frequency": "monthly"},
                   "arrears_balance": "0.00"}
    import_at(runtime, extract(cases=[second_case]), LONG_AGO)
    turn_on(runtime, MARIA)
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25"),
                                              disbursement("CS10000004-D1", "2026-11-25", case="CS10000004")]), NOV_26)
    report = dispatch(runtime, NOV_26)
    assert report.events == 2 and report.queued == 1
    assert len(messages(runtime)) == 1


def test_the_daily_check_finds_coupons_due_in_3_days_once(example_long_ago):
    runtime = example_long_ago
    turn_on(runtime, JAMES, sender="+12125550122")
    nov_25 = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)
    assert check_due(runtime, nov_25) == 2  # due Nov 27 and Nov 28 (Claude, Aminata)
    nov_28 = nov_25 + dt.timedelta(days=3)
    assert check_due(runtime, nov_28) == 1  # due Dec 1 (James); the others are not counted again
    assert {(e.person_id, e.source_key) for e in events(runtime)} == {
        ("P-1004", "CS10000002-K1"), ("P-1003", "CS10000003-K1"), ("P-1002", "CS10000001-K1")}
    assert check_due(runtime, nov_28) == 0
    assert check_due(runtime, nov_28 + dt.timedelta(hours=6)) == 0
    report = dispatch(runtime, nov_28)
    (message,) = messages(runtime)  # only James asked for alerts
    assert message.recipient == "+12125550122" and "your next payment is due on Dec 1" in message.payload["text"]
    assert report.queued == 1


def test_a_crash_while_importing_events_loses_and_doubles_nothing(example_long_ago, monkeypatch):
    runtime = example_long_ago
    data = extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")],
                   payments=[payment("CS10000001-R6", "2026-11-25")])
    real = write.record_import_events
    calls = []

    def crash_on_the_second_list(conn, name, *args):
        calls.append(name)
        recorded = real(conn, name, *args)
        if len(calls) == 2:
            raise OSError("the machine went down")
        return recorded

    monkeypatch.setattr(write, "record_import_events", crash_on_the_second_list)
    with pytest.raises(OSError):
        import_at(runtime, data, NOV_26)
    assert events(runtime) == [] and len(calls) == 2  # the events of the first list were rolled back too
    monkeypatch.setattr(write, "record_import_events", real)
    assert import_at(runtime, data, NOV_26).alert_events == 2
    assert import_at(runtime, data, NOV_26).alert_events == 0
    assert len(events(runtime)) == 2


def test_a_crash_while_dispatching_loses_and_doubles_nothing(example_long_ago, monkeypatch):
    runtime = example_long_ago
    turn_on(runtime, MARIA)
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25")]), NOV_26)

    def crash(*args, **kwargs):
        raise OSError("the machine went down")

    with monkeypatch.context() as patched:
        patched.setattr(delivery, "_queue_messages", crash)
        with pytest.raises(OSError):
            dispatch(runtime, NOV_26)
    assert alerts(runtime) == [] and messages(runtime) == [] and events(runtime)[0].dispatched_at is None
    assert dispatch(runtime, NOV_26).queued == 1
    assert dispatch(runtime, NOV_26).events == 0
    assert len(alerts(runtime)) == 1 and len(messages(runtime)) == 1


def test_off_and_stop_suppress_what_was_queued_and_what_comes_next(example_long_ago):
    runtime = example_long_ago
    turn_on(runtime, MARIA)
    turn_on(runtime, AMINATA, sender="+17185550133")
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D6", "2026-11-25"),
                                              disbursement("CS10000002-D3", "2026-11-25", case="CS10000002")]), NOV_26)
    dispatch(runtime, NOV_26)
    bot = make_bot(runtime)
    bot.say("ALERTS OFF", sender="+12125550111")
    bot.say("STOP", sender="+17185550133")
    assert [(a.status, a.reason) for a in alerts(runtime)] == [("suppressed", "opted out")] * 2
    assert [m.status for m in messages(runtime)] == ["suppressed", "suppressed"]
    import_at(runtime, extract(disbursements=[disbursement("CS10000001-D7", "2026-11-26")]), NOV_26)
    dispatch(runtime, NOV_26)
    latest = alerts(runtime)[-1]
    assert (latest.status, latest.reason, latest.recipient) == ("suppressed", "opted out", "+12125550111")
    assert len(messages(runtime)) == 2


@pytest.mark.postgres
def test_two_processes_dispatching_at_once_queue_each_alert_once(postgres_url, runtime_factory):
    """Two dispatchers (as in two `csbot serve` workers) on PostgreSQL: SKIP LOCKED hands each
    its own events, and the alerts' unique key would refuse a second alert anyway."""
    import threading

    from sqlalchemy import insert

    from bot.store.models import AlertConsent, AlertEvent

    runtime = runtime_factory(postgres_url)
    with runtime.write() as session:
        session.execute(insert(AlertConsent), [
            {"person_id": f"B{i:04d}", "channel": "sms", "recipient": f"+1212555{i:04d}", "locale": "en",
             "words_shown": "Alerts are on for this chat.", "given_at": NOV_26} for i in range(400)])
        session.execute(insert(AlertEvent), [
            {"person_id": f"B{i % 400:04d}", "kind": "payment_sent", "source_key": f"D{i}",
             "event_date": dt.date(2026, 11, 20 + i // 400), "recorded_at": NOV_26} for i in range(800)])
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(dispatch(runtime, NOV_26, batch=50))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.events for r in reports) == 800 and sum(r.queued for r in reports) == 800
    assert len(messages(runtime)) == 800 and len(alerts(runtime)) == 800
    assert all(e.dispatched_at is not None for e in events(runtime))
