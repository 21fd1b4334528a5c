"""The python-telegram-bot client csbot's Telegram route runs on: PTB's ExtBot, with one fault
of polling mended.

PTB turns a getUpdates answer into Update objects all at once; one update it cannot read fails
the whole batch, the offset never moves past it, and the Updater asks again at once: Telegram
answers with the same batch, forever, and no later message is ever handled (a tight loop).
Here a batch that fails is read again one update at a time; an update that cannot be read
stands as an empty Update with its update_id, which the route ignores, so the offset moves on.
Only its update_id and the exception's type are logged: its content may hold an SSN.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


class CsbotBot(ExtBot[int]):  # AIORateLimiter's per-request argument is an int (its retries)
    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,
        allowed_updates: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        try:
            return await super().get_updates(offset, limit, timeout, allowed_updates, **kwargs)
        except TelegramError:
            raise  # the network, Telegram's refusals: the Updater's retry loop handles these
        except Exception as exc:
            log.warning("Telegram: a polled batch could not be read (%s); reading it one update at a time",
                        type(exc).__name__)
        # The same batch again, at once (no long poll), as plain JSON. PTB warns that getUpdates
        # has its own method; that method is what failed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = await self.do_api_request(
                "get_updates", api_kwargs={"offset": offset, "limit": limit, "timeout": 0,
                                           "allowed_updates": list(allowed_updates or [])}
            )
        return tuple(self._readable(item) for item in raw if isinstance(item, dict)
                     and isinstance(item.get("update_id"), int))

    def _readable(self, item: dict[str, Any]) -> Update:
        try:
            update = Update.de_json(item, self)
        except Exception as exc:
            log.warning("Telegram: update %d cannot be read (%s); skipped", item["update_id"], type(exc).__name__)
            update = Update(update_id=item["update_id"])
            update.set_bot(self)
        return update
