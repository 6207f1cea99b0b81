"""aiohttp application keys shared by the route modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .state import EmulatorState
from .webhooks import Deliverer

STATE = web.AppKey("state", EmulatorState)
DELIVERER = web.AppKey("deliverer", Deliverer)
EMULATOR = web.AppKey("emulator", Any)  # the Emulator object (server.py imports app.py)
