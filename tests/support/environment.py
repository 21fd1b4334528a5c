"""The process environment for a csbot command, kept free of pytest (and of httpx) so that a
benchmark measuring its own process can import it without loading them."""

from __future__ import annotations

import os

from tests.support.databases import TEST_SECRET_KEY

_OWN_PREFIXES = ("CSBOT_", "TWILIO_", "TELEGRAM_")


def csbot_env(database_url: str, **variables: str) -> dict[str, str]:
    """The process environment for a csbot command: inherited PATH etc., none of the
    developer's own csbot settings, the test secret key, the given variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env["CSBOT_DATABASE_URL"] = database_url
    env["CSBOT_SECRET_KEY"] = TEST_SECRET_KEY
    env["PYTHONUNBUFFERED"] = "1"
    # No quiet hours unless a test sets them: a test must not depend on the time of day.
    env["CSBOT_QUIET_HOURS"] = "off"
    env.update(variables)
    return env
