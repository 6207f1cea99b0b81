"""The KPN emulator in a separate process, driven over its HTTP control API.

A separate process keeps the emulator's CPU time out of the client-overhead figures and its
memory out of the bulk run's RSS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from types import TracebackType
from typing import Any

import httpx

from kpn_sms_notify.emulator import EMU_API_KEY, EMU_API_SECRET, EMU_CLIENT_ID, EMU_CLIENT_SECRET

__all__ = ["EMU_API_KEY", "EMU_API_SECRET", "EMU_CLIENT_ID", "EMU_CLIENT_SECRET", "EmulatorProcess"]

# Knobs every benchmark needs besides latency and rate limit: an account that never runs out
# of credit (10,000 texts at the default EUR 10 balance would fail with status 9) and a daily
# quota that a full run cannot reach.
ACCOUNT_KNOBS: dict[str, Any] = {"balance": 1_000_000, "quota_limit": 10_000_000}


class EmulatorProcess:
    """`python -m kpn_sms_notify.emulator` on a free port; `knobs` are re-applied after reset."""

    def __init__(self, *, latency: float, rate_limit: float | None, **knobs: Any) -> None:
        self.knobs: dict[str, Any] = {
            **ACCOUNT_KNOBS,
            "latency": latency,
            "rate_limit": rate_limit,
            **knobs,
        }
        self.url = ""
        # Kept open for the process lifetime; closed and removed by stop().
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="kpn-bench-emulator-", suffix=".log", delete=False
        )
        args = [sys.executable, "-m", "kpn_sms_notify.emulator", "--port", "0"]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._log, text=True)
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()  # "KPN emulator listening on http://127.0.0.1:N"
        if "listening on " not in first:
            self.stop()
            raise RuntimeError(f"emulator did not start (log: {self._log.name}): {first!r}")
        self.url = first.rsplit(" ", 1)[-1].strip()
        self._http = httpx.Client(base_url=self.url, timeout=30, trust_env=False)
        self.configure(**self.knobs)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def configure(self, **knobs: Any) -> None:
        answer = self._http.post("/_emulator/configure", json=knobs)
        if answer.status_code != 200:
            raise RuntimeError(f"emulator configure {sorted(knobs)}: {answer.text}")
        self.knobs.update(knobs)

    def reset(self) -> None:
        """Counters, messages and tokens forgotten; our knobs set again."""
        self._http.post("/_emulator/reset").raise_for_status()
        self.configure(**self.knobs)

    def state(self) -> dict[str, Any]:
        answer = self._http.get("/_emulator/state")
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state

    def counters(self) -> dict[str, int]:
        # The state holds every accepted message; after a bulk run that is megabytes, but
        # the control API has no counters-only call and this is read a few times per run.
        counters: dict[str, int] = self.state()["counters"]
        return counters

    def stop(self) -> None:
        if getattr(self, "_http", None) is not None:
            self._http.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()
        os.unlink(self._log.name)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def delta(before: dict[str, int], after: dict[str, int], *names: str) -> dict[str, int]:
    """Counter differences for `names` (the emulator is not reset between alternating runs,
    so a warm client keeps its token)."""
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}
