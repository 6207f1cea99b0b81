"""Bulk: one alert to many recipients from a fresh process (bench.bulk_child), measuring
throughput against the emulator's rate limit R and the client's RSS growth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from .emulator_proc import EmulatorProcess, delta

ROOT = Path(__file__).resolve().parent.parent


def run_bulk(emu: EmulatorProcess, count: int, rate: float, concurrency: int) -> dict[str, Any]:
    """Send to `count` recipients with the emulator and our client both at `rate` per
    second. By Little's law the client needs about R x latency requests in flight: its
    max_concurrency must exceed that or it, not R, sets the pace."""
    saved_rate = emu.knobs["rate_limit"]
    emu.reset()
    emu.configure(rate_limit=rate)
    try:
        before = emu.counters()
        emu_cpu = _cpu_seconds(emu.pid)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bulk_child",
                emu.url,
                str(count),
                str(rate),
                str(concurrency),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=3600,
        )
        if out.returncode != 0:
            raise RuntimeError(f"bulk child failed: {out.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        emu_cpu = _cpu_seconds(emu.pid) - emu_cpu
        after = emu.counters()
    finally:
        emu.configure(rate_limit=saved_rate)
    counts = delta(
        before, after, "token_requests", "send_requests", "accepted", "http_429", "status_1"
    )
    latency = float(emu.knobs["latency"])
    ideal = (count - 1) / rate + latency  # the physical limit for `count` sends
    throughput = result["accepted"] / result["elapsed"]
    return {
        **result,
        "rate_limit": rate,
        "max_concurrency": concurrency,
        "emulator": {
            **counts,
            "peak_in_flight": after["peak_in_flight"],
            "cpu_s": round(emu_cpu, 2),
        },
        "client_cpu_share": round(result["client_cpu_s"] / result["elapsed"], 3),
        "ideal_elapsed": round(ideal, 3),
        "throughput_per_s": round(throughput, 2),
        "throughput_vs_r": round(throughput / rate, 4),
    }


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)
