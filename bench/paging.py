"""`python -m bench.paging [--acks N] [--escalations N]`: paging's two figures, measured on a
real Prometheus Alertmanager (`prometheus-alertmanager` on PATH), `kpn-sms serve` and the
emulator (in its own process), all on 127.0.0.1.

- reply -> silence: a page's `ACK <ref>` is injected at the emulator (which calls serve's
  inbound webhook as KPN does); the clock stops when Alertmanager's API shows the silence.
- escalation lateness: alerts nobody acknowledges; the second step (after STEP seconds) is
  due at the alert's post time + STEP; lateness is when the emulator accepted that page
  minus the due time (Alertmanager's group_interval here: 1 s).

Writes bench/results/paging.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from kpn_sms_notify.emulator import DEFAULT_VIRTUAL_NUMBER
from kpn_sms_notify.paging.routes import route_config
from kpn_sms_notify.server.config import split_config
from kpn_sms_notify.sync_client import KpnSmsSync

from .emulator_proc import EMU_CLIENT_ID, EMU_CLIENT_SECRET, EmulatorProcess

HERE = Path(__file__).resolve().parent
TOKEN = "bench-paging-token-0001"
PATH_SECRET = "bench-paging-path-secret-0001"
ALICE, BOB = "31612345678", "31687654321"
STEP = 3.0
GROUP_INTERVAL = "1s"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": round(_percentile(samples, 0.5), 3),
        "p99": round(_percentile(samples, 0.99), 3),
        "max": round(max(samples), 3),
        "mean": round(statistics.fmean(samples), 3),
    }


class Rig:
    """Emulator, serve and Alertmanager, started in that order; `stop()` ends them."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise SystemExit("bench.paging: prometheus-alertmanager is not installed")
        self.emulator = EmulatorProcess(latency=0.0, rate_limit=None)
        self.http = httpx.Client(timeout=10, trust_env=False)
        serve_port, am_port = _port(), _port()
        self.serve_url = f"http://127.0.0.1:{serve_port}"
        self.am_url = f"http://127.0.0.1:{am_port}"
        client = {
            "client_id": EMU_CLIENT_ID,
            "client_secret": EMU_CLIENT_SECRET,
            "base_url": self.emulator.url,
            "sender": DEFAULT_VIRTUAL_NUMBER,
            "recipients": {"alice": "+" + ALICE, "bob": "+" + BOB},
            # 25 incidents page alice and bob within a minute: the storm cap (10 a phone per
            # window) would hold the later pages back, and this measures paging, not the cap.
            "storm_cap": 0,
        }
        config = {
            **client,
            "serve": {
                "listen": f"127.0.0.1:{serve_port}",
                "token": TOKEN,
                "state_dir": str(tmp / "state"),
                "path_secret": PATH_SECRET,
                "paging": {
                    "alertmanager": {"url": self.am_url},
                    "chains": {
                        "oncall": {
                            "steps": [
                                {"after": 0, "recipients": ["alice"]},
                                {"after": STEP, "recipients": ["bob"]},
                            ]
                        }
                    },
                    "keepalive": "10m",
                    "poll_interval": "1s",
                    "reply_limit": 1000,
                },
            },
        }
        path = tmp / "kpn-sms.yaml"
        path.write_text(yaml.safe_dump(config))
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs = [open(tmp / "serve.log", "wb"), open(tmp / "am.log", "wb")]  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(path)],
                stdout=self._logs[0],
                stderr=subprocess.STDOUT,
            )
        )
        _until(lambda: self.http.get(self.serve_url + "/healthz").status_code == 200, 30, "serve")
        paging = split_config(config)[1].paging
        assert paging is not None
        routes = route_config(paging, serve_url=self.serve_url, bearer=True)
        for receiver in routes["receivers"]:
            receiver["webhook_configs"][0]["http_config"]["authorization"]["credentials"] = TOKEN
        am_config = {
            "route": {
                "receiver": "nobody",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": GROUP_INTERVAL,
                "repeat_interval": "1h",
                **routes["route"],
            },
            "receivers": [{"name": "nobody"}, *routes["receivers"]],
        }
        (tmp / "am.yml").write_text(yaml.safe_dump(am_config))
        self.procs.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={tmp / 'am.yml'}",
                    f"--storage.path={tmp / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                stdout=self._logs[1],
                stderr=subprocess.STDOUT,
            )
        )
        _until(lambda: self.http.get(self.am_url + "/-/ready").status_code == 200, 30, "AM")
        with KpnSmsSync.from_config(client) as sms:
            sms.register_webhook(DEFAULT_VIRTUAL_NUMBER, f"{self.serve_url}/inbound/{PATH_SECRET}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)
        for log in self._logs:
            log.close()
        self.http.close()
        self.emulator.stop()

    def fire(self, name: str) -> float:
        alert = {
            "labels": {"alertname": name, "paging": "oncall"},
            "annotations": {"summary": name},
            "startsAt": datetime.now(UTC).isoformat(),
        }
        posted = time.time()
        self.http.post(f"{self.am_url}/api/v2/alerts", json=[alert]).raise_for_status()
        return posted

    def pages(self, number: str, name: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.emulator.state()["messages"]
            if m["to"] == number and f"] {name}" in m["text"]
        ]

    def silenced(self, ref: str) -> bool:
        silences = self.http.get(f"{self.am_url}/api/v2/silences").json()
        prefix = f"kpn-sms ACK {ref} "
        return any(
            s["status"]["state"] == "active" and s["comment"].startswith(prefix) for s in silences
        )


def measure_acks(rig: Rig, count: int) -> list[float]:
    latencies = []
    for i in range(count):
        name = f"BenchAck{i}"
        rig.fire(name)
        page = _until(lambda n=name: rig.pages(ALICE, n), 30, f"{name}'s page", every=0.02)[0]
        found = re.search(r"Reply ACK ([0-9A-Z]+) ", page["text"])
        assert found, page["text"]
        ref = found.group(1)
        start = time.monotonic()
        rig.http.post(  # the phone replies; KPN calls serve's inbound webhook
            f"{rig.emulator.url}/_emulator/inbound", json={"msisdn": ALICE, "text": f"ack {ref}"}
        ).raise_for_status()
        _until(lambda r=ref: rig.silenced(r), 30, f"{ref}'s silence")
        latencies.append(time.monotonic() - start)
    return latencies


def measure_escalation(rig: Rig, count: int) -> list[float]:
    posted = {f"BenchEsc{i}": rig.fire(f"BenchEsc{i}") for i in range(count)}

    def all_paged() -> dict[str, dict[str, Any]] | None:
        found = {}
        for message in rig.emulator.state()["messages"]:
            if message["to"] == BOB:
                for name in posted:
                    if f"] {name}" in message["text"]:
                        found[name] = message
        return found if len(found) == len(posted) else None

    pages = _until(all_paged, 60, "every escalation page", every=0.05)
    return [
        datetime.fromisoformat(pages[name]["received_at"]).timestamp() - (at + STEP)
        for name, at in posted.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paging", description=__doc__)
    parser.add_argument("--acks", type=int, default=25)
    parser.add_argument("--escalations", type=int, default=25)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "paging.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kpn-bench-paging-") as tmp:
        rig = Rig(Path(tmp))
        try:
            acks = measure_acks(rig, args.acks)
            late = measure_escalation(rig, args.escalations)
        finally:
            rig.stop()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "step_seconds": STEP,
        "group_interval": GROUP_INTERVAL,
        "reply_to_silence_seconds": _summary(acks),
        "escalation_lateness_seconds": _summary(late),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| figure | n | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for key, label in (
        ("reply_to_silence_seconds", "reply -> silence (s)"),
        ("escalation_lateness_seconds", "escalation lateness vs due time (s)"),
    ):
        row = result[key]
        assert isinstance(row, dict)
        print(f"| {label} | {row['n']} | {row['p50']} | {row['p99']} | {row['max']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
