"""What every SMS the bot sends must satisfy (README, GSM-7 and message cost)."""

from __future__ import annotations

from bot.channels.sms.gsm7 import fold_to_gsm7, is_gsm7, segments

# A parent's own words, quoted back as typed (Unicode within the budget, whatever it costs).
QUOTES_OF_THE_PARENT = ("You wrote:", "Vous avez écrit")


def within_sms_budget(message: str) -> bool:
    """At most two segments, and GSM-7 unless Unicode costs no more segments than folding (or
    the message quotes the parent's own words)."""
    if segments(message) > 2:
        return False
    return is_gsm7(message) or message.startswith(QUOTES_OF_THE_PARENT) or (
        segments(message) <= segments(fold_to_gsm7(message))
    )
