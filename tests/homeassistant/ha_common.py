"""Shared constants and helpers of the Home Assistant suite (imported as a top-level module:
this folder has no __init__.py, so it can never shadow the `homeassistant` package)."""

from __future__ import annotations

DOMAIN = "kpn_sms_notify"
SENDER = "HomeAlert"
ALICE = "31612345678"
BOB = "31687654321"
