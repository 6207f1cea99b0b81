"""`kpn-sms serve` storage: group-committed append files, the de-duplication window."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kpn_sms_notify.server.appendlog import GroupAppender
from kpn_sms_notify.server.dedupe import SentLog


async def test_concurrent_appends_share_fsyncs_and_all_land(tmp_path: Path) -> None:
    log = GroupAppender(tmp_path / "x.jsonl")
    await asyncio.gather(*(log.append(f'{{"n": {i}}}\n'.encode()) for i in range(200)))
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["n"] for line in lines) == list(range(200))
    assert 1 <= log.flushes < 200  # batched: far fewer fsyncs than records
    assert (tmp_path / "x.jsonl").stat().st_mode & 0o077 == 0  # private: it holds numbers


async def test_append_failure_reaches_every_waiter(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()  # a directory: open() fails
    log = GroupAppender(target)
    results = await asyncio.gather(*(log.append(b"x\n") for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    target.rmdir()
    await log.append(b"ok\n")
    assert target.read_text() == "ok\n"


async def test_sent_log_window_and_persistence(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "sent.jsonl"
    log = SentLog(60, path=path, clock=lambda: now[0])
    await log.mark("notif-1", ["31612345678", "31687654321"])
    assert log.pending("notif-1", ["31612345678", "31611111111"]) == ["31611111111"]
    assert "31612345678" not in path.read_text()  # only hashes on disk
    reloaded = SentLog(60, path=path, clock=lambda: now[0])
    assert reloaded.done("notif-1", "31687654321")
    now[0] += 61
    assert not reloaded.done("notif-1", "31687654321")  # the window has passed
    assert len(SentLog(60, path=path, clock=lambda: now[0])) == 0
    assert path.read_text() == ""  # compacted on load


async def test_sent_log_of_an_older_version_still_matches(tmp_path: Path) -> None:
    # State written when numbers had no "+" still says who was texted once they carry one.
    path = tmp_path / "sent.jsonl"
    await SentLog(60, path=path).mark("notif-1", ["31612345678"])
    reloaded = SentLog(60, path=path)
    assert reloaded.pending("notif-1", ["+31612345678", "+31687654321"]) == ["+31687654321"]


async def test_sent_log_is_bounded_and_compacts(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    log = SentLog(3600, max_entries=500, path=path)
    for i in range(3000):
        await log.mark(f"n{i}", ["31612345678"])
    assert len(log) == 500
    assert len(path.read_text().splitlines()) <= 2500  # rewritten, not ever-growing
    assert log.done("n2999", "31612345678") and not log.done("n0", "31612345678")


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    path.write_text('{"k": "abc", "t": 9999999999}\n{"k": "de')
    log = SentLog(10**10, path=path)
    assert len(log) == 1


@pytest.mark.parametrize("window", [0])
async def test_zero_window_disables_dedupe(window: float) -> None:
    log = SentLog(window)
    await log.mark("n", ["1"])
    assert log.pending("n", ["1"]) == ["1"]
