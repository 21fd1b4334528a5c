"""Quiet hours: when the bot sends nothing first (alerts, office-answer notices).

`CSBOT_QUIET_HOURS` is a local time span `HH:MM-HH:MM` (default 21:00-08:00, which crosses
midnight) in `CSBOT_TIMEZONE` (an IANA name, default America/New_York); `off` means none.
Replies to what a parent just sent are never held. The outbound worker asks `holds(now)`
with its own clock, so a test moves time instead of waiting for it. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
OFF_WORDS = ("", "off", "none")


def _time(hours: str, minutes: str) -> dt.time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError("must be two times of day HH:MM-HH:MM (00:00 to 23:59), e.g. 21:00-08:00, or off")
    return dt.time(h, m)


def parse_quiet_hours(value: str) -> tuple[dt.time, dt.time] | None:
    """'21:00-08:00' -> (21:00, 08:00); 'off' -> None. ValueError says what is wrong."""
    if value.strip().lower() in OFF_WORDS:
        return None
    match = _SPAN.match(value)
    if match is None:
        raise ValueError("must be HH:MM-HH:MM (e.g. 21:00-08:00), or off")
    start, end = _time(match[1], match[2]), _time(match[3], match[4])
    if start == end:
        raise ValueError("the start and the end are the same time: write off for no quiet hours")
    return start, end


def parse_timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as America/New_York") from None


@dataclass(frozen=True)
class QuietHours:
    start: dt.time
    end: dt.time
    zone: ZoneInfo

    @classmethod
    def from_settings(cls, quiet_hours: str, timezone: str) -> QuietHours | None:
        span = parse_quiet_hours(quiet_hours)
        if span is None:
            return None
        return cls(span[0], span[1], parse_timezone(timezone))

    def holds(self, now: dt.datetime) -> bool:
        """Whether `now` (aware) falls within the quiet hours, local time."""
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight

    def ends_after(self, now: dt.datetime) -> dt.datetime:
        """When the quiet hours that hold at `now` end (UTC); `now` itself when they do not hold."""
        if not self.holds(now):
            return now
        local = now.astimezone(self.zone)
        end = dt.datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if end <= local:
            end = dt.datetime.combine(local.date() + dt.timedelta(days=1), self.end, tzinfo=self.zone)
        return end.astimezone(dt.UTC)


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    """The date at `now` in the deployment's time zone (the day an alert's dates count from)."""
    return now.astimezone(parse_timezone(timezone)).date()
