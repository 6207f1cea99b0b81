"""Paging without Alertmanager: the `serve.paging:` config, references, silence matchers and
comments, the printed routes, the histogram, and the engine's answers to phones (refused,
rate-limited, Alertmanager unreachable). The end-to-end paging runs are in test_paging_e2e.py."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from conftest import prometheus_samples  # type: ignore[import-not-found]
from test_serve_support import running  # type: ignore[import-not-found]

from kpn_sms_notify.cli import main as cli_main
from kpn_sms_notify.errors import KpnValidationError
from kpn_sms_notify.paging.config import format_duration, parse_duration
from kpn_sms_notify.paging.engine import PagingEngine
from kpn_sms_notify.paging.incidents import (
    AlertLabels,
    ack_comment,
    incident_of,
    matches,
    read_ack,
    silence_matchers,
)
from kpn_sms_notify.paging.routes import route_config, route_yaml
from kpn_sms_notify.server import split_config
from kpn_sms_notify.server.metrics import Metrics

ALICE, BOB, LEAD = "+31612345678", "+31687654321", "+31611112222"
AUTH_CHANGE_ME = {"Authorization": "Bearer change-me"}


def _raw(**paging: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "alertmanager": {"url": "http://127.0.0.1:9093"},
        "chains": {
            "oncall": {
                "steps": [
                    {"after": 0, "recipients": ["alice"]},
                    {"after": "10m", "recipients": ["bob"]},
                    {"after": "30m", "recipients": ["alice", "bob", LEAD]},
                ]
            }
        },
    }
    section.update(paging)
    return {
        "client_id": "my-client-id",
        "client_secret": "my-client-secret",
        "sender": "3197012345678",
        "recipients": {"alice": ALICE, "bob": BOB},
        "serve": {"token": "change-me", "path_secret": "p" * 20, "paging": section},
    }


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(KpnValidationError) as info:
        split_config(raw)
    return str(info.value)


def test_a_chain_is_built_with_numbers_and_defaults() -> None:
    _client, serve = split_config(_raw())
    paging = serve.paging
    assert paging is not None
    chain = paging.chains["oncall"]
    assert [s.after for s in chain.steps] == [0, 600, 1800]
    assert chain.steps[2].recipients == (ALICE, BOB, LEAD)
    assert chain.ack_from == {ALICE, BOB, LEAD}  # default: everyone in the chain
    assert chain.paged_by(601) == (ALICE, BOB)
    assert (paging.ack_max, paging.keepalive, paging.poll_interval) == (86400, 900, 30)
    assert paging.sender == "3197012345678"
    assert paging.replica == f"{socket.gethostname()}:9478"
    assert paging.chain_of_receiver("oncall-step1") == (chain, 1)
    assert paging.chain_of_receiver("oncall-step3") is None
    assert paging.chain_of_receiver("other-step0") is None


def test_alphanumeric_sender_is_refused_with_the_reason() -> None:
    raw = _raw()
    raw["sender"] = "KPNAlert"
    message = _error(raw)
    assert message.startswith("config: serve.paging.sender: 'KPNAlert' is alphanumeric")
    assert "cannot reply" in message
    assert split_config(_raw(sender="+3197099999999"))[1].paging.sender == "3197099999999"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"chains": {"oncall": {"steps": []}}}, "serve.paging.chains.oncall.steps"),
        (
            {"chains": {"oncall": {"steps": [{"recipients": ["carol"]}]}}},
            "serve.paging.chains.oncall.steps[0].recipients[0]",
        ),
        (
            {"chains": {"oncall": {"steps": [{"after": "1x", "recipients": ["bob"]}]}}},
            "'1x' is not a duration",
        ),
        (
            {
                "chains": {
                    "oncall": {
                        "steps": [
                            {"after": "5m", "recipients": ["bob"]},
                            {"after": "1m", "recipients": ["alice"]},
                        ]
                    }
                }
            },
            "must be later than the one before (got 5m, 1m)",
        ),
        ({"chains": {"on call": {"steps": [{"recipients": ["bob"]}]}}}, "a chain name is"),
        ({"silence_match": "fingerprint"}, "serve.paging.silence_match"),
        ({"poll_interval": "5m", "keepalive": "10m"}, "more than a quarter of keepalive"),
        (
            {"alertmanager": {"url": "http://am.example:9093", "token": "t0ps3cret"}},
            "credentials go only over https://",
        ),
        (
            {"alertmanager": {"url": "https://grafana.example", "grafana": True}},
            "Grafana needs a service-account token",
        ),
        (
            {"alertmanager": {"url": "https://am.example", "username": "u"}},
            "set both username and password",
        ),
    ],
)
def test_bad_paging_config_is_one_line_naming_the_key(
    change: dict[str, Any], expected: str
) -> None:
    message = _error(_raw(**change))
    assert expected in message and "\n" not in message
    assert "t0ps3cret" not in message


def test_paging_needs_the_inbound_path_secret() -> None:
    raw = _raw()
    del raw["serve"]["path_secret"]
    assert "serve.paging: needs serve.path_secret" in _error(raw)


def test_secrets_in_the_alertmanager_section_are_starred() -> None:
    message = _error(_raw(alertmanager={"url": "https://am.example", "token": 42}))
    assert "serve.paging.alertmanager.token" in message and "42" not in message


def test_grafana_base_and_bearer_token() -> None:
    serve = split_config(
        _raw(alertmanager={"url": "https://grafana.example/", "grafana": True, "token": "glsa_x"})
    )[1]
    assert serve.paging is not None
    api = serve.paging.alertmanager
    assert api.base == "https://grafana.example/api/alertmanager/grafana"
    assert "glsa_x" not in repr(serve.paging)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("250ms", 0.25), ("10m", 600), ("1h30m", 5400), (90, 90), ("2d", 172800)],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "10", "m", "1h 30m", "-5s", True, -1])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration_reads_back() -> None:
    for seconds in (0, 0.2, 1, 59, 600, 5400, 86399):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


def _incident(*alerts: dict[str, str], start: str = "2026-12-01T02:48:40.533Z") -> Any:
    chain = split_config(_raw())[1].paging.chains["oncall"]  # type: ignore[union-attr]
    return incident_of(
        chain,
        {"alertname": "DiskFull"},
        [AlertLabels(a, start) for a in alerts],
        datetime.now(UTC),
    )


def test_the_reference_is_stable_per_incident() -> None:
    one = _incident({"alertname": "DiskFull", "instance": "db1"})
    again = _incident(
        {"alertname": "DiskFull", "instance": "db1"}, start="2026-12-01T02:48:40.999999999Z"
    )
    later = _incident({"alertname": "DiskFull"}, start="2026-12-01T05:00:00Z")
    assert one.ref == again.ref  # the same second, however precise
    assert one.ref != later.ref  # a new incident of the same group
    assert one.title == "DiskFull"


def test_silence_matchers_wide_and_narrow() -> None:
    incident = _incident(
        {"alertname": "DiskFull", "instance": "db1", "team": "x"},
        {"alertname": "DiskFull", "instance": "db2.a", "team": "x"},
        {"alertname": "DiskFull", "instance": "db3", "team": "x", "only": "here"},
    )
    assert silence_matchers(incident, "group") == [
        {"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}
    ]
    narrow = silence_matchers(incident, "alerts")
    assert [m["name"] for m in narrow] == ["alertname", "instance", "team"]  # not `only`
    assert narrow[1] == {
        "name": "instance",
        "value": r"db1|db2\.a|db3",
        "isRegex": True,
        "isEqual": True,
    }
    assert matches(narrow, {"alertname": "DiskFull", "instance": "db2.a", "team": "x"})
    assert not matches(narrow, {"alertname": "DiskFull", "instance": "db2xa", "team": "x"})
    assert not matches(narrow, {"alertname": "DiskFull", "instance": "db4", "team": "x"})


def test_the_acknowledgement_comment_reads_back() -> None:
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    comment = ack_comment(ref="7K2", by="alice", at=at, chain="oncall", steps=2, via="host:9478")
    silence = {
        "id": "abc",
        "status": {"state": "active"},
        "comment": comment,
        "createdBy": "kpn-sms:alice",
        "matchers": [{"name": "alertname", "value": "DiskFull"}],
        "startsAt": "2026-12-01T03:00:00.000Z",
        "endsAt": "2026-12-01T03:15:00.000Z",
    }
    ack = read_ack(silence)
    assert ack is not None
    assert (ack.ref, ack.by, ack.at, ack.steps, ack.via) == ("7K2", "alice", at, 2, "host:9478")
    assert ack.ends_at - ack.at == timedelta(minutes=15)
    assert read_ack({**silence, "status": {"state": "expired"}}) is None
    assert read_ack({**silence, "comment": "ACK! by karma"}) is None


def test_printed_routes_stage_the_steps() -> None:
    paging = split_config(_raw())[1].paging
    assert paging is not None
    data = route_config(paging, serve_url="http://127.0.0.1:9478", bearer=True)
    routes = data["route"]["routes"]
    assert [(r["receiver"], r["group_wait"], r["continue"]) for r in routes] == [
        ("oncall-step0", "0s", True),
        ("oncall-step1", "10m", True),
        ("oncall-step2", "30m", True),
    ]
    hook = data["receivers"][1]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:9478/paging/oncall/1"
    assert hook["send_resolved"] is True
    text = route_yaml(paging, serve_url="http://x", bearer=False)
    assert yaml.safe_load(text)["receivers"][0]["webhook_configs"][0]["http_config"] == {
        "basic_auth": {
            "username": "<serve.basic_auth.username>",
            "password": "<serve.basic_auth.password>",
        }
    }


def test_histogram_renders_cumulative_buckets() -> None:
    metrics = Metrics()
    metrics.observe("kpn_sms_time_to_ack_seconds", 12, chain="oncall")
    metrics.observe("kpn_sms_time_to_ack_seconds", 400, chain="oncall")
    text = metrics.render()
    assert "# TYPE kpn_sms_time_to_ack_seconds histogram" in text
    samples = prometheus_samples(text)
    bucket = 'kpn_sms_time_to_ack_seconds_bucket{chain="oncall",le="%s"}'
    assert samples[bucket % "5"] == 0
    assert samples[bucket % "15"] == 1
    assert samples[bucket % "600"] == 2
    assert samples[bucket % "+Inf"] == 2
    assert samples['kpn_sms_time_to_ack_seconds_sum{chain="oncall"}'] == 412
    assert samples['kpn_sms_time_to_ack_seconds_count{chain="oncall"}'] == 2
    lines = [line for line in text.splitlines() if line.startswith(bucket.split("{")[0])]
    assert lines[-1].endswith(" 2") and 'le="+Inf"' in lines[-1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


def _engine(**paging: Any) -> tuple[PagingEngine, list[tuple[str, tuple[str, ...]]], Metrics]:
    raw = _raw(alertmanager={"url": f"http://127.0.0.1:{_closed_port()}", "timeout": 2}, **paging)
    config = split_config(raw)[1].paging
    assert config is not None
    sent: list[tuple[str, tuple[str, ...]]] = []

    async def send(text: str, numbers: Sequence[str], key: str) -> None:
        sent.append((text, tuple(numbers)))

    metrics = Metrics()
    return PagingEngine(config, send=send, metrics=metrics), sent, metrics


async def test_replies_from_strangers_change_nothing_and_get_nothing() -> None:
    engine, sent, metrics = _engine()
    await engine.reply("+31699999999", "ACK 7K2", "m1")
    await engine.reply("+31699999999", "HELP", "m2")
    assert sent == []
    assert metrics.get("kpn_sms_paging_replies_refused_total", reason="not_allowed") == 2
    await engine.close()


async def test_answers_to_a_phone_are_rate_limited() -> None:
    engine, sent, metrics = _engine(reply_limit=3)
    for n in range(5):
        await engine.reply(ALICE, "help", f"m{n}")
    assert len(sent) == 3 and all(numbers == (ALICE,) for _, numbers in sent)
    assert "ACK <ref>" in sent[0][0]
    assert metrics.get("kpn_sms_paging_replies_refused_total", reason="rate_limited") == 2
    await engine.reply(BOB, "what?", "b1")  # another phone has its own allowance
    assert sent[-1] == (sent[-1][0], (BOB,)) and sent[-1][0].startswith("Not understood.")
    await engine.close()


async def test_alertmanager_unreachable_fails_the_ack_in_words_and_pages_anyway() -> None:
    engine, sent, metrics = _engine()
    await engine.reply(ALICE, "ack 7K2", "m1")
    assert sent == [("ACK failed: Alertmanager unreachable; try again.", (ALICE,))]
    chain = engine.config.chains["oncall"]
    page = await engine.page(
        chain=chain,
        step=0,
        group_labels={"alertname": "DiskFull"},
        alerts=[AlertLabels({"alertname": "DiskFull"}, "2026-12-01T02:48:40Z")],
        rendered="[FIRING] DiskFull",
        firing=True,
    )
    assert page is not None and page.recipients == (ALICE,)
    assert page.text == f"[{page.ref}] [FIRING] DiskFull\nReply ACK {page.ref} to acknowledge."
    assert metrics.get("kpn_sms_paging_errors_total", call="silences") == 1
    resolved = await engine.page(
        chain=chain,
        step=1,
        group_labels={"alertname": "DiskFull"},
        alerts=[AlertLabels({"alertname": "DiskFull"}, "2026-12-01T02:48:40Z")],
        rendered="[RESOLVED] DiskFull",
        firing=False,
    )
    assert resolved is not None and resolved.recipients == (BOB,)
    assert resolved.text == f"[{page.ref}] [RESOLVED] DiskFull"  # same incident, no ACK line
    assert metrics.get("kpn_sms_pages_total", chain="oncall", step="1") == 0
    await engine.close()


async def test_the_step_endpoint_checks_auth_chain_step_and_body(tmp_path: Any) -> None:
    raw = _raw(alertmanager={"url": f"http://127.0.0.1:{_closed_port()}"})
    raw["serve"]["listen"] = "127.0.0.1:0"
    async with running(raw) as (_server, http):
        assert (await http.post("/paging/oncall/0", json={})).status_code == 401
        answer = await http.post("/paging/nochain/0", json={}, headers=AUTH_CHANGE_ME)
        assert answer.status_code == 404
        assert "'nochain' is not in serve.paging.chains" in answer.json()["reason"]
        answer = await http.post("/paging/oncall/3", json={}, headers=AUTH_CHANGE_ME)
        assert answer.status_code == 404 and "steps 0 to 2" in answer.json()["reason"]
        answer = await http.post("/paging/oncall/0", json={"alerts": []}, headers=AUTH_CHANGE_ME)
        assert answer.status_code == 400 and "alerts" in answer.json()["reason"]


def test_serve_prints_the_paging_routes(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kpn-sms.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    path.chmod(0o600)
    assert cli_main(["serve", "--config", str(path), "--paging-routes"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    hook = printed["receivers"][2]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:9478/paging/oncall/2"
    assert hook["http_config"]["authorization"]["credentials"] == "<serve.token>"
    raw = _raw()
    del raw["serve"]["paging"], raw["serve"]["path_secret"]
    path.write_text(yaml.safe_dump(raw))
    assert cli_main(["serve", "--config", str(path), "--paging-routes"]) == 2
    assert "serve.paging is not configured" in capsys.readouterr().err


class _FakeAlertmanager:
    """In-memory silences and alerts, for keep-alive timings a real run cannot reach
    (a 24 h cap); the end-to-end tests use a real Alertmanager."""

    def __init__(self, silence: dict[str, Any], firing: bool) -> None:
        self.silence = silence
        self.firing = firing
        self.posted: list[dict[str, Any]] = []
        self.expired: list[str] = []

    async def silences(self) -> list[dict[str, Any]]:
        return [self.silence]

    async def alerts(self) -> list[dict[str, Any]]:
        return [{"labels": {"alertname": "DiskFull"}}] if self.firing else []

    async def post_silence(self, body: dict[str, Any]) -> str:
        self.posted.append(body)
        self.silence = {**self.silence, "endsAt": body["endsAt"], "comment": body["comment"]}
        return str(body["id"])

    async def expire_silence(self, silence_id: str) -> None:
        self.expired.append(silence_id)

    async def close(self) -> None:
        pass


def _sweeper(
    *,
    acked_at: datetime,
    ends_in: float,
    now: datetime,
    via: str,
    firing: bool,
    by: str = "alice",
) -> tuple[PagingEngine, _FakeAlertmanager, list[tuple[str, tuple[str, ...]]]]:
    config = split_config(_raw(keepalive="15m", ack_max="1h", replica="me:9478"))[1].paging
    assert config is not None
    comment = ack_comment(ref="7K2", by=by, at=acked_at, chain="oncall", steps=2, via=via)
    silence = {
        "id": "s1",
        "status": {"state": "active"},
        "comment": comment,
        "createdBy": "kpn-sms:alice",
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False}],
        "startsAt": acked_at.isoformat(),
        "endsAt": (now + timedelta(seconds=ends_in)).isoformat(),
    }
    fake = _FakeAlertmanager(silence, firing)
    sent: list[tuple[str, tuple[str, ...]]] = []

    async def send(text: str, numbers: Sequence[str], key: str) -> None:
        sent.append((text, tuple(numbers)))

    engine = PagingEngine(
        config,
        send=send,
        metrics=Metrics(),
        api=fake,  # type: ignore[arg-type]
        clock=lambda: now,
    )
    return engine, fake, sent


async def test_keep_alive_extends_only_when_due_and_never_past_the_cap() -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    engine, fake, _ = _sweeper(
        acked_at=now - timedelta(minutes=10), ends_in=600, now=now, via="me:9478", firing=True
    )
    await engine.sweep()
    assert fake.posted == []  # 10 of 15 minutes left: not yet
    engine, fake, _ = _sweeper(
        acked_at=now - timedelta(minutes=10), ends_in=300, now=now, via="me:9478", firing=True
    )
    await engine.sweep()
    assert fake.posted[0]["id"] == "s1" and fake.posted[0]["endsAt"] == "2026-12-01T03:15:00.000Z"
    engine, fake, _ = _sweeper(
        acked_at=now - timedelta(minutes=55), ends_in=120, now=now, via="me:9478", firing=True
    )
    await engine.sweep()
    assert fake.posted[0]["endsAt"] == "2026-12-01T03:05:00.000Z"  # the 1 h cap
    engine, fake, _ = _sweeper(
        acked_at=now - timedelta(minutes=58), ends_in=120, now=now, via="me:9478", firing=True
    )
    await engine.sweep()
    assert fake.posted == []  # at the cap: left to expire, Alertmanager pages again


async def test_another_replicas_acknowledgement_is_taken_over_only_when_overdue() -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    engine, fake, sent = _sweeper(
        acked_at=now - timedelta(minutes=10), ends_in=300, now=now, via="other:9478", firing=False
    )
    await engine.sweep()
    assert fake.expired == [] and sent == []  # its owner is on it
    engine, fake, sent = _sweeper(
        acked_at=now - timedelta(minutes=10), ends_in=120, now=now, via="other:9478", firing=False
    )
    await engine.sweep()
    assert fake.expired == ["s1"]
    assert sent == [("[RESOLVED] 7K2 DiskFull (acknowledged by alice)", (ALICE, BOB))]


async def test_an_acknowledger_without_a_label_is_texted_but_shown_masked() -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    engine, fake, sent = _sweeper(
        acked_at=now - timedelta(minutes=10),
        ends_in=300,
        now=now,
        via="me:9478",
        firing=False,
        by="+31655554444",
    )
    await engine.sweep()
    assert fake.expired == ["s1"]
    text, numbers = sent[0]
    assert text == "[RESOLVED] 7K2 DiskFull (acknowledged by +316******44)"
    assert numbers[0] == "+31655554444"  # the acknowledger hears it first
