"""aiohttp application keys shared by the route modules."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from .state import EmulatorState
from .webhooks import Deliverer


class Controls(Protocol):
    """What the control routes need from the Emulator (server.py imports app.py)."""

    def snapshot(self) -> dict[str, Any]: ...
    def configure(self, **knobs: Any) -> None: ...
    def reset(self) -> None: ...
    def expire_tokens(self) -> int: ...
    def inject_inbound(
        self,
        msisdn: str,
        text: str,
        to: str | None = None,
        *,
        concat_parts: int | None = None,
        duplicate: bool = False,
        reverse_parts: bool = False,
    ) -> dict[str, Any]: ...


STATE = web.AppKey("state", EmulatorState)
DELIVERER = web.AppKey("deliverer", Deliverer)
EMULATOR = web.AppKey("emulator", Controls)
