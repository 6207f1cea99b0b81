"""`kpn-sms serve` and the send guard: an alert storm is capped with one digest per window
sent by the server's own timer, the daily budget lets only urgent severities through and
survives a restart in state_dir, and /metrics shows the figures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from conftest import prometheus_samples  # type: ignore[import-not-found]
from test_serve_support import (
    ALICE_E164,
    AUTH,
    am_alert,
    am_payload,
    eventually,
    full_config,
    running,
    texts_to,
)

from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.server.state import STATE

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _outcomes(answers: list[Any]) -> list[str]:
    return sorted(r["outcome"] for a in answers for r in a.json()["results"])


async def test_an_alert_storm_is_capped_and_the_timer_sends_one_digest(
    emulator: Emulator, emulator_url: str
) -> None:
    clock = Clock()
    config = full_config(emulator_url, storm_cap=3, storm_window=300)
    async with running(config) as (server, http):
        server.runner.app[STATE].client().guard.clock = clock
        # 20 different alerts at once: the cap holds under concurrent requests.
        payloads = [am_payload(am_alert(f"Flap{i}", severity="warning")) for i in range(20)]
        answers = await asyncio.gather(
            *(http.post("/alertmanager", json=p, headers=AUTH) for p in payloads)
        )
        assert [a.status_code for a in answers] == [200] * 20  # suppressed: no retry asked
        assert _outcomes(answers) == ["sent"] * 3 + ["suppressed"] * 17
        held = next(r for a in answers for r in a.json()["results"] if r["outcome"] != "sent")
        assert "storm_cap" in held["reason"] and held["recipient"] == "+316******78"
        assert len(texts_to(emulator, ALICE_E164)) == 3
        clock.now = T0 + 300  # the window ends: the server's timer sends the digest
        assert await eventually(lambda: len(texts_to(emulator, ALICE_E164)) == 4)
        digest = texts_to(emulator, ALICE_E164)[-1]
        assert digest.startswith("17 more alerts since ") and "[FIRING] Flap" in digest
        samples = prometheus_samples((await http.get("/metrics")).text)
    assert samples['kpn_sms_texts_suppressed_total{reason="storm"}'] == 17
    assert samples["kpn_sms_digests_sent_total"] == 1
    assert samples["kpn_sms_balance"] > 0
    assert len(texts_to(emulator, ALICE_E164)) == 4  # exactly one digest


async def test_past_the_budget_only_urgent_severities_go_and_spending_survives_a_restart(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    emulator.configure(price_per_part="0.075")
    config = full_config(
        emulator_url,
        daily_budget=0.2,
        storm_cap=0,
        serve={"state_dir": str(tmp_path), "urgent_severities": ["critical", "page"]},
    )

    async def post(name: str, severity: str) -> str:
        answer = await http.post(
            "/alertmanager", json=am_payload(am_alert(name, severity=severity)), headers=AUTH
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["results"][0]["outcome"])

    async with running(config) as (_server, http):
        assert [await post(f"W{i}", "warning") for i in range(3)] == [
            "sent",
            "sent",
            "suppressed",
        ]
        assert await post("Down", "critical") == "sent"
        assert await post("Pager", "page") == "sent"
        samples = prometheus_samples((await http.get("/metrics")).text)
        assert samples['kpn_sms_texts_suppressed_total{reason="budget"}'] == 1
        assert samples["kpn_sms_budget"] == 0.2
        assert abs(samples["kpn_sms_budget_spent"] - 0.3) < 1e-9
    async with running(config) as (_server, http):
        samples = prometheus_samples((await http.get("/metrics")).text)
        assert abs(samples["kpn_sms_budget_spent"] - 0.3) < 1e-9  # kept in state_dir
        assert await post("W9", "warning") == "suppressed"
    assert (tmp_path / "budget.json").stat().st_mode & 0o777 == 0o600


async def test_a_symlink_in_place_of_budget_json_is_refused_not_followed(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text('{"day": "x"}')
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "budget.json").symlink_to(target)
    config = full_config(emulator_url, daily_budget=5, serve={"state_dir": str(state)})
    async with running(config) as (_server, http):
        answer = await http.post("/alertmanager", json=am_payload(am_alert()), headers=AUTH)
        assert answer.status_code == 200 and answer.json()["results"][0]["outcome"] == "sent"
    assert target.read_text() == '{"day": "x"}'  # never written through


async def test_notify_takes_urgent_past_a_budget_of_0(
    emulator: Emulator, emulator_url: str
) -> None:
    async with running(full_config(emulator_url, daily_budget=0)) as (_server, http):
        held = await http.post("/notify", json={"message": "routine"}, headers=AUTH)
        assert held.status_code == 200 and held.json()["results"][0]["outcome"] == "suppressed"
        assert "daily budget of 0.00" in held.json()["results"][0]["reason"]
        urgent = await http.post("/notify", json={"message": "fire", "urgent": True}, headers=AUTH)
        assert urgent.json()["results"][0]["outcome"] == "sent"
        bad = await http.post("/notify", json={"message": "x", "urgent": "yes"}, headers=AUTH)
        assert bad.status_code == 400 and bad.json()["reason"].startswith("urgent: ")
    assert texts_to(emulator, ALICE_E164) == ["fire"]
