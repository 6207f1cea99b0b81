"""Client overhead: process CPU time per message, our client against a bare httpx POST loop
sending the same requests to the same emulator with the same concurrency.

The emulator runs in another process, so `time.process_time()` here counts only the client
side. The emulator's rate limit is lifted for this section (and our client's set above
what the run can reach) so the limiter never waits: CPU per message does not depend on it,
and the runs stay short. Latency stays at 50 ms.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from . import peers
from .emulator_proc import EMU_CLIENT_ID, EMU_CLIENT_SECRET, EmulatorProcess
from .stats import rotated, summary

CONCURRENCY = 10  # our client's default max_concurrency; the bare loop uses the same


async def _bare_loop(http: httpx.AsyncClient, token: str, recipients: list[str]) -> None:
    """What any client must do at the least: a form POST with a bearer, JSON answer read."""
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(number: str) -> None:
        async with slots:
            answer = await http.post(
                peers.SEND_PATH,
                headers={"Authorization": f"Bearer {token}"},
                data={
                    "from": peers.SENDER,
                    "to": number,
                    "text": f"{peers.TITLE}\n{peers.TEXT}",
                    "type": "text",
                },
            )
        if answer.json()["messages"][0]["status"] != "0":
            raise RuntimeError(f"bare loop: {answer.text}")

    await asyncio.gather(*(one(n) for n in recipients))


def run_cpu(
    emu: EmulatorProcess, messages: int, reps: int, profile_to: Path | None = None
) -> dict[str, Any]:
    from kpn_sms_notify import KpnSms, validate_config

    saved_rate = emu.knobs["rate_limit"]
    emu.configure(rate_limit=None)
    loop = asyncio.new_event_loop()
    recipients = peers.numbers(messages)
    try:
        sms = KpnSms.from_config(
            validate_config(
                peers.ours_config(emu.url, rate_limit=1000, max_concurrency=CONCURRENCY)
            )
        )
        http = httpx.AsyncClient(base_url=emu.url, timeout=10)
        token = loop.run_until_complete(
            http.post(
                peers.TOKEN_PATH,
                params={"grant_type": "client_credentials"},
                data={"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET},
            )
        ).json()
        bearer = token["access_token"]

        def ours() -> None:
            report = loop.run_until_complete(sms.send(peers.TEXT, recipients, title=peers.TITLE))
            if not report.ok:
                raise RuntimeError(f"cpu bench: {len(report.failed)} failed")

        def bare() -> None:
            loop.run_until_complete(_bare_loop(http, bearer, recipients))

        cases = {"ours": ours, "bare_httpx": bare}
        for case in cases.values():  # warm-up: connections, code paths, token
            case()
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        wall: dict[str, list[float]] = {name: [] for name in cases}
        for rep in range(reps):
            for name in rotated(list(cases), rep):
                c0, w0 = time.process_time(), time.perf_counter()
                cases[name]()
                cpu[name].append((time.process_time() - c0) / messages * 1e6)
                wall[name].append(time.perf_counter() - w0)
        if profile_to is not None:
            _profile(ours, profile_to / "profile_cpu_ours.txt")
            _profile(bare, profile_to / "profile_cpu_bare.txt")
        loop.run_until_complete(sms.close())
        loop.run_until_complete(http.aclose())
    finally:
        loop.close()
        emu.configure(rate_limit=saved_rate)
    ours_us, bare_us = summary(cpu["ours"], 1), summary(cpu["bare_httpx"], 1)
    return {
        "messages_per_run": messages,
        "reps": reps,
        "concurrency": CONCURRENCY,
        "cpu_us_per_message": {"ours": ours_us, "bare_httpx": bare_us},
        "wall_s_per_run": {k: summary(v, 3) for k, v in wall.items()},
        "ratio": round(ours_us["median"] / bare_us["median"], 3),
    }


def _profile(run: Any, path: Path) -> None:
    """One extra, uncounted run under pyinstrument, kept for the report."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    run()
    profiler.stop()
    path.write_text(profiler.output_text(unicode=False, show_all=False))
