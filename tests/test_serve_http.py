"""`kpn-sms serve` alert endpoints over HTTP, sending through the emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest
from conftest import prometheus_samples  # type: ignore[import-not-found]
from test_serve_support import (
    ALICE,
    ALICE_E164,
    AUTH,
    BOB,
    BOB_E164,
    CAROL,
    CAROL_E164,
    TOKEN,
    am_alert,
    am_payload,
    full_config,
    grafana_payload,
    running,
    texts_to,
)

from kpn_sms_notify.emulator import EMU_CLIENT_SECRET, Emulator


async def test_alert_fires_then_resolves(emulator: Emulator, emulator_url: str) -> None:
    async with running(full_config(emulator_url)) as (_server, http):
        fired = await http.post("/alertmanager", json=am_payload(am_alert()), headers=AUTH)
        assert fired.status_code == 200, fired.text
        assert fired.json() == {
            "status": "ok",
            "results": [{"recipient": "+316******78", "outcome": "sent"}],
        }
        resolved = await http.post(
            "/alertmanager", json=am_payload(am_alert(status="resolved")), headers=AUTH
        )
        assert resolved.status_code == 200
    assert texts_to(emulator, ALICE_E164) == [
        "[FIRING] DiskFull (critical): Disk /var is 95% full",
        "[RESOLVED] DiskFull (critical): Disk /var is 95% full",
    ]


async def test_redelivery_is_not_texted_twice(emulator: Emulator, emulator_url: str) -> None:
    payload = am_payload(am_alert())
    async with running(full_config(emulator_url)) as (_server, http):
        for _ in range(3):
            answer = await http.post("/alertmanager", json=payload, headers=AUTH)
            assert answer.status_code == 200
        assert answer.json()["results"] == [
            {"recipient": "+316******78", "outcome": "already_sent"}
        ]
        # Concurrent duplicates (a retry racing the first try) also give one text.
        other = am_payload(am_alert("CpuHigh"))
        answers = await asyncio.gather(
            *(http.post("/alertmanager", json=other, headers=AUTH) for _ in range(5))
        )
        assert [a.status_code for a in answers] == [200] * 5
    assert len(texts_to(emulator, ALICE_E164)) == 2


async def test_transient_failure_answers_5xx_and_retry_texts_only_the_rest(
    emulator: Emulator, emulator_url: str
) -> None:
    config = full_config(emulator_url, serve={"receivers": {"kpn": [ALICE, BOB, CAROL]}})
    payload = am_payload(am_alert())
    async with running(config) as (_server, http):
        # One of the three sends gets a gateway 503 (nothing accepted); the others go through.
        emulator.configure(script=[{"ok": True}, {"http": 503}, {"ok": True}])
        first = await http.post("/alertmanager", json=payload, headers=AUTH)
        assert first.status_code == 503, first.text
        outcomes = sorted(r["outcome"] for r in first.json()["results"])
        assert outcomes == ["retry", "sent", "sent"]
        second = await http.post("/alertmanager", json=payload, headers=AUTH)
        assert second.status_code == 200, second.text
        assert sorted(r["outcome"] for r in second.json()["results"]) == [
            "already_sent",
            "already_sent",
            "sent",
        ]
        third = await http.post("/alertmanager", json=payload, headers=AUTH)
        assert third.status_code == 200
    for number in (ALICE_E164, BOB_E164, CAROL_E164):
        assert len(texts_to(emulator, number)) == 1, number


async def test_permanent_failure_answers_2xx_and_is_not_retried(
    emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(forced_status={BOB_E164: "29"})  # non-whitelisted destination: final
    config = full_config(emulator_url, serve={"receivers": {"kpn": [ALICE, BOB]}})
    async with running(config) as (_server, http):
        answer = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert answer.status_code == 200, answer.text
        rows = {r["recipient"]: r for r in answer.json()["results"]}
        assert rows["+316******78"]["outcome"] == "sent"
        assert rows["+316******21"]["outcome"] == "failed" and rows["+316******21"]["reason"]
        sends = emulator.counters["send_requests"]
        again = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert again.status_code == 200
        assert emulator.counters["send_requests"] == sends


async def test_gateway_down_is_5xx_then_delivered(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(token_endpoint_down=True)
    async with running(full_config(emulator_url)) as (_server, http):
        down = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert down.status_code == 503
        assert down.json()["results"][0]["outcome"] == "retry"
        emulator.configure(token_endpoint_down=False)
        up = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert up.status_code == 200
    assert len(texts_to(emulator, ALICE_E164)) == 1


async def test_wrong_credentials_are_refused(emulator: Emulator, emulator_url: str) -> None:
    async with running(full_config(emulator_url)) as (_server, http):
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN},
        ):
            for path in ("/alertmanager", "/grafana", "/notify"):
                answer = await http.post(path, json=am_payload(), headers=headers)
                assert answer.status_code == 401, (path, headers)
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert emulator.messages == []


async def test_basic_auth(emulator: Emulator, emulator_url: str) -> None:
    config = full_config(
        emulator_url,
        serve={"token": None, "basic_auth": {"username": "am", "password": "pa55word!"}},
    )
    del config["serve"]["token"]
    good = "Basic " + base64.b64encode(b"am:pa55word!").decode()
    bad = "Basic " + base64.b64encode(b"am:nope-nope").decode()
    async with running(config) as (_server, http):
        assert (
            await http.post("/notify", json={"message": "x"}, headers={"Authorization": bad})
        ).status_code == 401
        assert (
            await http.post(
                "/notify", json={"message": "x"}, headers={"Authorization": "Basic !!!"}
            )
        ).status_code == 401
        answer = await http.post(
            "/notify", json={"message": "hello"}, headers={"Authorization": good}
        )
        assert answer.status_code == 200
    assert texts_to(emulator, ALICE_E164) == ["hello"]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "body: empty"),
        (b"{not json", "application/json", "body: not valid JSON"),
        (b"\xff\xfe", "application/json", "body: not"),
        (b"[1, 2]", "application/json", "body: expected a JSON object"),
        (b'{"version": "4"}', "application/json", "alerts: required list missing"),
        (
            b'{"version": "4", "alerts": [{"status": "odd"}]}',
            "application/json",
            "alerts[0].status",
        ),
        (
            b'{"version": "4", "alerts": [{"status": "firing", "labels": 7}]}',
            "application/json",
            "alerts[0].labels",
        ),
        (
            b'{"version": "4", "alerts": [{"status": "firing", "labels": {"a": [1]}}]}',
            "application/json",
            "alerts[0].labels.a",
        ),
        (b"null", "application/json", "body: expected a JSON object"),
    ],
)
async def test_malformed_payloads_get_400_with_reason(
    emulator: Emulator, emulator_url: str, body: bytes, content_type: str, reason: str
) -> None:
    async with running(full_config(emulator_url)) as (_server, http):
        for path in ("/alertmanager", "/grafana"):
            answer = await http.post(
                path, content=body, headers={**AUTH, "Content-Type": content_type}
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["reason"].startswith(reason)
    assert emulator.messages == []


async def test_body_size_cap(emulator: Emulator, emulator_url: str) -> None:
    async with running(full_config(emulator_url, serve={"max_body": 4096})) as (_server, http):
        big = am_payload(
            *(am_alert(labels={"instance": f"h{i}"}, summary="x" * 200) for i in range(40))
        )
        answer = await http.post("/alertmanager", json=big, headers=AUTH)
        assert answer.status_code == 413
        assert "4096" in answer.json()["reason"]
    assert emulator.messages == []


async def test_grafana_contact_point(emulator: Emulator, emulator_url: str) -> None:
    config = full_config(emulator_url, serve={"receivers": {"kpn-contact": [BOB]}})
    async with running(config) as (_server, http):
        answer = await http.post("/grafana", json=grafana_payload(), headers=AUTH)
        assert answer.status_code == 200, answer.text
        # Grafana's contact point can use PUT; a redelivery so is not texted again.
        again = await http.put("/grafana", json=grafana_payload(), headers=AUTH)
        assert again.json()["results"] == [{"recipient": "+316******21", "outcome": "already_sent"}]
    assert texts_to(emulator, BOB_E164) == ["[FIRING] DiskFull (critical): Disk /var is 95% full"]
    assert texts_to(emulator, ALICE_E164) == []


async def test_label_routing_and_route_template(emulator: Emulator, emulator_url: str) -> None:
    config = full_config(
        emulator_url,
        serve={
            "receivers": {
                "db": {
                    "recipients": [BOB],
                    "match": {"team": "db"},
                    "template": "DB {STATUS}: {summary}",
                },
                "kpn": [ALICE],
            }
        },
    )
    payload = am_payload(
        am_alert("DbDown", labels={"team": "db"}, summary="replica lag"),
        am_alert("WebDown", labels={"team": "web"}, summary="5xx rate"),
    )
    async with running(config) as (_server, http):
        answer = await http.post("/alertmanager", json=payload, headers=AUTH)
        assert answer.status_code == 200, answer.text
    assert texts_to(emulator, BOB_E164) == ["DB FIRING: replica lag"]
    assert texts_to(emulator, ALICE_E164) == ["[FIRING] WebDown (critical): 5xx rate"]


async def test_unrouted_alert_is_2xx_and_counted(emulator: Emulator, emulator_url: str) -> None:
    config = full_config(emulator_url)
    config["recipients"] = []
    async with running(config) as (_server, http):
        answer = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert answer.status_code == 200 and answer.json()["results"] == []
        metrics = (await http.get("/metrics")).text
    assert 'kpn_sms_unrouted_alerts_total{endpoint="alertmanager"} 1' in metrics


async def test_long_group_is_cut_to_max_parts(emulator: Emulator, emulator_url: str) -> None:
    alerts = [
        am_alert(labels={"instance": f"web{i}"}, summary="disk almost full " * 30)
        for i in range(50)
    ]
    async with running(full_config(emulator_url, max_parts=2)) as (_server, http):
        answer = await http.post("/alertmanager", json=am_payload(*alerts), headers=AUTH)
        assert answer.status_code == 200
    (message,) = emulator.messages
    assert message["parts"] <= 2
    assert message["text"].startswith("[FIRING:50] DiskFull (critical): disk almost full")
    assert message["text"].endswith("...")


async def test_notify_endpoint(emulator: Emulator, emulator_url: str) -> None:
    # /notify texts only allowed numbers (default: the configured ones); Bob is added here.
    config = full_config(emulator_url, serve={"notify": {"allow": [ALICE, BOB]}})
    async with running(config) as (_server, http):
        plain = await http.post(
            "/notify", json={"message": "Backup done", "title": "nas"}, headers=AUTH
        )
        assert plain.status_code == 200
        chosen = await http.post(
            "/notify", json={"message": "To Bob", "recipients": [BOB]}, headers=AUTH
        )
        assert chosen.status_code == 200
        again = await http.post(
            "/notify", json={"message": "To Bob", "recipients": [BOB]}, headers=AUTH
        )
        assert again.json()["results"][0]["outcome"] == "already_sent"
        keyed = [
            await http.post(
                "/notify",
                json={"message": f"run {i}"},
                headers={**AUTH, "Idempotency-Key": "job-42"},
            )
            for i in range(2)
        ]
        assert [k.json()["results"][0]["outcome"] for k in keyed] == ["sent", "already_sent"]
        bad = await http.post("/notify", json={"message": "x", "recipients": ["12"]}, headers=AUTH)
        assert bad.status_code == 400
        assert bad.json()["reason"].startswith("recipients[0]:")
    assert texts_to(emulator, ALICE_E164) == ["nas\nBackup done", "run 0"]
    assert texts_to(emulator, BOB_E164) == ["To Bob"]


async def test_a_foreign_number_keeps_its_country(emulator: Emulator, emulator_url: str) -> None:
    # Issue 11: "+49 201 0000" must text Germany, and the answer names it with "+" (bare
    # "492010000" would read back as the Dutch 0492 010000).
    serve = {"notify": {"allow": ["+49 201 0000"]}}  # /notify texts allowed numbers only
    async with running(full_config(emulator_url, serve)) as (_server, http):
        answer = await http.post(
            "/notify", json={"message": "Hallo", "recipients": ["+49 201 0000"]}, headers=AUTH
        )
    assert answer.status_code == 200
    assert answer.json()["results"] == [{"recipient": "+492****00", "outcome": "sent"}]
    assert texts_to(emulator, "492010000") == ["Hallo"]  # the wire has no "+"
    assert texts_to(emulator, "31492010000") == []


async def test_healthz_and_metrics(emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    emulator.configure(forced_status={CAROL_E164: "29"})
    config = full_config(emulator_url, serve={"receivers": {"kpn": [ALICE, CAROL]}})
    async with running(config) as (_server, http):
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        await http.post("/alertmanager", content=b"{}", headers=AUTH)
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    values = prometheus_samples(text)
    assert values['kpn_sms_texts_sent_total{endpoint="alertmanager"}'] == 1
    assert values['kpn_sms_texts_failed_total{endpoint="alertmanager",kind="permanent"}'] == 1
    assert values['kpn_sms_texts_deduplicated_total{endpoint="alertmanager"}'] == 2
    assert values['kpn_sms_notifications_total{answer="ok",endpoint="alertmanager"}'] == 2
    assert values['kpn_sms_notifications_total{answer="rejected",endpoint="alertmanager"}'] == 1
    assert values["kpn_sms_token_requests_total"] == emulator.counters["token_requests"] == 1
    assert values["kpn_sms_quota_limit"] == 100000
    assert values["kpn_sms_quota_used"] >= 1
    assert "kpn_sms_send_retries_total" in values and "kpn_sms_inbound_received_total" in values
    for secret in (EMU_CLIENT_SECRET, TOKEN, "31612345678"):
        assert secret not in text
    # Every sample line parses as "name{labels} number".
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


async def test_metrics_auth_when_asked(emulator: Emulator, emulator_url: str) -> None:
    async with running(full_config(emulator_url, serve={"metrics_auth": True})) as (_server, http):
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers=AUTH)).status_code == 200
        assert (await http.get("/healthz")).status_code == 200


async def test_dedupe_state_survives_restart(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    config = full_config(emulator_url, serve={"state_dir": str(tmp_path / "state")})
    async with running(config) as (_server, http):
        assert (
            await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        ).status_code == 200
    state_text = (tmp_path / "state" / "sent.jsonl").read_text()
    assert ALICE_E164 not in state_text  # hashes only
    async with running(config) as (_server, http):
        again = await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        assert again.json()["results"][0]["outcome"] == "already_sent"
    assert len(texts_to(emulator, ALICE_E164)) == 1


async def test_no_secret_in_debug_logs(
    emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(full_config(emulator_url)) as (_server, http):
        await http.post("/alertmanager", json=am_payload(), headers=AUTH)
        await http.post(
            "/alertmanager", json=am_payload(), headers={"Authorization": "Bearer nope"}
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "accepted" in logged  # the send was logged ...
    for secret in (EMU_CLIENT_SECRET, TOKEN, ALICE_E164):
        assert secret not in logged  # ... without secrets or the full number
