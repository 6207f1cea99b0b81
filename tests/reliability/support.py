"""Shared helpers of the reliability suite: one send through each host, and the checks
every fault must pass (accepted or failed with a reason, nothing lost, no duplicates).

A "run" is one notification to several recipients through one host: the library
(`KpnSms`), the `kpn-sms` CLI in a subprocess, or `kpn-sms serve` (`POST /notify`) on
127.0.0.1. Each host reports per recipient; `Run` holds that in one shape.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from kpn_sms_notify import KpnSms
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.errors import KpnSmsError
from kpn_sms_notify.numbers import mask_number, wire_number
from kpn_sms_notify.server import split_config, start

# Recipients whose masks (first 3 and last 2 digits) differ, so masked host output maps back.
NUMBERS = ("31612345678", "31687654321", "31655512345", "31655512356", "31655512367", "31655512389")
SERVE_TOKEN = "serve-bearer-token-0123"
PATH_SECRET = "inbound-path-secret-0123456789"
# Words in a failure reason saying the text may have gone out (the ambiguous class).
AMBIGUOUS_WORDS = ("timed out", "connection lost", "unreadable", "HTTP 500", "HTTP 502", "HTTP 504")
# Knob values that undo every fault used here.
CLEAR_FAULTS: dict[str, Any] = {
    "script": [],
    "rate_limit": None,
    "rate_limit_burst": None,
    "token_endpoint_down": False,
    "token_endpoint_status": None,
    "sunset": "n/a",
    "latency": 0.0,
    "error_rate": 0.0,
    "drop_rate": 0.0,
    "slow_rate": 0.0,
    "bad_body_rate": 0.0,
    "api_products": ["sms-nexmo", "phone-numbers-nexmo"],
}


@dataclass
class Row:
    """One recipient's outcome as the host reported it."""

    recipient: str  # E.164 digits as on the wire (mapped back from the mask where the host masks)
    ok: bool
    reason: str | None = None
    message_ids: tuple[str, ...] | None = None  # None where the host does not report ids
    outcome: str = ""  # the host's own word (serve: sent, failed, retry, already_sent)

    def __post_init__(self) -> None:
        # Hosts report numbers with "+"; the emulator counts them by their wire digits.
        self.recipient = wire_number(self.recipient)


@dataclass
class Run:
    """One notification through one host."""

    host: str
    rows: list[Row] = field(default_factory=list)
    error: str | None = None  # a failure of the whole notification (nothing sent)
    code: int | None = None  # exit code (CLI) or HTTP status (serve)
    output: str = ""  # everything the host printed or answered, for leak checks

    def failed(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    def row(self, number: str) -> Row:
        return next(r for r in self.rows if r.recipient == number)


# ------------------------------------------------------------------ the hosts


async def library_send(sms: KpnSms, numbers: Iterable[str], message: str) -> Run:
    try:
        report = await sms.send(message, list(numbers))
    except KpnSmsError as err:
        return Run("library", error=str(err), output=str(err))
    rows = [
        Row(r.recipient, r.ok, r.reason, r.message_ids if r.ok else None) for r in report.results
    ]
    return Run("library", rows, output="\n".join(r.describe() for r in report.results))


def write_cli_config(
    path: Path,
    url: str,
    *,
    client_id: str = EMU_CLIENT_ID,
    client_secret: str = EMU_CLIENT_SECRET,
    **options: Any,
) -> Path:
    config = {
        "client_id": client_id,
        "client_secret": client_secret,
        "sender": "KPNAlert",
        "base_url": url,
        **options,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
    return subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", *args],
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_send(config: Path, numbers: Iterable[str], message: str, *extra: str) -> Run:
    args = ["--config", str(config), *extra, "send", "--json"]
    for number in numbers:
        args += ["--to", number]
    proc = run_cli(*args, message)
    output = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        return Run("cli", error=proc.stderr.strip(), code=proc.returncode, output=output)
    data = json.loads(proc.stdout)
    rows = [
        Row(r["recipient"], r["ok"], r["reason"], tuple(r["message_ids"]) if r["ok"] else None)
        for r in data["results"]
    ]
    return Run("cli", rows, code=proc.returncode, output=output)


def serve_raw(
    url: str,
    tmp_path: Path,
    *,
    client: dict[str, Any] | None = None,
    serve: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole `kpn-sms serve` config (client keys plus the `serve:` section)."""
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": "KPNAlert",
        "base_url": url,
        **(client or {}),
        "serve": {
            "listen": "127.0.0.1:0",
            "token": SERVE_TOKEN,
            "path_secret": PATH_SECRET,
            "state_dir": str(tmp_path / "state"),
            "sinks": {"jsonl": str(tmp_path / "inbound.jsonl")},
            "notify": {"allow": list(NUMBERS)},  # /notify texts only allowed numbers
            **(serve or {}),
        },
    }


@asynccontextmanager
async def running_serve(raw: dict[str, Any]) -> AsyncIterator[str]:
    """`kpn-sms serve` in this event loop on 127.0.0.1 (a free port); yields its URL."""
    client_config, config = split_config(raw)
    server = await start(client_config, config)
    try:
        yield server.url
    finally:
        await server.stop()


async def serve_send(
    url: str, numbers: Iterable[str], message: str, *, key: str | None = None
) -> Run:
    numbers = list(numbers)
    masks = {mask_number(f"+{n}"): n for n in numbers}  # hosts show "+316******78"
    assert len(masks) == len(numbers), "test numbers must have distinct masks"
    headers = {"Authorization": f"Bearer {SERVE_TOKEN}"}
    if key:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(timeout=120, trust_env=False) as http:
        answer = await http.post(
            url + "/notify", headers=headers, json={"message": message, "recipients": numbers}
        )
    body = answer.json()
    rows = [
        Row(
            masks[r["recipient"]],
            r["outcome"] in ("sent", "already_sent"),
            r.get("reason"),
            outcome=r["outcome"],
        )
        for r in body.get("results", [])
    ]
    return Run("serve", rows, code=answer.status_code, output=answer.text)


# ------------------------------------------------------------------ the checks


def accepted_counts(emulator: Emulator) -> Counter[str]:
    return Counter(m["to"] for m in emulator.messages)


def check_run(
    run: Run, emulator: Emulator, numbers: Iterable[str], *, duplicates_ok: Iterable[str] = ()
) -> None:
    """The issue's invariants for one notification.

    - every recipient ends accepted, or failed with a one-line reason;
    - nothing is lost silently: an accepted row is in the emulator (same ids, where the host
      reports them), and a failed row the emulator did accept says the text may have gone out;
    - no duplicate texts, except for `duplicates_ok` (documented ambiguous retries);
    - nothing reaches anyone who was not a recipient.
    """
    numbers = list(numbers)
    sent = accepted_counts(emulator)
    ids = {m["to"]: m["message_ids"] for m in emulator.messages}
    assert set(sent) <= set(numbers), f"texts to non-recipients: {set(sent) - set(numbers)}"
    if run.error is not None:
        assert run.error.strip() and "\n" not in run.error.strip(), run.error
        assert not run.rows
        assert not sent, "the notification failed as a whole, yet something was sent"
        return
    assert sorted(r.recipient for r in run.rows) == sorted(numbers), run.rows
    for row in run.rows:
        if row.ok:
            assert sent[row.recipient] >= 1, f"{row.recipient} reported accepted but not sent"
            if row.message_ids is not None and sent[row.recipient] == 1:
                assert list(row.message_ids) == ids[row.recipient]
        else:
            assert row.reason and row.reason.strip(), f"{row.recipient}: failed without reason"
            assert "\n" not in row.reason
            if sent[row.recipient]:
                assert any(w in row.reason for w in AMBIGUOUS_WORDS), (
                    f"{row.recipient} was texted but reported a plain failure: {row.reason}"
                )
    allowed = set(duplicates_ok)
    for number, count in sent.items():
        if number not in allowed:
            assert count == 1, f"{number} texted {count} times"


class ExpireMidBatch(threading.Thread):
    """Expire every token once the emulator has accepted `after` texts (optionally taking
    the token endpoint down at the same moment): the token dies in the middle of a batch."""

    def __init__(
        self,
        emulator: Emulator,
        after: int,
        *,
        endpoint_down: bool = False,
        endpoint_status: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.emulator, self.after, self.endpoint_down = emulator, after, endpoint_down
        self.endpoint_status = endpoint_status
        self.fired = threading.Event()
        self._stop_at = time.monotonic() + 60

    def run(self) -> None:
        while time.monotonic() < self._stop_at:
            if self.emulator.counters["accepted"] >= self.after:
                if self.endpoint_down:
                    self.emulator.configure(token_endpoint_down=True)
                if self.endpoint_status is not None:
                    self.emulator.configure(token_endpoint_status=self.endpoint_status)
                self.emulator.expire_tokens()
                self.fired.set()
                return
            time.sleep(0.002)


class ServeThread:
    """`kpn-sms serve` on 127.0.0.1 in a thread of its own (own event loop), for sync tests
    (hypothesis) and load tests that drive it from another loop."""

    def __init__(self, raw: dict[str, Any]) -> None:
        import asyncio

        self._asyncio = asyncio
        self.raw = raw
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="kpn-serve-test"
        )
        self._server: Any = None

    def __enter__(self) -> ServeThread:
        self._thread.start()
        client_config, config = split_config(self.raw)
        future = self._asyncio.run_coroutine_threadsafe(start(client_config, config), self._loop)
        self._server = future.result(timeout=30)
        self.url = self._server.url
        return self

    def __exit__(self, *exc: object) -> None:
        future = self._asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop)
        future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def apprise_url(url: str, numbers: Iterable[str], **options: Any) -> str:
    from urllib.parse import urlencode

    query = urlencode(
        {
            "base_url": url,
            **{k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()},
        }
    )
    return f"kpnsms://{EMU_CLIENT_ID}:{EMU_CLIENT_SECRET}@KPNAlert/{'/'.join(numbers)}?{query}"


def apprise_send(url: str, numbers: Iterable[str], message: str, **options: Any) -> Run:
    """`Apprise().notify()` with a kpnsms:// URL; per-recipient outcomes from the plugin's
    log lines ("Sent KPN SMS to <masked>", "Failed to send KPN SMS to <masked>: why")."""
    import apprise

    import kpn_sms_notify.apprise_plugin  # noqa: F401  (registers kpnsms://)

    numbers = list(numbers)
    masks = {mask_number(f"+{n}"): n for n in numbers}  # hosts show "+316******78"
    handler = _Records()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        notifier = apprise.Apprise()
        assert notifier.add(apprise_url(url, numbers, **options))
        ok = bool(notifier.notify(message))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    rows: dict[str, Row] = {}
    lines = [r.getMessage() for r in handler.records]
    for line in lines:
        sent = re.match(r"Sent KPN SMS to (\S+) \(", line)
        failed = re.match(r"Failed to send KPN SMS to (\S+): (.*)", line)
        if sent and sent.group(1) in masks:
            rows[masks[sent.group(1)]] = Row(masks[sent.group(1)], True)
        elif failed and failed.group(1) in masks:
            number = masks[failed.group(1)]
            rows[number] = Row(number, False, failed.group(2), outcome="failed")
    run = Run("apprise", list(rows.values()), code=0 if ok else 1, output="\n".join(lines))
    assert ok == all(r.ok for r in run.rows) and len(run.rows) == len(numbers), run.output
    return run


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else 0.0


def serve_process(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`kpn-sms serve --config CONFIG` as its own process, output to LOG; waits (60 s at
    most) for its "listening on" line and returns the process and its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kpn_sms_notify", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            return proc, found.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("kpn-sms serve did not start")
