"""Fan-out: one alert to N recipients, each contender timed end to end, alternating, in one
process. The emulator is reset per N (so a warm client is re-made per N) and not between
runs; each run is checked against the emulator's counters (every recipient accepted)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import peers
from .emulator_proc import EmulatorProcess, delta
from .stats import rotated, summary

COUNTERS = (
    "token_requests",
    "send_requests",
    "accepted",
    "http_429",
    "status_1",
    "vonage_requests",
    "peak_in_flight",
)
# apprise's vonage:// waits 5.5 s between requests (URLBase.throttle, request_rate_per_sec).
APPRISE_GAP = 5.5
# A peer whose predicted time exceeds this is measured at fewer recipients (issue 6).
PEER_BUDGET = 60.0

LABELS = {
    "ours_warm": "ours (KpnSms, client kept: token cached)",
    "ours_cold": "ours (new KpnSms per alert: token fetched)",
    "ours_apprise": "ours via Apprise (kpnsms://)",
    "apprise_vonage": "Apprise built-in vonage://",
    "vonage_sdk": "Vonage Python SDK (sms.send per recipient)",
    "naive": "naive script (sequential httpx, token per message)",
}


@dataclass
class Contender:
    name: str
    run: Callable[[Sequence[str]], None]
    predict: Callable[[int], float]  # rough seconds for N, to keep a peer under PEER_BUDGET
    max_reps: int | None = None  # fewer repetitions for a slow peer


def run_fanout(
    emu: EmulatorProcess,
    sizes: Sequence[int],
    reps: int,
    slow_reps: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    rate = float(emu.knobs["rate_limit"])
    loop = asyncio.new_event_loop()
    try:
        t_one = peers.one_send_time(emu.url)
        contenders = [
            Contender("ours_warm", lambda _: None, lambda n: 0.0),  # replaced per N below
            Contender("ours_cold", peers.ours_cold(loop, emu.url), lambda n: n / rate),
            Contender("ours_apprise", peers.ours_apprise(emu.url), lambda n: n / rate),
            Contender(
                "apprise_vonage",
                peers.apprise_vonage(emu.url),
                lambda n: (n - 1) * APPRISE_GAP,
                max_reps=slow_reps,
            ),
            Contender("vonage_sdk", peers.vonage_sdk(emu.url), lambda n: n * t_one),
            Contender("naive", peers.naive_script(emu.url), lambda n: 2 * n * t_one),
        ]
        raw: dict[str, dict[int, list[dict[str, Any]]]] = {c.name: {} for c in contenders}
        for n in sizes:
            emu.reset()
            warm = peers.OursWarm(loop, emu.url)
            contenders[0].run = warm
            try:
                for rep in range(reps):
                    for c in rotated(contenders, rep):
                        if c.predict(n) > PEER_BUDGET:
                            continue
                        if c.max_reps is not None and rep >= c.max_reps:
                            continue
                        raw[c.name].setdefault(n, []).append(_one_run(emu, c, n, rate))
                        last = raw[c.name][n][-1]
                        log(
                            f"  fan-out N={n:<4} rep {rep + 1}/{reps} {c.name:<15} "
                            f"{last['elapsed']:8.3f} s"
                        )
            finally:
                warm.close()
    finally:
        loop.close()
    return _summarise(raw, sizes, rate, t_one, reps, slow_reps)


def _one_run(emu: EmulatorProcess, c: Contender, n: int, rate: float) -> dict[str, Any]:
    recipients = peers.numbers(n)
    before = emu.counters()
    started = time.perf_counter()
    c.run(recipients)
    elapsed = time.perf_counter() - started
    after = emu.counters()
    counts = delta(before, after, *COUNTERS)
    counts["peak_in_flight"] = after["peak_in_flight"]  # a high-water mark, not a count
    if counts["accepted"] != n:
        raise RuntimeError(f"{c.name} N={n}: emulator accepted {counts['accepted']}, not {n}")
    # Let the emulator's token bucket (burst = R) refill before the next contender.
    time.sleep(min(1.0, n / rate) + 0.1)
    return {"elapsed": elapsed, **counts}


def _summarise(
    raw: dict[str, dict[int, list[dict[str, Any]]]],
    sizes: Sequence[int],
    rate: float,
    t_one: float,
    reps: int,
    slow_reps: int,
) -> dict[str, Any]:
    limit = {n: t_one + (n - 1) / rate for n in sizes}
    out: dict[str, Any] = {
        "rate_limit": rate,
        "t_one_send": round(t_one, 4),
        "sizes": list(sizes),
        "reps": reps,
        "slow_peer_reps": slow_reps,
        "peer_budget_s": PEER_BUDGET,
        "limit": {str(n): round(v, 4) for n, v in limit.items()},
        "labels": LABELS,
        "contenders": {},
    }
    for name, by_n in raw.items():
        entry: dict[str, Any] = {}
        for n in sizes:
            runs = by_n.get(n)
            if not runs:
                continue
            times = [r["elapsed"] for r in runs]
            entry[str(n)] = {
                **summary(times),
                "x_limit": round(summary(times)["median"] / limit[n], 3),
                "token_requests": max(r["token_requests"] for r in runs),
                "send_requests": max(r["send_requests"] for r in runs),
                "throttled": sum(r["http_429"] + r["status_1"] for r in runs),
                "extrapolated": False,
            }
        _extrapolate(entry, sizes, limit)
        out["contenders"][name] = entry
    return out


def _extrapolate(entry: dict[str, Any], sizes: Sequence[int], limit: dict[int, float]) -> None:
    """Sizes a slow peer skipped: a straight line through its measured medians (its time is
    linear in N: one throttled request after another), clearly marked extrapolated."""
    measured = sorted(int(n) for n in entry)
    if not measured or len(measured) == len(sizes):
        return
    lo, hi = measured[0], measured[-1]
    t_lo = entry[str(lo)]["median"]
    per = APPRISE_GAP if hi == lo else (entry[str(hi)]["median"] - t_lo) / (hi - lo)
    for n in sizes:
        if n in measured:
            continue
        value = t_lo + per * (n - lo)
        entry[str(n)] = {
            "median": round(value, 2),
            "runs": 0,
            "extrapolated": True,
            "x_limit": round(value / limit[n], 1),
            "from_sizes": measured,
            "seconds_per_recipient": round(per, 4),
        }
