"""The send guard (sendguard.py, storm.py, budget.py) against the emulator: the storm cap
and its digest, the daily budget, the low-balance warning and status 9, with both clients."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from kpn_sms_notify import KpnApiError, KpnSms, KpnSmsSync, KpnValidationError, validate_config
from kpn_sms_notify.budget import SpendBudget
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

ALICE = "+31612345678"
BOB = "+31612345679"
ADMIN = "+31612340000"
T0 = 1_800_000_000.0  # a fixed epoch for the injected clock


class Clock:
    """An injected clock: epoch seconds that move only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _sync(url: str, **options: Any) -> KpnSmsSync:
    return KpnSmsSync(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


def _async(url: str, **options: Any) -> KpnSms:
    return KpnSms(EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=url, sender="KPNAlert", **options)


def _texts_to(emulator: Emulator, number: str) -> list[str]:
    wire = number.lstrip("+")
    return [m["text"] for m in emulator.messages if m["to"] == wire]


# ---------------------------------------------------------------- the storm cap


def test_a_storm_of_100_delivers_the_cap_then_one_digest_after_the_window(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="kpn_sms_notify.guard")
    with _sync(emulator_url, storm_cap=10, storm_window=600) as sms:
        sms.guard.clock = clock
        reports = []
        for i in range(100):
            clock.now = T0 + i * 0.6  # 100 texts in a minute
            reports.append(sms.send(f"[FIRING] DiskFull web{i}", ALICE))
        sent = [r for rep in reports for r in rep.accepted]
        held = [r for rep in reports for r in rep.suppressed]
        assert len(sent) == 10 and len(held) == 90
        assert all(rep.ok and not rep.failed for rep in reports)  # suppressed is no failure
        assert {r.suppressed for r in held} == {"storm"} and all(r.permanent for r in held)
        assert "storm_cap" in (held[0].reason or "")
        assert len(_texts_to(emulator, ALICE)) == 10
        assert sms.send_due() == ()  # the window has not ended: no digest yet
        clock.now = T0 + 600
        digest = sms.send_due()
        assert len(digest) == 1 and digest[0].ok
        assert sms.send_due() == ()  # exactly one
        stats = sms.guard.stats()
    texts = _texts_to(emulator, ALICE)
    assert len(texts) == 11
    assert texts[-1].startswith("90 more alerts since ")
    assert texts[-1].endswith("last: [FIRING] DiskFull web99")
    assert stats.suppressed == {"storm": 90, "budget": 0} and stats.digests == 1
    assert sms.session.suppressed == 90
    # Logged, masked.
    lines = [r.getMessage() for r in caplog.records]
    assert any("+316******78: suppressed (storm)" in line for line in lines)
    assert not any(ALICE in line for line in lines)


def test_the_cap_is_per_recipient_and_a_new_window_opens_after_the_digest(
    emulator: Emulator, emulator_url: str
) -> None:
    clock = Clock()
    with _sync(emulator_url, storm_cap=2, storm_window=60) as sms:
        sms.guard.clock = clock
        for _ in range(3):
            sms.send("ping", [ALICE, BOB])
        assert [len(_texts_to(emulator, n)) for n in (ALICE, BOB)] == [2, 2]
        clock.now = T0 + 60
        sms.send("after", ALICE)  # the next send() sends the ended window's digests first
        digest = f"1 more alert since {time.strftime('%H:%M', time.localtime(T0))}, last: ping"
        assert _texts_to(emulator, ALICE) == ["ping", "ping", digest, "after"]
        assert _texts_to(emulator, BOB) == ["ping", "ping", digest]


def test_storm_cap_0_turns_the_cap_off(emulator: Emulator, emulator_url: str) -> None:
    with _sync(emulator_url, storm_cap=0) as sms:
        reports = [sms.send("x", ALICE) for _ in range(15)]
    assert all(r.accepted for r in reports) and len(_texts_to(emulator, ALICE)) == 15


async def test_the_cap_is_exact_under_concurrency_async(
    emulator: Emulator, emulator_url: str
) -> None:
    async with _async(emulator_url, storm_cap=5, max_concurrency=20) as sms:
        reports = await asyncio.gather(*(sms.send(f"t{i}", ALICE) for i in range(40)))
    assert sum(len(r.accepted) for r in reports) == 5
    assert sum(len(r.suppressed) for r in reports) == 35
    assert len(_texts_to(emulator, ALICE)) == 5


def test_the_cap_is_exact_under_concurrency_sync_threads(
    emulator: Emulator, emulator_url: str
) -> None:
    results: list[int] = []
    lock = threading.Lock()
    with _sync(emulator_url, storm_cap=5) as sms:

        def send(i: int) -> None:
            report = sms.send(f"t{i}", ALICE)
            with lock:
                results.append(len(report.accepted))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert sum(results) == 5 and len(results) == 30
    assert len(_texts_to(emulator, ALICE)) == 5


# ---------------------------------------------------------------- the budget


def test_a_budget_of_1_at_0_075_stops_non_urgent_texts_after_13_parts(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(price_per_part="0.075")
    with _sync(emulator_url, daily_budget=1, storm_cap=0, admins=[ADMIN]) as sms:
        reports = [sms.send(f"text {i}", ALICE) for i in range(20)]
        urgent = sms.send("urgent one", ALICE, urgent=True)
        stats = sms.guard.stats()
    accepted = [r for rep in reports for r in rep.accepted]
    held = [r for rep in reports for r in rep.suppressed]
    assert len(accepted) == 13 and len(held) == 7
    assert {r.suppressed for r in held} == {"budget"}
    assert "daily budget of 1" in (held[0].reason or "")
    assert urgent.accepted  # past the budget, urgent texts still go
    assert stats.spent_today == Decimal("0.075") * 15  # 13, the notice and the urgent one
    assert stats.suppressed["budget"] == 7
    # One notice a day to the admins, however many texts were held back.
    notices = _texts_to(emulator, ADMIN)
    assert len(notices) == 1 and "daily budget of 1.00 is spent" in notices[0]


async def test_the_budget_reached_mid_batch_urgent_still_goes_async(
    emulator: Emulator, emulator_url: str
) -> None:
    numbers = [f"+3161234{i:04d}" for i in range(10)]
    async with _async(emulator_url, daily_budget=0.3, storm_cap=0, max_concurrency=5) as sms:
        first = await sms.send("warm-up", numbers[0])  # the price is known from here on
        batch = await sms.send("batch", numbers)
        late = await sms.send("fire", numbers[:2], urgent=True)
    assert first.accepted
    assert len(batch.accepted) == 3 and len(batch.suppressed) == 7  # 4 x 0.075 = 0.30
    assert len(late.accepted) == 2


def test_the_spent_figure_survives_in_a_budget_store(emulator: Emulator, emulator_url: str) -> None:
    class Memory:
        data: dict[str, Any] | None = None

        def load(self) -> dict[str, Any] | None:
            return self.data

        def save(self, data: dict[str, Any]) -> None:
            self.data = dict(data)

    store = Memory()
    with _sync(emulator_url, daily_budget=0.2, budget_store=store) as sms:
        assert sms.send("a", ALICE).accepted and sms.send("b", ALICE).accepted
    with _sync(emulator_url, daily_budget=0.2, budget_store=store) as again:
        assert again.guard.stats().spent_today == Decimal("0.15")
        assert again.send("c", ALICE).suppressed  # 0.15 + 0.075 > 0.2


def test_a_broken_stored_figure_is_ignored() -> None:
    budget = SpendBudget(Decimal(1))
    budget.restore({"day": "x"}, T0)
    budget.restore({"day": budget.day, "spent": "nope"}, T0)
    assert budget.spent == 0


# ---------------------------------------------------------------- balance and credit


def test_balance_below_the_threshold_warns_once(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.configure(balance="1.00")
    caplog.set_level(logging.WARNING, logger="kpn_sms_notify.guard")
    with _sync(emulator_url, low_balance=0.8, storm_cap=0, admins=[ADMIN]) as sms:
        for _ in range(5):
            sms.send("x", ALICE)
        stats = sms.guard.stats()
    warnings = [r.getMessage() for r in caplog.records if "balance is low" in r.getMessage()]
    assert len(warnings) == 1
    assert stats.low_balance_warnings == 1 and stats.balance is not None
    assert stats.balance < Decimal("0.8")
    notices = _texts_to(emulator, ADMIN)
    assert len(notices) == 1 and "balance is low" in notices[0]


def test_an_empty_balance_answers_status_9_in_plain_words(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(balance="0.10")
    with _sync(emulator_url) as sms:
        assert sms.send("one", ALICE).accepted
        report = sms.send("two", ALICE)
    (result,) = report.failed
    assert isinstance(result.error, KpnApiError) and result.status == "9"
    assert "out of credit" in str(result.error) and "top up" in str(result.error)
    assert result.permanent


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"storm_cap": -1}, "config: storm_cap: value must be at least 0"),
        ({"storm_window": 0}, "config: storm_window: value must be at least 1"),
        ({"daily_budget": "lots"}, "config: daily_budget: expected float"),
        ({"admins": ["12"]}, "config: admins[0]: "),
    ],
)
def test_guard_options_are_checked(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(KpnValidationError) as caught:
        validate_config({"client_id": "id", "client_secret": "s", **options})
    assert str(caught.value).startswith(expected)


# ---------------------------------------------------------------- the figures


async def test_500_texts_in_5_minutes_deliver_the_cap_plus_one_digest_per_window(
    emulator: Emulator, emulator_url: str
) -> None:
    clock = Clock()
    async with _async(emulator_url, storm_cap=10, storm_window=60) as sms:
        sms.guard.clock = clock
        held = 0
        for i in range(500):  # one text every 0.6 s: five windows of 60 s
            clock.now = T0 + i * 0.6
            report = await sms.send(f"[FIRING] Flap {i}", ALICE)
            held += len(report.suppressed)
        clock.now = T0 + 300
        await sms.send_due()
    texts = _texts_to(emulator, ALICE)
    digests = [t for t in texts if " more alerts since " in t]
    assert len(digests) == 5 and len(texts) == 5 * 10 + 5
    assert held == 500 - 50
    assert sum(int(d.split()[0]) for d in digests) == held  # every held-back text summed up


def test_a_budget_of_0_stops_every_text_that_is_not_urgent(
    emulator: Emulator, emulator_url: str
) -> None:
    with _sync(emulator_url, daily_budget=0) as sms:
        assert sms.send("x", ALICE).suppressed
        assert sms.send("y", ALICE, urgent=True).accepted


def test_a_long_text_is_counted_by_its_parts_against_the_budget(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(price_per_part="0.075")
    with _sync(emulator_url, daily_budget=0.2, storm_cap=0) as sms:
        assert sms.send("one", ALICE).accepted  # 0.075 spent; the price is known now
        two_parts = "x" * 200  # GSM-7: 2 parts, 0.15 more would pass 0.20
        held = sms.send(two_parts, ALICE)
        assert [r.suppressed for r in held.suppressed] == ["budget"]
        assert sms.send("two", ALICE).accepted  # one part, 0.15 in all, still fits
    assert _texts_to(emulator, ALICE) == ["one", "two"]


def test_the_cli_reports_held_back_texts_and_takes_urgent(
    emulator: Emulator, emulator_url: str, tmp_path: Any
) -> None:
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "kpn.yaml"
    config.write_text(
        f"client_id: {EMU_CLIENT_ID}\nclient_secret: {EMU_CLIENT_SECRET}\nsender: KPNAlert\n"
        f"base_url: {emulator_url}\ndaily_budget: 0\n"
    )
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "kpn_sms_notify", "--config", str(config), "send"]
        return subprocess.run(
            [*command, *args], env=env, capture_output=True, text=True, timeout=60
        )

    held = run("--to", ALICE, "--json", "routine")
    assert held.returncode == 0, held.stderr  # held back is no failure
    data = json.loads(held.stdout)
    assert data["ok"] and data["results"][0]["outcome"] == "suppressed"
    assert data["results"][0]["suppressed"] == "budget"
    assert data["guard"]["suppressed"] == {"storm": 0, "budget": 1}
    human = run("--to", ALICE, "routine")
    assert human.stdout.startswith("HELD  +316******78: suppressed (budget)")
    urgent = run("--to", ALICE, "--urgent", "fire")
    assert urgent.returncode == 0 and urgent.stdout.startswith("ok ")
    assert _texts_to(emulator, ALICE) == ["fire"]
