"""What a feature contributes to the HTTP service: routes plus start and stop hooks."""

from __future__ import annotations

from typing import Protocol

from starlette.routing import BaseRoute


class WebComponent(Protocol):
    routes: list[BaseRoute]

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...
