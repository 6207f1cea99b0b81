"""Paths and helpers of the browser suite (imported as a top-level module: this folder has no
__init__.py)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KPN_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("KPN_BROWSER_ARTIFACTS", REPO / ".browser-artifacts"))
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
BOOT_TIMEOUT = 120.0  # seconds until hass answers; about 2 s idle, more on a busy machine
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL


def missing() -> list[str]:
    """What the suite needs and this machine lacks."""
    lacking = []
    if importlib.util.find_spec("playwright") is None:
        lacking.append("playwright (pip)")
    if not CHROMIUM.exists():
        lacking.append(f"{CHROMIUM} (apt chromium)")
    return lacking


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, then SIGKILL when it has not exited within STOP_TIMEOUT."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class Hass:
    url: str
    config_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
