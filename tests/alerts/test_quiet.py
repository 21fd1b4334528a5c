"""Quiet hours: a local span that may cross midnight, in the deployment's time zone (daylight
saving included), and settings that name the bad variable."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.errors import ConfigError
from bot.outbound.quiet import QuietHours

NY = QuietHours.from_settings("21:00-08:00", "America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize("moment, holds", [
    (utc(2026, 11, 30, 1, 59), False),  # 20:59 EST
    (utc(2026, 11, 30, 2, 0), True),  # 21:00 EST
    (utc(2026, 11, 30, 12, 59), True),  # 07:59 EST
    (utc(2026, 11, 30, 13, 0), False),  # 08:00 EST
    (utc(2026, 11, 30, 1, 0), False),  # 20:00 EST
    (utc(2026, 7, 1, 1, 0), True),  # 21:00 EDT (summer time)
    (utc(2026, 7, 1, 12, 0), False),  # 08:00 EDT
])
def test_quiet_hours_cross_midnight_in_local_time(moment, holds):
    assert NY is not None
    assert NY.holds(moment) is holds


def test_quiet_hours_end_at_the_next_local_end():
    assert NY is not None
    assert NY.ends_after(utc(2026, 11, 30, 3, 0)) == utc(2026, 11, 30, 13, 0)  # 22:00 -> 08:00 EST
    assert NY.ends_after(utc(2026, 11, 30, 12, 0)) == utc(2026, 11, 30, 13, 0)  # 07:00 -> 08:00
    assert NY.ends_after(utc(2026, 11, 30, 15, 0)) == utc(2026, 11, 30, 15, 0)  # not quiet: now


def test_a_span_within_one_day_and_off():
    lunch = QuietHours.from_settings("12:00-13:30", "UTC")
    assert lunch is not None and lunch.holds(utc(2026, 1, 1, 13, 0)) and not lunch.holds(utc(2026, 1, 1, 13, 30))
    assert QuietHours.from_settings("off", "UTC") is None


@pytest.mark.parametrize("env, named", [
    ({"CSBOT_QUIET_HOURS": "9pm-8am"}, "CSBOT_QUIET_HOURS"),
    ({"CSBOT_QUIET_HOURS": "21:00-24:00"}, "CSBOT_QUIET_HOURS"),
    ({"CSBOT_QUIET_HOURS": "08:00-08:00"}, "CSBOT_QUIET_HOURS"),
    ({"CSBOT_TIMEZONE": "Eastern"}, "CSBOT_TIMEZONE"),
    ({"CSBOT_TIMEZONE": "../../etc/passwd"}, "CSBOT_TIMEZONE"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(make_settings, env, named):
    with pytest.raises(ConfigError) as raised:
        make_settings("sqlite:///unused.db", **env)
    assert str(raised.value).startswith(f"{named}: ") and "\n" not in str(raised.value)
