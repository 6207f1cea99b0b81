"""KPN SMS gateway emulator: a real aiohttp server on 127.0.0.1 that follows KPN's published
spec for the Vonage SMS API (token, /send, /register, phone numbers, webhooks) plus
Vonage-direct /sms/json, with fault knobs for tests and benchmarks.

    from kpn_sms_notify.emulator import Emulator
    with Emulator(latency=0.05) as emu:
        print(emu.url, emu.counters)
"""

from .knobs import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_API_KEY,
    EMU_API_SECRET,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
)
from .server import Emulator, serve

__all__ = [
    "DEFAULT_VIRTUAL_NUMBER",
    "EMU_API_KEY",
    "EMU_API_SECRET",
    "EMU_CLIENT_ID",
    "EMU_CLIENT_SECRET",
    "Emulator",
    "serve",
]
