"""Running a real Prometheus Alertmanager (Debian package `prometheus-alertmanager`) in a test:
finding the binary, free loopback ports, processes with a log file, polling with a deadline.

Shared by the Alertmanager end-to-end tests and the paging tests. Without the binary a plain
pytest run skips, with the reason; with KPN_REQUIRE_ALERTMANAGER=1 (scripts/test) it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT = 30.0


def am_binary_path() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name)
        if found:
            return found
    message = (
        "Prometheus Alertmanager is not installed (apt-get install -y prometheus-alertmanager)"
    )
    if os.environ.get("KPN_REQUIRE_ALERTMANAGER") == "1":
        pytest.fail(message + ": KPN_REQUIRE_ALERTMANAGER=1 (scripts/test) needs it", pytrace=False)
    pytest.skip(message + "; scripts/test fails here instead")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}", pytrace=False)


class Process:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.proc = subprocess.Popen(
            args, stdout=self._handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._handle.close()
        return int(self.proc.returncode)
