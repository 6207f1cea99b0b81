"""Webhook load: a real `kpn-sms serve` process on 127.0.0.1 takes a burst of inbound texts
at 1,000 requests/s for 10 s (plus redeliveries), bounded in count and time.

Checks: every request answered 200, every text in the JSONL sink exactly once (redeliveries
dropped), memory (RSS of the server process) bounded. The figures are printed (`-s`) and
kept in docs/reliability.md. No speed assertion here (speed targets live in
bench/): a slower server makes the run longer, not red, within the timeout.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from .support import rss_mb, serve_process

RATE = 1000  # requests per second offered
SECONDS = 10
REDELIVER_EVERY = 20  # every 20th request repeats an earlier messageId (Vonage redelivers)
CONCURRENCY = 1000  # open requests at most (bounded; a slow server slows the offer)
MAX_RSS_GROWTH_MB = 100
PATH_SECRET = "load-test-path-secret-0123456789"
WARM = {f"WARM{i}" for i in range(20)}


def start_serve(tmp: Path, data: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    sink = data / "inbound.jsonl"
    config = tmp / "serve.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "client_id": "load",
                "client_secret": "load-secret",
                "sender": "KPNAlert",
                "base_url": "http://127.0.0.1:9",
                "serve": {
                    "listen": "127.0.0.1:0",
                    "token": "load-test-token",
                    "path_secret": PATH_SECRET,
                    "state_dir": str(data / "state"),
                    "sinks": {"jsonl": str(sink)},
                },
            }
        )
    )
    log = tmp / "serve.log"
    proc, url = serve_process(config, log)
    return proc, url, sink


def payload(i: int) -> dict[str, str]:
    return {
        "msisdn": f"316{10000000 + i % 90000000:08d}",
        "to": "3197012345678",
        "messageId": f"LOAD{i:012X}",
        "text": f"reply {i}",
        "type": "text",
        "keyword": "REPLY",
        "message-timestamp": "2026-01-01 12:00:00",
    }


async def burst(url: str, pid: int) -> dict[str, Any]:
    total = RATE * SECONDS
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    rss: list[float] = []
    slots = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            # Every REDELIVER_EVERY-th request repeats an earlier text's messageId.
            body = payload(i - 7 if i % REDELIVER_EVERY == 0 and i >= 7 else i)
            start = time.perf_counter()
            try:
                async with session.post(f"{url}/inbound/{PATH_SECRET}", json=body) as answer:
                    await answer.read()
                    statuses[answer.status] += 1
            except aiohttp.ClientError as err:
                statuses[-1] += 1
                print("request failed:", type(err).__name__)
            finally:
                latencies.append(time.perf_counter() - start)
                slots.release()

        async def sample() -> None:
            while True:
                rss.append(rss_mb(pid))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        tasks = []
        began = time.perf_counter()
        for i in range(total):
            due = began + i / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()  # the cap: a slow server slows the offered rate
            tasks.append(asyncio.create_task(one(i)))
        sent_in = time.perf_counter() - began
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
        sampler.cancel()
    latencies.sort()
    return {
        "requests": total,
        "send_seconds": sent_in,
        "seconds": elapsed,
        "rate": total / elapsed,
        "statuses": dict(statuses),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": 1000 * latencies[-1],
        "rss_samples": rss,
    }


@pytest.mark.timeout(180)
def test_inbound_burst(tmp_path: Path) -> None:
    proc, url, sink = start_serve(tmp_path, tmp_path)
    try:
        # Warm up (imports, first journal write), then take the baseline.
        asyncio.run(_warm(url))
        baseline = rss_mb(proc.pid)
        result = asyncio.run(burst(url, proc.pid))
        after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    records = [json.loads(line) for line in sink.read_text().splitlines() if line.strip()]
    ids = Counter(r["message_id"] for r in records if r.get("kind") == "inbound")
    expected = {
        payload(i)["messageId"]
        for i in range(RATE * SECONDS)
        if not (i % REDELIVER_EVERY == 0 and i >= 7)
    }
    peak = max(result["rss_samples"] + [after])
    figures = {k: v for k, v in result.items() if k != "rss_samples"}
    figures.update(
        baseline_rss_mb=round(baseline, 1),
        peak_rss_mb=round(peak, 1),
        texts_in_sink=len(ids),
        unique_expected=len(expected),
    )
    print("\nwebhook load:", json.dumps(figures, default=str))
    assert result["statuses"] == {200: RATE * SECONDS}, result["statuses"]
    assert set(ids) - WARM == expected, "texts lost or invented"
    assert max(ids.values()) == 1, "a redelivery reached the sink twice"
    assert peak - baseline < MAX_RSS_GROWTH_MB, figures


async def _warm(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for mid in sorted(WARM):
            body = {**payload(0), "messageId": mid}
            async with session.post(f"{url}/inbound/{PATH_SECRET}", json=body) as answer:
                assert answer.status == 200, await answer.text()
