"""Secret-leak checks: every host path run with distinctive credentials and DEBUG logging.

Neither the client_secret (nor any other configured secret) nor an access token the
emulator issued may appear in logs, reprs, exception texts, CLI output, privacy URLs, HTTP
answers or metrics; phone numbers in logs are masked. The tokens are read back from the
emulator (`emulator.state.tokens` and the expired ones), so the check knows every one.
Home Assistant's paths are in tests/homeassistant/test_reliability_ha.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kpn_sms_notify import KpnSms, KpnSmsSync
from kpn_sms_notify.emulator import Emulator
from kpn_sms_notify.errors import KpnSmsError
from kpn_sms_notify.inbound import compute_signature
from kpn_sms_notify.numbers import mask_number

from .support import run_cli

CLIENT_ID = "canary-client-id"
SECRET = "S3CR3T-LEAK-CANARY-7f3a9c2e"
WRONG_SECRET = "S3CR3T-LEAK-CANARY-wrong-5d1b"
SERVE_TOKEN = "S3CR3T-LEAK-CANARY-serve-token-88"
SERVE_PASSWORD = "S3CR3T-LEAK-CANARY-basic-pw-31"
PATH_SECRET = "S3CR3T-LEAK-CANARY-path-4a4a4a4a"
SIGNATURE_SECRET = "S3CR3T-LEAK-CANARY-sig-6b6b"
CANARY = "S3CR3T-LEAK-CANARY"
A, B, C = "31612345678", "31687654321", "31655512345"
NATIONAL = {"0612345678", "0687654321", "0655512345"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(client_id=CLIENT_ID, client_secret=SECRET) as emulator:
        yield emulator


def issued_tokens(emulator: Emulator) -> set[str]:
    with emulator.state.lock:
        return set(emulator.state.tokens) | set(emulator.state.expired)


def assert_no_leak(text: str, emulator: Emulator, *, path_secret_ok: bool = False) -> None:
    """No secret (any canary), no issued access token, not even a 12-character piece."""
    tokens = issued_tokens(emulator)
    assert tokens, "the run never got a token: the check would be empty"
    for token in tokens:
        for piece in (token, token[:12], token[-12:]):
            assert piece not in text, f"access token leaked: ...{piece[-4:]}"
    hits = [m.start() for m in re.finditer(re.escape(CANARY), text)]
    if path_secret_ok:  # the path secret is in the URLs the test itself printed
        hits = [h for h in hits if not text.startswith(PATH_SECRET, h)]
    assert not hits, f"secret leaked: {text[max(hits[0] - 80, 0) : hits[0] + 40]!r}"


def assert_numbers_masked(log: str, numbers: Iterable[str] = (A, B, C)) -> None:
    numbers = list(numbers)
    for number in [*numbers, *NATIONAL]:
        assert number not in log, f"unmasked number {mask_number(number)} in the log"
    assert any(mask_number(n) in log for n in numbers), "no masked number: check is empty"


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """The formatted log plus each record's raw args and exception text."""
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


# ------------------------------------------------------------------ the library


async def test_library_async(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    shown: list[str] = []
    url = emu.url or ""
    async with KpnSms(
        CLIENT_ID,
        SECRET,
        base_url=url,
        sender="KPNAlert",
        recipients=["0612345678"],
        rate_limit=100,
    ) as sms:
        shown += [repr(sms), str(sms.settings), repr(sms.settings), repr(sms.session)]
        token = await sms.authenticate()
        shown += [repr(token), str(token)]
        report = await sms.send("hello", [A, B], title="up")
        emu.configure(
            script=[{"http": 500}, {"status": "29"}, {"http": 401}], forced_status={C: "7"}
        )
        failing = await sms.send("faults", [A, B, C])
        emu.configure(script=[], auth_error_body="kpn")
        emu.expire_tokens()  # renewal path
        renewed = await sms.send("renewed", [A])
        for rep in (report, failing, renewed):
            shown.append(repr(rep))
            for result in rep.results:
                shown += [repr(result), result.describe(), str(result.error), repr(result.error)]
    assert renewed.ok and not failing.ok
    async with KpnSms(CLIENT_ID, WRONG_SECRET, base_url=url, sender="KPNAlert") as bad:
        with pytest.raises(KpnSmsError) as info:
            await bad.send("refused", [A])
        shown += [str(info.value), repr(info.value), repr(bad)]
    text = everything_logged(caplog) + "\n" + "\n".join(shown)
    assert "HTTP 200" in caplog.text  # the answers were logged at DEBUG
    assert_no_leak(text, emu)
    assert_numbers_masked(caplog.text)


def test_library_sync(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    with KpnSmsSync(CLIENT_ID, SECRET, base_url=emu.url or "", sender="KPNAlert") as sms:
        shown += [repr(sms), repr(sms.authenticate())]
        emu.configure(script=[{"bad_body": "html"}, {"drop": True}])
        report = sms.send("hello", [A, B, C])
        shown += [repr(report)] + [f"{r.describe()} {r.error!r}" for r in report.results]
    with KpnSmsSync(CLIENT_ID, WRONG_SECRET, base_url=emu.url or "", sender="X") as bad:
        with pytest.raises(KpnSmsError) as info:
            bad.authenticate()
        shown.append(repr(info.value))
    assert_no_leak(everything_logged(caplog) + "\n".join(shown), emu)
    assert_numbers_masked(caplog.text)


# ------------------------------------------------------------------ the CLI


def test_cli_debug(emu: Emulator, tmp_path: Path) -> None:
    config = tmp_path / "kpn.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "sender": "KPNAlert",
                "base_url": emu.url,
                "recipients": ["0612345678", "0687654321"],
            }
        )
    )
    outputs = []
    for args in (
        ["token"],
        ["send", "hello"],
        ["send", "--json", "hello"],
        ["register-webhook", "--to", "0612345678", "https://example.org/in"],
    ):
        proc = run_cli("--config", str(config), "--debug", *args)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs.append((proc.stdout, proc.stderr))
    emu.configure(script=[{"http": 500}, {"drop": True}], forced_status={A: "29"})
    failing = run_cli(
        "--config", str(config), "--debug", "send", "--to", C, "--to", A, "--to", B, "faults"
    )
    assert failing.returncode == 1
    outputs.append((failing.stdout, failing.stderr))
    emu.expire_tokens()
    wrong = run_cli(
        "--config", str(config), "--debug", "send", "x", env={"KPN_SMS_CLIENT_SECRET": WRONG_SECRET}
    )
    assert wrong.returncode == 3, wrong.stderr  # the environment's (wrong) secret wins
    outputs.append((wrong.stdout, wrong.stderr))
    config.write_text(config.read_text() + "max_parts: lots\n")
    invalid = run_cli("--config", str(config), "send", "x")
    assert invalid.returncode == 2 and "max_parts" in invalid.stderr
    outputs.append((invalid.stdout, invalid.stderr))
    text = "\n".join(o + e for o, e in outputs)
    assert "accesstoken" in text  # the debug log shows the token request (not its answer)
    assert_no_leak(text, emu)
    # Logs (stderr) and the human output mask numbers; --json is data and names them.
    human = "\n".join(e for _, e in outputs) + outputs[1][0] + failing.stdout
    assert_numbers_masked(human)


# ------------------------------------------------------------------ kpn-sms serve


class ServeProcess:
    """`kpn-sms --debug serve --config FILE` as a real process; its log is a file."""

    def __init__(self, config: Path, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KPN_SMS_")}
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kpn_sms_notify", "--debug", "serve", "--config", str(config)],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                return found.group(1)
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError("kpn-sms serve did not start: " + self.log.read_text())

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self._out.close()
        return self.log.read_text()


def serve_config(path: Path, url: str, tmp: Path, *, basic: bool = False) -> Path:
    serve: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "path_secret": PATH_SECRET,
        "signature_secret": SIGNATURE_SECRET,
        "signature_method": "sha256",
        "state_dir": str(tmp / "state"),
        "sinks": {"jsonl": str(tmp / "in.jsonl")},
        "metrics_auth": False,
        "notify": {"allow": [A, B, C]},
    }
    if basic:
        serve["basic_auth"] = {"username": "am", "password": SERVE_PASSWORD}
    else:
        serve["token"] = SERVE_TOKEN
    path.write_text(
        yaml.safe_dump(
            {
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "sender": "KPNAlert",
                "base_url": url,
                "recipients": ["0612345678", "0687654321"],
                "serve": serve,
            }
        )
    )
    return path


ALERT = {
    "version": "4",
    "status": "firing",
    "receiver": "oncall",
    "groupKey": "g1",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "severity": "critical"},
            "annotations": {"summary": "Disk /var is 95% full"},
            "startsAt": "2026-01-01T00:00:00Z",
            "fingerprint": "f1",
        }
    ],
}


def test_serve_logs_answers_and_metrics(emu: Emulator, tmp_path: Path) -> None:
    config = serve_config(tmp_path / "serve.yaml", emu.url or "", tmp_path)
    config.chmod(0o644)  # readable by every user: serve warns, naming file and mode only
    server = ServeProcess(config, tmp_path / "serve.log")
    answers: list[httpx.Response] = []
    bearer = {"Authorization": f"Bearer {SERVE_TOKEN}"}
    try:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
            answers.append(http.post("/alertmanager", json=ALERT, headers=bearer))
            assert answers[-1].status_code == 200, answers[-1].text
            emu.configure(script=[{"http": 500}], forced_status={B: "29"})
            answers.append(
                http.post(
                    "/notify", headers=bearer, json={"message": "faults", "recipients": [A, B, C]}
                )
            )
            emu.configure(script=[])
            emu.expire_tokens()
            emu.configure(token_endpoint_status=401)  # renewal refused: an auth error answer
            answers.append(http.post("/notify", headers=bearer, json={"message": "refused"}))
            assert "invalid_client" in answers[-1].text
            emu.configure(token_endpoint_status=None)
            answers.append(http.post("/notify", json={"message": "no auth"}))
            answers.append(
                http.post(
                    "/notify",
                    json={"message": "wrong"},
                    headers={"Authorization": f"Bearer {WRONG_SECRET}"},
                )
            )
            answers.append(http.post("/notify", headers=bearer, content=b"{not json"))
            inbound = {
                "msisdn": A,
                "to": "3197012345678",
                "messageId": "0A01",
                "text": "ACK",
                "type": "text",
                "timestamp": str(int(time.time())),
            }
            signed = {**inbound, "sig": compute_signature(inbound, SIGNATURE_SECRET, "sha256")}
            answers.append(http.post(f"/inbound/{PATH_SECRET}", data=signed))
            assert answers[-1].status_code == 200, answers[-1].text
            answers.append(
                http.post(
                    f"/inbound/{PATH_SECRET}", data={**inbound, "messageId": "0A02", "sig": "00"}
                )
            )
            assert answers[-1].status_code == 401
            answers.append(
                http.get(
                    f"/delivery/{PATH_SECRET}",
                    params={"messageId": "0A03", "status": "delivered", "msisdn": B},
                )
            )
            answers.append(http.get("/inbound/wrong-path-secret"))
            # Malformed but correctly signed calls (KPN retries these for a day): 400s.
            for kind, params in (
                ("inbound", {"msisdn": A, "timestamp": inbound["timestamp"]}),
                (
                    "delivery",
                    {"status": "delivered", "msisdn": B, "timestamp": inbound["timestamp"]},
                ),
            ):
                sig = compute_signature(params, SIGNATURE_SECRET, "sha256")
                answers.append(http.post(f"/{kind}/{PATH_SECRET}", data={**params, "sig": sig}))
                assert answers[-1].status_code == 400, answers[-1].text
            answers.append(
                http.post(
                    f"/inbound/{PATH_SECRET}",
                    content=b'{"msisdn": ',
                    headers={"Content-Type": "application/json"},
                )
            )
            assert answers[-1].status_code == 400
            answers.append(http.get("/metrics"))
            answers.append(http.get("/healthz"))
            assert "kpn_sms_token_requests_total" in answers[-2].text
    finally:
        log = server.stop()
    seen = "\n".join(f"{a.status_code} {dict(a.headers)} {a.text}" for a in answers)
    assert "DEBUG" in log and "accesstoken" in log  # the debug log did run
    assert f"config {config} is readable by every user (mode 0644)" in log
    assert "POST /inbound/{secret}: 400" in log  # the route pattern, never the path
    assert "POST /delivery/{secret} 400" in log  # the access log, same
    assert_no_leak(log + "\n" + seen, emu)
    assert_numbers_masked(log)


async def test_serve_rejected_inbound_never_logs_the_path_secret(
    emu: Emulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every way an inbound or delivery call can be refused, plus an unexpected failure,
    with signatures off (the path secret is then the only guard), logged at DEBUG."""
    from kpn_sms_notify.server import inbound_routes, split_config, start

    caplog.set_level(logging.DEBUG)
    json_type = {"Content-Type": "application/json"}
    client, serve = split_config(
        {
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "base_url": emu.url,
            "serve": {
                "listen": "127.0.0.1:0",
                "token": SERVE_TOKEN,
                "path_secret": PATH_SECRET,
                "sinks": {"jsonl": str(tmp_path / "in.jsonl")},
            },
        }
    )
    server = await start(client, serve)
    statuses: list[int] = []
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as http:
            for kind in ("inbound", "delivery"):
                base = f"/{kind}/{PATH_SECRET}"
                for request in (
                    http.post(base, json={"msisdn": A}),
                    http.post(base, json=["not", "an", "object"]),
                    http.post(base, content=b'{"a": ', headers=json_type),
                    http.post(base, content=b"\xff\xfe=1"),
                    http.post(base, content=b"x", headers={"Content-Type": "image/png"}),
                    http.post(
                        base, content=b'{"a":' * 5000 + b"1" + b"}" * 5000, headers=json_type
                    ),
                    http.get(base, params={"msisdn": A, "type": "text"}),
                    http.get(base + "x"),  # a near miss holds the whole secret
                    http.get(base + "/"),
                ):
                    statuses.append((await request).status_code)

            def broken(_params: object) -> None:
                raise RuntimeError("forced failure")

            monkeypatch.setattr(inbound_routes, "parse_inbound", broken)
            monkeypatch.setattr(inbound_routes, "parse_delivery_receipt", broken)
            for kind in ("inbound", "delivery"):
                answer = await http.post(f"/{kind}/{PATH_SECRET}", json={"msisdn": A})
                statuses.append(answer.status_code)
    finally:
        await server.stop()
    assert statuses.count(503) == 2 and statuses.count(404) == 4, statuses
    assert set(statuses) == {400, 404, 503}, str(list(enumerate(statuses)))
    # The server's records (ours and aiohttp's), not the test client's (httpx logs its URLs).
    server_side = [r for r in caplog.records if r.name.startswith(("kpn_sms_notify", "aiohttp"))]
    logged = "\n".join(
        f"{caplog.handler.format(r)} {r.args!r} {r.exc_info[1] if r.exc_info else ''}"
        for r in server_side
    )
    assert "unexpected error on POST /inbound/{secret}" in logged  # the check is not empty
    assert "POST /delivery/{secret}: 400" in logged
    assert "kpn_sms_notify.server.access" in {r.name for r in caplog.records}
    assert PATH_SECRET not in logged and PATH_SECRET[-12:] not in logged


def test_serve_basic_auth_and_config_errors(emu: Emulator, tmp_path: Path) -> None:
    config = serve_config(tmp_path / "serve.yaml", emu.url or "", tmp_path, basic=True)
    server = ServeProcess(config, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as http:
            ok = http.post("/notify", json={"message": "hi"}, auth=("am", SERVE_PASSWORD))
            bad = http.post("/notify", json={"message": "hi"}, auth=("am", WRONG_SECRET))
        assert (ok.status_code, bad.status_code) == (200, 401)
    finally:
        log = server.stop()
    answers = ok.text + bad.text + str(dict(bad.headers))
    # Refused configs: each error line names the key, never the secret.
    lines = []
    raw = yaml.safe_load(config.read_text())
    for key, value in (
        ("token", 12345),
        ("signature_secret", [SIGNATURE_SECRET]),
        ("path_secret", PATH_SECRET + " with space"),
        ("basic_auth", {"username": "am", "password": [SERVE_PASSWORD]}),
    ):
        broken = json.loads(json.dumps(raw))
        broken["serve"][key] = value
        config.write_text(yaml.safe_dump(broken))
        proc = run_cli("serve", "--config", str(config))
        assert proc.returncode == 2, proc.stderr
        lines.append(proc.stderr)
    assert_no_leak(log + answers + "\n".join(lines), emu)


# ------------------------------------------------------------------ Apprise

APPRISE = Path(sys.executable).with_name("apprise")


def apprise_url(
    emulator: Emulator,
    secret: str = SECRET,
    targets: str = "0612345678/31687654321",
    extra: str = "",
) -> str:
    return f"kpnsms://{CLIENT_ID}:{secret}@KPNAlert/{targets}?base_url={emulator.url}{extra}"


def test_apprise_in_process(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    import apprise

    import kpn_sms_notify.apprise_plugin  # noqa: F401  (registers kpnsms://)

    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    for url in (
        apprise_url(emu),
        apprise_url(emu, extra="&max_parts=2&region=BE"),
        f"kpnsms://KPNAlert/0612345678?client_id={CLIENT_ID}&secret={SECRET}&base_url={emu.url}",
    ):
        plugin = apprise.Apprise.instantiate(url)
        assert plugin is not None, url
        shown += [plugin.url(privacy=True), repr(plugin), str(plugin.url_id())]
        assert SECRET not in plugin.url(privacy=True)
    sender = apprise.Apprise()
    assert sender.add(apprise_url(emu))
    assert sender.notify("hello", title="up")
    emu.configure(forced_status={B: "29"}, script=[{"http": 500}])
    assert not sender.notify("fails")
    emu.configure(script=[])
    bad = apprise.Apprise()
    bad.add(apprise_url(emu, WRONG_SECRET, "0655512345"))
    assert not bad.notify("refused")
    for broken in (
        apprise_url(emu, targets="not-a-number"),
        f"kpnsms://{CLIENT_ID}:{SECRET}@KPN Alert!/0612345678",
        f"kpnsms://{CLIENT_ID}:{SECRET}@KPNAlert/0612345678?max_parts=lots",
    ):
        apprise.Apprise().add(broken)
        plugin = apprise.Apprise.instantiate(broken)
        if plugin is not None:
            shown.append(repr(plugin))
            plugin.notify("x")
    assert_no_leak(everything_logged(caplog) + "\n".join(shown), emu)
    assert_numbers_masked(outside_apprise_core(caplog.text), (A, B))


def outside_apprise_core(log: str) -> str:
    """The log less apprise's own "Could not load ... URL" line for a URL that failed to
    load: apprise prints that URL through its generic CWE-312 filter (secrets starred, the
    path kept), before any plugin code runs. Documented in docs/reliability.md."""
    return "\n".join(line for line in log.splitlines() if "Could not load" not in line)


def apprise_cli(tmp_path: Path, verbosity: str) -> Any:
    home = tmp_path / "home"
    plugins = tmp_path / "plugins"
    home.mkdir(exist_ok=True)
    plugins.mkdir(exist_ok=True)
    (plugins / "kpnsms.py").write_text("import kpn_sms_notify.apprise_plugin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPRISE_")}
    env["HOME"] = str(home)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(APPRISE), verbosity, "--plugin-path", str(plugins), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    return run


def test_apprise_cli(emu: Emulator, tmp_path: Path) -> None:
    """The most verbose level apprise offers short of TRACE (-vvv, DEBUG)."""
    run = apprise_cli(tmp_path, "-vvv")
    runs = [run("-b", "hello", apprise_url(emu)), run("-b", "again", apprise_url(emu))]
    assert runs[0].returncode == 0, runs[0].stdout + runs[0].stderr
    emu.configure(forced_status={B: "29"})
    runs.append(run("-b", "fails", apprise_url(emu)))
    assert runs[-1].returncode != 0 and "ERROR" in runs[-1].stdout + runs[-1].stderr
    runs.append(run("-b", "refused", apprise_url(emu, WRONG_SECRET)))
    runs.append(run("-b", "bad", f"kpnsms://{CLIENT_ID}:{SECRET}@KPN Alert!/0612345678"))
    runs.append(run("--dry-run", "-b", "x", apprise_url(emu)))
    runs.append(run("--details"))
    text = "\n".join(r.stdout + r.stderr for r in runs)
    assert "DEBUG" in text
    assert_no_leak(text, emu)
    assert_numbers_masked(outside_apprise_core(text), (A, B))


def test_apprise_trace_level_leak_is_apprise_core_only(emu: Emulator, tmp_path: Path) -> None:
    """At -vvvv (TRACE) apprise itself prints every URL it parses, raw, before any plugin
    code runs ("<service> URL <url> unpacked as:"); that is apprise's behaviour for every
    plugin, documented in docs/reliability.md. Everything else at TRACE stays clean."""
    run = apprise_cli(tmp_path, "-vvvv")
    done = run("-b", "hello", apprise_url(emu))
    assert done.returncode == 0
    lines = (done.stdout + done.stderr).splitlines()
    core: list[int] = []
    for i, line in enumerate(lines):
        if " unpacked as:" in line:  # this line and its key="value" block are apprise's
            core.append(i)
            core.extend(
                j
                for j in range(i + 1, len(lines))
                if "=" in lines[j] and " - " not in lines[j][:40]
            )
    rest = "\n".join(line for i, line in enumerate(lines) if i not in set(core))
    assert core, "apprise no longer prints the raw URL at TRACE: tighten this test"
    assert_no_leak(rest, emu)
