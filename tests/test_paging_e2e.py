"""Two-way paging end to end: a real Prometheus Alertmanager (one node, or a two-node cluster),
`kpn-sms serve` as a subprocess, and the emulator playing KPN and the phones.

Alertmanager runs the chain `oncall` (step 0: alice at once; step 1: bob after STEP1 seconds)
as the routes `kpn-sms serve --paging-routes` prints; a phone's reply is injected at the
emulator, which delivers it to serve's inbound webhook as KPN would. Short timings
(group_interval 1s, keep-alive 4s, poll 0.3s) keep each test within seconds; every wait is a
poll with a deadline.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alertmanager_support import (  # type: ignore[import-not-found]
    STARTUP_TIMEOUT,
    Process,
    am_binary_path,
    free_port,
    wait_until,
)
from conftest import prometheus_samples  # type: ignore[import-not-found]

from kpn_sms_notify.emulator import (
    DEFAULT_VIRTUAL_NUMBER,
    EMU_CLIENT_ID,
    EMU_CLIENT_SECRET,
    Emulator,
)
from kpn_sms_notify.paging.routes import route_config
from kpn_sms_notify.server.config import split_config
from kpn_sms_notify.sync_client import KpnSmsSync

TOKEN = "paging-bearer-token-0001"
PATH_SECRET = "paging-path-secret-0123456789"
ALICE, BOB, STRANGER = "31612345678", "31687654321", "31699999999"
STEP1 = 4.0  # seconds until bob is paged
WAIT = 30.0


def _client_config(emulator_url: str) -> dict[str, Any]:
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "base_url": emulator_url,
        "sender": DEFAULT_VIRTUAL_NUMBER,
        "recipients": {"alice": "+" + ALICE, "bob": "+" + BOB},
        "retries": 0,
    }


def _paging(am_url: str, replica: str) -> dict[str, Any]:
    return {
        "alertmanager": {"url": am_url},
        "chains": {
            "oncall": {
                "steps": [
                    {"after": 0, "recipients": ["alice"]},
                    {"after": STEP1, "recipients": ["bob"]},
                ]
            }
        },
        "keepalive": "4s",
        "poll_interval": "0.3s",
        "replica": replica,
    }


@dataclass
class Node:
    """One Alertmanager and the serve beside it."""

    name: str
    am_port: int
    serve_port: int
    tmp: Path
    config: Path
    am: Process | None = None
    serve: Process | None = None
    serve_runs: int = 0

    @property
    def am_url(self) -> str:
        return f"http://127.0.0.1:{self.am_port}"

    @property
    def serve_url(self) -> str:
        return f"http://127.0.0.1:{self.serve_port}"

    def start_serve(self) -> None:
        self.serve_runs += 1
        self.serve = Process(
            [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(self.config)],
            self.tmp / f"serve-{self.name}-{self.serve_runs}.log",
        )
        wait_until(
            lambda: httpx.get(self.serve_url + "/healthz").status_code == 200,
            STARTUP_TIMEOUT,
            f"serve {self.name} to start",
            self.serve.log,
        )

    def am_log(self) -> str:
        assert self.am is not None
        return self.am.log.read_text(errors="replace")

    def serve_log(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.tmp.glob(f"serve-{self.name}-*.log"))
        )


@dataclass
class Stack:
    emulator: Emulator
    nodes: list[Node]
    starts: dict[str, datetime] = field(default_factory=dict)

    # --- alerts --------------------------------------------------------------------------
    def fire(self, name: str, *, resolved: bool = False, start: datetime | None = None) -> datetime:
        """Post the alert to every Alertmanager (as Prometheus does); returns when."""
        now = datetime.now(UTC)
        begun = self.starts.setdefault(name, start or now)
        alert: dict[str, Any] = {
            "labels": {"alertname": name, "paging": "oncall", "severity": "critical"},
            "annotations": {"summary": f"{name} on db1"},
            "startsAt": begun.isoformat(),
        }
        if resolved:
            alert["endsAt"] = now.isoformat()
        for node in self.nodes:
            answer = httpx.post(f"{node.am_url}/api/v2/alerts", json=[alert], timeout=10)
            assert answer.status_code == 200, answer.text
        return now

    # --- phones --------------------------------------------------------------------------
    def texts(self, number: str, needle: str = "") -> list[dict[str, Any]]:
        return [m for m in self.emulator.messages if m["to"] == number and needle in m["text"]]

    def wait_text(self, number: str, needle: str, count: int = 1) -> list[dict[str, Any]]:
        wait_until(
            lambda: len(self.texts(number, needle)) >= count,
            WAIT,
            f"text {needle!r} to +{number[:3]}...",
            self.nodes[0].serve.log if self.nodes[0].serve else None,
        )
        return self.texts(number, needle)

    def page_ref(self, number: str, name: str) -> str:
        text = self.wait_text(number, name)[0]["text"]
        found = re.search(r"Reply ACK ([0-9A-Z]+) ", text)
        assert found, text
        return found.group(1)

    def reply(self, number: str, text: str, node: Node | None = None) -> None:
        """The phone texts the virtual number; KPN calls the webhook registered for it."""
        target = node or self.nodes[0]
        self.register(target)
        self.emulator.inject_inbound(number, text, DEFAULT_VIRTUAL_NUMBER)

    def register(self, node: Node) -> None:
        client = {k: v for k, v in yaml.safe_load(node.config.read_text()).items() if k != "serve"}
        with KpnSmsSync.from_config(client) as sms:
            sms.register_webhook(DEFAULT_VIRTUAL_NUMBER, f"{node.serve_url}/inbound/{PATH_SECRET}")

    # --- Alertmanager --------------------------------------------------------------------
    def acks(self, node: Node, ref: str, state: str = "active") -> list[dict[str, Any]]:
        silences = httpx.get(f"{node.am_url}/api/v2/silences", timeout=10).json()
        return [
            s
            for s in silences
            if s["status"]["state"] == state and s["comment"].startswith(f"kpn-sms ACK {ref} ")
        ]

    def notified(self, node: Node, receiver: str) -> int:
        """Notifications Alertmanager finished for a receiver (its debug log's "Notify success")."""
        return sum(
            1
            for line in node.am_log().splitlines()
            if "Notify success" in line and f"receiver={receiver} " in line
        )


def _write_configs(emulator_url: str, nodes: list[Node]) -> None:
    for node in nodes:
        config = _client_config(emulator_url)
        config["serve"] = {
            "listen": f"127.0.0.1:{node.serve_port}",
            "token": TOKEN,
            "state_dir": str(node.tmp / f"state-{node.name}"),
            "path_secret": PATH_SECRET,
            "paging": _paging(node.am_url, f"serve-{node.name}"),
        }
        node.config.write_text(yaml.safe_dump(config))


def _am_config(node: Node) -> Path:
    """Alertmanager's config: the routes serve prints, for this node's serve."""
    _client, serve = split_config(yaml.safe_load(node.config.read_text()))
    assert serve.paging is not None
    data = route_config(serve.paging, serve_url=node.serve_url, bearer=True)
    for receiver in data["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["http_config"]["authorization"]["credentials"] = TOKEN
    config = {
        "route": {
            "receiver": "nobody",
            "group_by": ["alertname"],
            "group_wait": "200ms",
            "group_interval": "1s",
            "repeat_interval": "1h",
            **data["route"],
        },
        "receivers": [{"name": "nobody"}, *data["receivers"]],
    }
    path = node.tmp / f"alertmanager-{node.name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start_am(binary: str, node: Node, peers: list[Node], cluster_ports: dict[str, int]) -> None:
    args = [
        binary,
        f"--config.file={_am_config(node)}",
        f"--storage.path={node.tmp / f'am-data-{node.name}'}",
        f"--web.listen-address=127.0.0.1:{node.am_port}",
        "--log.level=debug",
    ]
    if peers:
        args += [
            f"--cluster.listen-address=127.0.0.1:{cluster_ports[node.name]}",
            "--cluster.peer-timeout=2s",
            "--cluster.settle-timeout=3s",
            *(f"--cluster.peer=127.0.0.1:{cluster_ports[p.name]}" for p in peers),
        ]
    else:
        args.append("--cluster.listen-address=")
    node.am = Process(args, node.tmp / f"alertmanager-{node.name}.log")
    wait_until(
        lambda: httpx.get(node.am_url + "/-/ready").status_code == 200,
        STARTUP_TIMEOUT,
        f"Alertmanager {node.name} to be ready",
        node.am.log,
    )


def _stack(emulator: Emulator, tmp_path: Path, count: int) -> Iterator[Stack]:
    binary = am_binary_path()
    assert emulator.url is not None
    nodes = [
        Node(name, free_port(), free_port(), tmp_path, tmp_path / f"kpn-sms-{name}.yaml")
        for name in ("a", "b")[:count]
    ]
    cluster_ports = {node.name: free_port() for node in nodes}
    _write_configs(emulator.url, nodes)
    stack = Stack(emulator, nodes)
    try:
        for node in nodes:
            node.start_serve()
        for node in nodes:
            _start_am(binary, node, [n for n in nodes if n is not node], cluster_ports)
        if count > 1:
            wait_until(
                lambda: all(
                    httpx.get(n.am_url + "/api/v2/status").json()["cluster"]["status"] == "ready"
                    and len(httpx.get(n.am_url + "/api/v2/status").json()["cluster"]["peers"]) == 2
                    for n in nodes
                ),
                STARTUP_TIMEOUT,
                "the Alertmanager cluster to settle",
                nodes[0].am.log if nodes[0].am else None,
            )
        stack.register(nodes[0])
        yield stack
    finally:
        for node in nodes:
            for proc in (node.am, node.serve):
                if proc is not None:
                    proc.stop()


@pytest.fixture
def single(emulator: Emulator, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(emulator, tmp_path, 1)


@pytest.fixture
def cluster(emulator: Emulator, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(emulator, tmp_path, 2)


def _metrics(node: Node) -> dict[str, float]:
    return prometheus_samples(httpx.get(node.serve_url + "/metrics").text)


def test_ack_silences_stops_the_chain_and_resolution_expires_it(single: Stack) -> None:
    stack, node = single, single.nodes[0]
    stack.fire("PagingDiskFull")
    ref = stack.page_ref(ALICE, "PagingDiskFull")
    page = stack.texts(ALICE, "PagingDiskFull")[0]
    assert page["from"] == DEFAULT_VIRTUAL_NUMBER
    assert page["text"].startswith(f"[{ref}] [FIRING] PagingDiskFull")

    stack.reply(ALICE, f"  ack {ref.lower()}. ")
    wait_until(lambda: bool(stack.acks(node, ref)), WAIT, "the acknowledgement silence")
    silence = stack.acks(node, ref)[0]
    assert silence["createdBy"] == "kpn-sms:alice"
    assert {m["name"]: m["value"] for m in silence["matchers"]} == {"alertname": "PagingDiskFull"}
    stack.wait_text(ALICE, f"ACK {ref}: PagingDiskFull acknowledged")

    # A later alert's step 1 reaches bob after the acknowledged group's step 1 was due:
    # by then that step has been decided, and it paged nobody.
    stack.fire("PagingMarker")
    stack.wait_text(BOB, "PagingMarker")
    assert stack.texts(BOB, "PagingDiskFull") == []

    # Kept alive past its first end (keepalive 4s) while the group fires.
    first_end = silence["endsAt"]
    wait_until(
        lambda: stack.acks(node, ref) and stack.acks(node, ref)[0]["endsAt"] != first_end,
        WAIT,
        "the silence to be extended",
    )
    assert stack.acks(node, ref)[0]["id"] == silence["id"]

    stack.fire("PagingDiskFull", resolved=True)
    wait_until(lambda: bool(stack.acks(node, ref, "expired")), WAIT, "the silence to expire")
    resolved = stack.wait_text(ALICE, f"[RESOLVED] {ref} PagingDiskFull")
    assert len(resolved) == 1
    samples = _metrics(node)
    assert samples['kpn_sms_acks_total{chain="oncall"}'] == 1
    assert samples['kpn_sms_resolved_while_acked_total{chain="oncall"}'] == 1
    assert samples['kpn_sms_time_to_ack_seconds_count{chain="oncall"}'] == 1
    assert samples['kpn_sms_pages_total{chain="oncall",step="0"}'] == 2  # both alerts
    assert ALICE not in node.serve_log() and TOKEN not in node.serve_log()


def test_no_reply_escalates_on_time_and_strangers_change_nothing(single: Stack) -> None:
    stack, node = single, single.nodes[0]
    fired = stack.fire("PagingHighLoad")
    ref = stack.page_ref(ALICE, "PagingHighLoad")

    stack.reply(STRANGER, f"ACK {ref}")
    wait_until(
        lambda: (
            _metrics(node).get('kpn_sms_paging_replies_refused_total{reason="not_allowed"}', 0) == 1
        ),
        WAIT,
        "the stranger's reply to be refused",
    )
    assert stack.acks(node, ref) == []
    assert stack.texts(STRANGER) == []

    bob = stack.wait_text(BOB, "PagingHighLoad")[0]
    assert f"[{ref}]" in bob["text"]  # escalation steps carry the same reference
    paged_at = datetime.fromisoformat(bob["received_at"])
    late = (paged_at - fired).total_seconds() - STEP1
    # Not early, and on its step rather than on a later repeat. How late it is (the goal is
    # 1 s + group_interval) is measured by bench/paging.py, not asserted on a shared machine.
    assert -0.5 <= late < STEP1 + 10, late

    stack.reply(BOB, "Ack!")  # ACK alone: bob's one open page
    wait_until(lambda: bool(stack.acks(node, ref)), WAIT, "bob's acknowledgement")
    stack.wait_text(BOB, f"ACK {ref}: PagingHighLoad acknowledged")
    stack.wait_text(ALICE, f"{ref} PagingHighLoad: acknowledged by bob")
    stack.reply(BOB, "status")
    stack.wait_text(BOB, f"Open pages: {ref} PagingHighLoad (acked by bob)")
    stack.reply(BOB, f"unack {ref}")
    wait_until(lambda: bool(stack.acks(node, ref, "expired")), WAIT, "the silence to expire")
    stack.wait_text(BOB, f"UNACK {ref}")
    samples = _metrics(node)
    assert samples['kpn_sms_escalations_total{chain="oncall"}'] == 1
    assert samples['kpn_sms_unacks_total{chain="oncall"}'] == 1
    log = node.serve_log()
    assert STRANGER not in log and "+316******99" in log


def test_restart_mid_chain_pages_the_next_step_once(single: Stack) -> None:
    stack, node = single, single.nodes[0]
    assert node.serve is not None
    stack.fire("PagingRestart")
    stack.page_ref(ALICE, "PagingRestart")
    wait_until(lambda: stack.notified(node, "oncall-step0") >= 1, WAIT, "step 0 to be done")
    node.serve.stop()
    # Step 1 falls due while serve is down: Alertmanager's attempt fails and it retries.
    wait_until(
        lambda: any(
            "Notify attempt failed" in line and "oncall-step1" in line
            for line in node.am_log().splitlines()
        ),
        WAIT,
        "Alertmanager to fail step 1 while serve is down",
    )
    assert stack.texts(BOB, "PagingRestart") == []
    node.start_serve()
    stack.wait_text(BOB, "PagingRestart")
    wait_until(lambda: stack.notified(node, "oncall-step1") >= 1, WAIT, "step 1 to be done")
    stack.fire("PagingAfter")  # a later alert through the restarted serve: all caught up
    stack.wait_text(BOB, "PagingAfter")
    assert len(stack.texts(BOB, "PagingRestart")) == 1
    assert len(stack.texts(ALICE, "PagingRestart")) == 1


def test_two_replicas_page_once_per_step_and_either_one_takes_the_ack(cluster: Stack) -> None:
    stack = cluster
    node_a, node_b = stack.nodes
    start = datetime.now(UTC).replace(microsecond=0)
    stack.fire("PagingClusterOne", start=start)
    stack.fire("PagingClusterTwo", start=start)
    one = stack.page_ref(ALICE, "PagingClusterOne")
    two = stack.page_ref(ALICE, "PagingClusterTwo")
    assert one != two
    stack.reply(ALICE, "ack", node_b)  # two open pages: the answer asks which
    asked = stack.wait_text(ALICE, "Several open pages.")[0]["text"]
    assert f"ACK {one} (PagingClusterOne)" in asked and f"ACK {two} (PagingClusterTwo)" in asked
    assert not stack.acks(node_b, one) and not stack.acks(node_b, two)

    stack.reply(ALICE, f"ACK {one}", node_b)  # reaches serve b
    wait_until(
        lambda: bool(stack.acks(node_a, one)) and bool(stack.acks(node_b, one)),
        WAIT,
        "the silence on both nodes",
    )
    stack.reply(ALICE, f"ACK {two}", node_a)  # reaches serve a
    wait_until(
        lambda: bool(stack.acks(node_a, two)) and bool(stack.acks(node_b, two)),
        WAIT,
        "the second silence on both nodes",
    )
    stack.wait_text(ALICE, f"ACK {one}: ")
    stack.wait_text(ALICE, f"ACK {two}: ")

    # Past both steps and the second node's peer wait (2s): a marker's step 1 reaches bob.
    stack.fire("PagingClusterMarker")
    stack.wait_text(BOB, "PagingClusterMarker")
    wait_until(
        lambda: (
            stack.notified(node_a, "oncall-step1") + stack.notified(node_b, "oncall-step1") >= 1
        ),
        WAIT,
        "the marker's step 1 to be done",
    )
    for name in ("PagingClusterOne", "PagingClusterTwo", "PagingClusterMarker"):
        assert len(stack.texts(ALICE, f"] [FIRING] {name}")) == 1, name  # once, not twice
    assert len(stack.texts(BOB, "PagingClusterMarker")) == 1
    assert stack.texts(BOB, "PagingClusterOne") == stack.texts(BOB, "PagingClusterTwo") == []
