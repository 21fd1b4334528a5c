"""Background work inside a process (the outbox, the outbound sender, the reply reader): how
one of them stops, the same way for all."""

from __future__ import annotations

import asyncio
import logging


async def stop_within(task: asyncio.Task[None] | None, grace: float, what: str, log: logging.Logger) -> None:
    """Wait up to `grace` seconds for `task` to finish the work in hand (it was told to stop),
    then cancel it; an error it ended with is logged, not raised: stopping must go on."""
    if task is None:
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=grace)
    except TimeoutError:
        task.cancel()
        log.warning("%s did not stop within %.0f s; cancelled", what, grace)
    except Exception:
        log.exception("%s ended with an error", what)
