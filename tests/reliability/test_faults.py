"""The fault matrix: every gateway fault of issue 7, through the library (async and sync),
the `kpn-sms` CLI in a subprocess and `kpn-sms serve`, against the emulator on 127.0.0.1.

Each run checks the invariants in `support.check_run` (accepted or failed with a reason,
nothing lost silently, no duplicates), the fault's own expected outcome, and that the same
host works again once the fault is gone. The token-expiry faults are at the end.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kpn_sms_notify import KpnSms, KpnSmsSync
from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

from .support import (
    CLEAR_FAULTS,
    NUMBERS,
    ExpireMidBatch,
    Row,
    Run,
    accepted_counts,
    apprise_send,
    check_run,
    cli_send,
    library_send,
    running_serve,
    serve_raw,
    serve_send,
    write_cli_config,
)


@dataclass(frozen=True)
class Fault:
    id: str
    knobs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)  # client config
    recipients: int = 3
    failed: int = 0  # recipients that end failed
    reason: str = ""  # regex every failure reason matches
    failed_sent: bool = False  # the failed ones were texted all the same (ambiguous)
    whole: str | None = None  # regex: the notification fails as a whole, nothing sent


FAULTS = [
    Fault("429-burst", {"rate_limit": 3, "rate_limit_burst": 3}, recipients=6),
    Fault(
        "status1-wait",
        {"rate_limit": 3, "rate_limit_burst": 3, "rate_limit_mode": "status1"},
        recipients=6,
    ),
    # Apigee's rate-limit faults (stock Apigee answers them with 500): throttles, not sent.
    Fault(
        "quota500-burst",
        {"rate_limit": 3, "rate_limit_burst": 3, "rate_limit_mode": "quota500"},
        recipients=6,
    ),
    Fault(
        "spike500-burst",
        {"rate_limit": 3, "rate_limit_burst": 3, "rate_limit_mode": "spike500"},
        recipients=6,
    ),
    Fault(
        "quota429-burst",
        {"rate_limit": 3, "rate_limit_burst": 3, "rate_limit_mode": "quota429"},
        recipients=6,
    ),
    Fault("500-quota-fault", {"script": [{"http": 500, "body": "quota", "count": 2}]}),
    Fault("500", {"script": [{"http": 500}]}, failed=1, reason=r"HTTP 500"),
    Fault(
        "500-after-send",
        {"script": [{"http": 500, "after_send": True}]},
        failed=1,
        reason=r"HTTP 500",
        failed_sent=True,
    ),
    Fault(
        "502-html",
        {"script": [{"http": 502, "body": "html"}]},
        failed=1,
        reason=r"HTTP 502: HTML page '502 Bad Gateway'",
    ),
    Fault("503", {"script": [{"http": 503, "count": 2}]}),
    Fault("503-html", {"script": [{"http": 503, "body": "html"}]}),
    Fault("503-malformed", {"script": [{"http": 503, "body": "malformed"}]}),
    Fault("dropped", {"script": [{"drop": True}]}, failed=1, reason=r"connection lost"),
    Fault(
        "dropped-after-send",
        {"script": [{"drop": True, "after_send": True}]},
        failed=1,
        reason=r"connection lost",
        failed_sent=True,
    ),
    Fault(
        "slower-than-timeout",
        {"script": [{"slow": 3}]},
        {"timeout": 0.5},
        failed=1,
        reason=r"timed out",
        failed_sent=True,
    ),
    Fault(
        "token-endpoint-down",
        {"token_endpoint_down": True},
        whole=r"HTTP 503.*token service is not available",
    ),
    Fault(
        "token-endpoint-401",
        {"token_endpoint_status": 401},
        whole=r"token request refused: HTTP 401 invalid_client",
    ),
    # The app lacks the SMS product: a configuration error, the whole notification refused.
    Fault(
        "401-no-sms-product",
        {"api_products": ["phone-numbers-nexmo"]},
        whole=r"HTTP 401 keymanagement\.service\.InvalidAPICallAsNoApiProductMatchFound: "
        r".*add the SMS product to this app in KPN's API Store",
    ),
    Fault(
        "token-endpoint-dropped",
        {"script": [{"drop": True, "path": "token"}]},
        whole=r"token request: connection lost",
    ),
    Fault(
        "malformed-json-200",
        {"script": [{"bad_body": "malformed"}]},
        failed=1,
        reason=r"unreadable answer .*not JSON",
        failed_sent=True,
    ),
    Fault(
        "html-200",
        {"script": [{"bad_body": "html"}]},
        failed=1,
        reason=r"unreadable answer .*HTML page",
        failed_sent=True,
    ),
    Fault(
        "empty-200",
        {"script": [{"bad_body": "empty"}]},
        failed=1,
        reason=r"unreadable answer .*empty body",
        failed_sent=True,
    ),
    Fault(
        "html-400",
        {"script": [{"http": 400, "body": "html"}]},
        failed=1,
        reason=r"HTTP 400: HTML page",
    ),
    Fault("sunset", {"sunset": "2027-06-30"}),
]
IDS = [f.id for f in FAULTS]


def client_options(fault: Fault) -> dict[str, Any]:
    # A client fast enough to provoke the gateway's limits, with room to retry past them.
    return {
        "sender": "KPNAlert",
        "rate_limit": 100,
        "retries": 5,
        "retry_budget": 20,
        **fault.options,
    }


def check_fault(run: Run, fault: Fault, emulator: Emulator, numbers: list[str]) -> None:
    check_run(run, emulator, numbers)
    if fault.whole is not None and run.host != "serve":
        assert run.error is not None and re.search(fault.whole, run.error), run.error
        return
    if fault.whole is not None:  # serve reports a whole failure per recipient, as transient
        assert run.code == 503 and all(r.outcome == "retry" for r in run.rows), run.output
        assert all(re.search(fault.whole, r.reason or "") for r in run.rows), run.output
        return
    failed = run.failed()
    assert len(failed) == fault.failed, [r.reason for r in failed]
    sent = accepted_counts(emulator)
    for row in failed:
        assert re.search(fault.reason, row.reason or ""), row.reason
        assert bool(sent[row.recipient]) == fault.failed_sent, row
    if run.host == "serve":
        # 503 asks the sender (Alertmanager, Grafana) to retry; permanent refusals are a 200.
        transient = [r for r in failed if r.outcome == "retry"]
        assert run.code == (503 if transient else 200), run.output


def follow_up_ok(run: Run, emulator: Emulator, number: str, before: int) -> None:
    """After the fault: the same host texts again, once."""
    assert run.error is None and len(run.rows) == 1 and run.rows[0].ok, run.output
    assert accepted_counts(emulator)[number] == before + 1


# ------------------------------------------------------------------ library


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
async def test_library(
    fault: Fault, emulator: Emulator, emulator_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kpn_sms_notify")
    numbers = list(NUMBERS[: fault.recipients])
    emulator.configure(**fault.knobs)
    async with KpnSms(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url, **client_options(fault)
    ) as sms:
        run = await library_send(sms, numbers, f"fault {fault.id}")
        check_fault(run, fault, emulator, numbers)
        if fault.id == "sunset":
            assert "sunset: 2027-06-30" in caplog.text
        emulator.configure(**CLEAR_FAULTS)
        before = accepted_counts(emulator)[NUMBERS[0]]
        follow_up_ok(await library_send(sms, [NUMBERS[0]], "after"), emulator, NUMBERS[0], before)


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_sync_library(fault: Fault, emulator: Emulator, emulator_url: str) -> None:
    numbers = list(NUMBERS[: fault.recipients])
    emulator.configure(**fault.knobs)
    with KpnSmsSync(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url, **client_options(fault)
    ) as sms:
        try:
            report = sms.send(f"fault {fault.id}", numbers)
            run = Run(
                "sync",
                [
                    Row(r.recipient, r.ok, r.reason, r.message_ids if r.ok else None)
                    for r in report.results
                ],
            )
        except Exception as err:  # only KpnSmsError may come out; check_fault says which
            assert type(err).__module__ == "kpn_sms_notify.errors", repr(err)
            run = Run("sync", error=str(err))
        check_fault(run, fault, emulator, numbers)
        emulator.configure(**CLEAR_FAULTS)
        before = accepted_counts(emulator)[NUMBERS[0]]
        report = sms.send("after", [NUMBERS[0]])
        assert report.ok and accepted_counts(emulator)[NUMBERS[0]] == before + 1


# ------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_cli(fault: Fault, emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    numbers = list(NUMBERS[: fault.recipients])
    config = write_cli_config(tmp_path / "kpn.yaml", emulator_url, **client_options(fault))
    emulator.configure(**fault.knobs)
    run = cli_send(config, numbers, f"fault {fault.id}")
    check_fault(run, fault, emulator, numbers)
    assert "Traceback" not in run.output
    if fault.whole is None:
        assert run.code == (1 if fault.failed else 0), run.output
    else:  # the documented exit codes: 3 credentials refused, 4 gateway unreachable
        assert run.code == (3 if "401" in fault.id else 4), run.output
    if fault.id == "sunset":
        assert "sunset: 2027-06-30" in run.output
    # Each CLI run is a new process: "keeps working afterwards" is the follow-up of the
    # library and serve tests; here the exit code and output are what matter.


# ------------------------------------------------------------------ kpn-sms serve


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
async def test_serve(
    fault: Fault,
    emulator: Emulator,
    emulator_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`POST /notify`, then the sender's retry of the same notification once the fault is
    gone (what Alertmanager does on a 503): those still owed are texted, nobody twice,
    except recipients whose failure was ambiguous (the documented at-least-once case)."""
    caplog.set_level(logging.WARNING, logger="kpn_sms_notify")
    numbers = list(NUMBERS[: fault.recipients])
    raw = serve_raw(emulator_url, tmp_path, client=client_options(fault))
    async with running_serve(raw) as url:
        emulator.configure(**fault.knobs)
        run = await serve_send(url, numbers, f"fault {fault.id}")
        check_fault(run, fault, emulator, numbers)
        if fault.id == "sunset":
            assert "sunset: 2027-06-30" in caplog.text
        emulator.configure(**CLEAR_FAULTS)
        retry = await serve_send(url, numbers, f"fault {fault.id}")
        assert retry.code == 200 and all(r.ok for r in retry.rows), retry.output
        sent = accepted_counts(emulator)
        retried = {r.recipient for r in run.rows if r.outcome == "retry"}
        refused = {r.recipient for r in run.rows if r.outcome == "failed"}  # permanent
        for number in numbers:
            twice = fault.failed_sent and number in retried
            assert sent[number] == (0 if number in refused else 2 if twice else 1), (number, sent)
        follow = await serve_send(url, [NUMBERS[0]], "after")
        follow_up_ok(follow, emulator, NUMBERS[0], sent[NUMBERS[0]])


# ------------------------------------------------------------------ ambiguity, opted in


async def test_retry_ambiguous_texts_twice(emulator: Emulator, emulator_url: str) -> None:
    """retry_ambiguous=True: a time-out is retried and the person gets the text twice, but
    is never left without it (at-least-once, as docs/errors.md documents)."""
    emulator.configure(script=[{"slow": 3}])
    async with KpnSms(
        EMU_CLIENT_ID,
        EMU_CLIENT_SECRET,
        base_url=emulator_url,
        sender="KPNAlert",
        timeout=0.5,
        retry_ambiguous=True,
    ) as sms:
        run = await library_send(sms, NUMBERS[:3], "at least once")
    twice = [n for n, c in accepted_counts(emulator).items() if c == 2]
    assert len(twice) == 1
    check_run(run, emulator, NUMBERS[:3], duplicates_ok=twice)
    assert all(r.ok for r in run.rows)


@pytest.mark.parametrize(
    "entry",
    [
        {"http": 500, "after_send": True},
        {"drop": True, "after_send": True},
        {"bad_body": "malformed"},
    ],
)
async def test_retry_ambiguous_other_classes(
    entry: dict[str, Any], emulator: Emulator, emulator_url: str
) -> None:
    emulator.configure(script=[entry])
    async with KpnSms(
        EMU_CLIENT_ID,
        EMU_CLIENT_SECRET,
        base_url=emulator_url,
        sender="KPNAlert",
        retry_ambiguous=True,
    ) as sms:
        run = await library_send(sms, [NUMBERS[0]], "at least once")
    assert run.rows[0].ok and accepted_counts(emulator)[NUMBERS[0]] == 2


# ------------------------------------------------------------------ token expiry mid-batch

MID_BATCH = {"max_concurrency": 1, "rate_limit": 100}
SIX = list(NUMBERS)


async def test_token_expires_mid_batch_library(emulator: Emulator, emulator_url: str) -> None:
    emulator.configure(latency=0.05)
    expiry = ExpireMidBatch(emulator, after=2)
    expiry.start()
    async with KpnSms(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url, sender="KPNAlert", **MID_BATCH
    ) as sms:
        run = await library_send(sms, SIX, "mid batch")
        assert expiry.fired.is_set()
        check_run(run, emulator, SIX)
        assert all(r.ok for r in run.rows) and sms.token_requests == 2
        follow_up_ok(await library_send(sms, [NUMBERS[0]], "after"), emulator, NUMBERS[0], 1)
    assert emulator.counters["auth_failures"] >= 1


def test_token_expires_mid_batch_cli(emulator: Emulator, emulator_url: str, tmp_path: Path) -> None:
    emulator.configure(latency=0.05)
    config = write_cli_config(tmp_path / "kpn.yaml", emulator_url, sender="KPNAlert", **MID_BATCH)
    expiry = ExpireMidBatch(emulator, after=2)
    expiry.start()
    run = cli_send(config, SIX, "mid batch")
    assert expiry.fired.is_set()
    check_run(run, emulator, SIX)
    assert run.code == 0 and emulator.counters["token_requests"] == 2


async def test_token_expires_mid_batch_serve(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    emulator.configure(latency=0.05)
    async with running_serve(serve_raw(emulator_url, tmp_path, client=MID_BATCH)) as url:
        expiry = ExpireMidBatch(emulator, after=2)
        expiry.start()
        run = await serve_send(url, SIX, "mid batch")
        assert expiry.fired.is_set()
        check_run(run, emulator, SIX)
        assert run.code == 200 and emulator.counters["token_requests"] == 2


async def test_token_renewal_fails_mid_batch_library(emulator: Emulator, emulator_url: str) -> None:
    """The token dies and the token endpoint is down: the rest fail with the reason,
    nothing is sent twice, and the client recovers when the endpoint is back."""
    emulator.configure(latency=0.05)
    expiry = ExpireMidBatch(emulator, after=2, endpoint_down=True)
    expiry.start()
    async with KpnSms(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url, sender="KPNAlert", **MID_BATCH
    ) as sms:
        run = await library_send(sms, SIX, "mid batch")
        check_run(run, emulator, SIX)
        failed = run.failed()
        assert 1 <= len(failed) <= 4
        assert all("token service is not available" in (r.reason or "") for r in failed)
        emulator.configure(token_endpoint_down=False)
        before = accepted_counts(emulator)[NUMBERS[0]]
        follow_up_ok(await library_send(sms, [NUMBERS[0]], "after"), emulator, NUMBERS[0], before)


async def test_token_renewal_fails_mid_batch_is_transient(
    emulator: Emulator, emulator_url: str
) -> None:
    """A token endpoint that is down for a moment is not the recipient's fault: the failure
    must not be marked permanent, or hosts (serve, HA) give up on those recipients."""
    emulator.configure(latency=0.05)
    ExpireMidBatch(emulator, after=2, endpoint_down=True).start()
    async with KpnSms(
        EMU_CLIENT_ID, EMU_CLIENT_SECRET, base_url=emulator_url, sender="KPNAlert", **MID_BATCH
    ) as sms:
        report = await sms.send("mid batch", SIX)
    assert report.failed and not any(r.permanent for r in report.failed), [
        (r.reason, r.permanent) for r in report.failed
    ]


async def test_token_renewal_fails_mid_batch_serve(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """Through serve: the owed recipients come back as 'retry' (503), and Alertmanager's
    retry once the endpoint is back texts each of them exactly once."""
    emulator.configure(latency=0.05)
    async with running_serve(serve_raw(emulator_url, tmp_path, client=MID_BATCH)) as url:
        ExpireMidBatch(emulator, after=2, endpoint_down=True).start()
        run = await serve_send(url, SIX, "mid batch")
        check_run(run, emulator, SIX)
        owed = [r for r in run.rows if not r.ok]
        assert owed and all(r.outcome == "retry" for r in owed), run.output
        assert run.code == 503
        emulator.configure(token_endpoint_down=False)
        retry = await serve_send(url, SIX, "mid batch")
        assert retry.code == 200
        assert all(accepted_counts(emulator)[n] == 1 for n in SIX), accepted_counts(emulator)


# ------------------------------------------------------------------ Apprise (kpnsms://)


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_apprise(fault: Fault, emulator: Emulator, emulator_url: str) -> None:
    """`Apprise().notify()`: notify() is False when any recipient failed, each failure is
    logged with its reason, and the same Apprise object works again afterwards."""
    numbers = list(NUMBERS[: fault.recipients])
    options = client_options(fault)
    options.pop("sender")
    emulator.configure(**fault.knobs)
    run = apprise_send(emulator_url, numbers, f"fault {fault.id}", **options)
    if fault.whole is not None:  # apprise reports a whole failure per recipient
        assert run.code == 1 and all(re.search(fault.whole, r.reason or "") for r in run.rows)
        check_run(Run("apprise", run.rows), emulator, numbers)
    else:
        check_fault(run, fault, emulator, numbers)
        assert run.code == (1 if fault.failed else 0)
    emulator.configure(**CLEAR_FAULTS)
    before = accepted_counts(emulator)[NUMBERS[0]]
    follow_up_ok(
        apprise_send(emulator_url, [NUMBERS[0]], "after", **options), emulator, NUMBERS[0], before
    )


async def test_token_refused_mid_batch_serve(
    emulator: Emulator, emulator_url: str, tmp_path: Path
) -> None:
    """The token dies mid-batch and the renewal is refused (401 invalid_client: the
    credentials were rotated). Refused at the start of a batch, serve answers 503 'retry'
    (nothing sent, try again); refused in the middle it must answer the same for those
    still owed, or Alertmanager stops retrying and they never get the page."""
    emulator.configure(latency=0.05)
    async with running_serve(serve_raw(emulator_url, tmp_path, client=MID_BATCH)) as url:
        ExpireMidBatch(emulator, after=2, endpoint_status=401).start()
        run = await serve_send(url, SIX, "mid batch")
        check_run(run, emulator, SIX)
        owed = [r for r in run.rows if not r.ok]
        assert owed and all("invalid_client" in (r.reason or "") for r in owed), run.output
        assert run.code == 503 and all(r.outcome == "retry" for r in owed), run.output
