"""One bulk send in a fresh process (so its RSS is ours alone): `python -m bench.bulk_child
URL N RATE CONCURRENCY` prints a JSON line with elapsed time, results and RSS figures.

RSS is sampled every 20 ms by a thread while `send()` runs; growth is the peak minus the RSS
just before `send()` (interpreter, imports, a warmed client and the recipient list loaded).
The process CPU time of the send is reported too: CPU per message x R above the share of a
core the process gets means the client, not R, sets the pace.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import psutil  # type: ignore[import-untyped]

from bench import peers


def main(url: str, count: int, rate: float, concurrency: int) -> dict[str, object]:
    from kpn_sms_notify import KpnSms, validate_config

    proc = psutil.Process()
    recipients = peers.numbers(count)

    async def run() -> dict[str, object]:
        config = validate_config(
            peers.ours_config(url, rate_limit=rate, max_concurrency=concurrency)
        )
        async with KpnSms.from_config(config) as sms:
            warm = await sms.send(peers.TEXT, peers.numbers(1, 9_500_000), title=peers.TITLE)
            assert warm.ok
            await asyncio.sleep(1.0)  # the emulator's bucket refills after the warm-up
            baseline = proc.memory_info().rss
            peak = [baseline]
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.02):
                    peak[0] = max(peak[0], proc.memory_info().rss)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started, cpu_started = time.perf_counter(), time.process_time()
            report = await sms.send(peers.TEXT, recipients, title=peers.TITLE)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], proc.memory_info().rss)
            return {
                "recipients": count,
                "accepted": len(report.accepted),
                "failed": len(report.failed),
                "reasons": sorted({r.reason or "" for r in report.failed})[:5],
                "retries": sms.session.retries,
                "token_requests": sms.token_requests,
                "elapsed": round(elapsed, 3),
                "client_cpu_s": round(cpu, 2),
                "client_cpu_us_per_message": round(cpu / count * 1e6),
                "rss_baseline_mb": round(baseline / 2**20, 1),
                "rss_peak_mb": round(peak[0] / 2**20, 1),
                "rss_growth_mb": round((peak[0] - baseline) / 2**20, 1),
            }

    return asyncio.run(run())


if __name__ == "__main__":
    url, n, r, c = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(main(url, n, r, c)))
