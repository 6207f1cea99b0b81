"""The real `apprise` command in a subprocess, reaching kpnsms:// through a one-line shim,
against the emulator over 127.0.0.1.

Every run gets its own HOME, so ~/.apprise/plugins and Apprise's default storage path
(~/.local/share/apprise/cache) are the test's own.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator

APPRISE = Path(sys.executable).with_name("apprise")
SHIM = "import kpn_sms_notify.apprise_plugin\n"
A, B = "31612345678", "31687654321"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "plugins"
    path.mkdir()
    (path / "kpnsms.py").write_text(SHIM)
    return path


def run_apprise(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert APPRISE.exists(), f"the apprise command is missing: {APPRISE}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("APPRISE_")}
    clean.update(HOME=str(home), **(env or {}))
    return subprocess.run(
        [str(APPRISE), *args], capture_output=True, text=True, env=clean, timeout=120, check=False
    )


def url_for(base: str, secret: str = EMU_CLIENT_SECRET) -> str:
    return f"kpnsms://{EMU_CLIENT_ID}:{secret}@KPNAlert/0612345678/31687654321?base_url={base}"


def test_done_when_command_texts_both_numbers(
    emulator: Emulator, emulator_url: str, plugin_dir: Path, home: Path
) -> None:
    # The "Done when" command, with the emulator's credentials.
    done = run_apprise(
        "-vv", "--plugin-path", str(plugin_dir), "-b", "Disk full", url_for(emulator_url), home=home
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [m["text"] for m in emulator.inbox(A)] == ["Disk full"]
    assert [m["text"] for m in emulator.inbox(B)] == ["Disk full"]
    assert "Sent KPN SMS to +316******78" in done.stdout
    assert "Sent KPN SMS to +316******21" in done.stdout
    assert "ERROR" not in done.stdout
    output = done.stdout + done.stderr
    assert EMU_CLIENT_SECRET not in output and A not in output and B not in output


def test_failing_recipient_exits_non_zero_and_prints_error(
    emulator: Emulator, emulator_url: str, plugin_dir: Path, home: Path
) -> None:
    emulator.configure(forced_status={B: "3"})
    done = run_apprise(
        "-vv", "--plugin-path", str(plugin_dir), "-b", "Disk full", url_for(emulator_url), home=home
    )
    assert done.returncode != 0
    assert "ERROR - KPN SMS notification failed for 1 of 2 recipient(s)" in done.stdout
    assert "WARNING - Failed to send KPN SMS to +316******21" in done.stdout
    assert len(emulator.inbox(A)) == 1 and emulator.inbox(B) == []


def test_bad_credentials_exit_non_zero_without_leaking_them(
    emulator: Emulator, emulator_url: str, plugin_dir: Path, home: Path
) -> None:
    # -vvv is DEBUG; at -vvvv (TRACE) Apprise itself prints the URL it parsed, secret included.
    done = run_apprise(
        "-vvv",
        "--plugin-path",
        str(plugin_dir),
        "-b",
        "Disk full",
        url_for(emulator_url, secret="not-the-secret-42"),
        home=home,
    )
    assert done.returncode != 0
    assert "ERROR" in done.stdout and "credentials refused" in done.stdout
    assert "not-the-secret-42" not in done.stdout + done.stderr
    assert emulator.counters["send_requests"] == 0


def test_token_cached_across_cli_runs(
    emulator: Emulator, emulator_url: str, plugin_dir: Path, home: Path
) -> None:
    for body in ("first", "second"):
        done = run_apprise(
            "--plugin-path", str(plugin_dir), "-b", body, url_for(emulator_url), home=home
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert emulator.counters["token_requests"] == 1
    assert len(emulator.inbox(A)) == 2 and len(emulator.inbox(B)) == 2

    # Apprise's default storage, under this test's HOME; it holds the token, not the secret.
    (cache,) = (home / ".local/share/apprise/cache").rglob("*.psdata")
    assert EMU_CLIENT_SECRET.encode() not in gzip.decompress(cache.read_bytes())

    # Control: with storage in memory only, the next run has to ask for a token again.
    done = run_apprise(
        "--plugin-path",
        str(plugin_dir),
        "--storage-mode",
        "memory",
        "-b",
        "third",
        url_for(emulator_url),
        home=home,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert emulator.counters["token_requests"] == 2


@pytest.mark.parametrize("route", ["env", "home"])
def test_shim_reached_without_flag(
    route: str, emulator: Emulator, emulator_url: str, plugin_dir: Path, home: Path
) -> None:
    env: dict[str, str] = {}
    if route == "env":
        import apprise.cli

        if not hasattr(apprise.cli, "DEFAULT_ENV_APPRISE_PLUGIN_PATH"):
            pytest.skip("this apprise CLI does not read APPRISE_PLUGIN_PATH (added in 1.9.x)")
        env["APPRISE_PLUGIN_PATH"] = str(plugin_dir)
    else:
        default_dir = home / ".apprise" / "plugins"
        default_dir.mkdir(parents=True)
        (default_dir / "kpnsms.py").write_text(SHIM)
    done = run_apprise("-b", "Disk full", url_for(emulator_url), home=home, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(emulator.inbox(A)) == 1 and len(emulator.inbox(B)) == 1


def test_without_the_shim_the_scheme_is_unknown(
    emulator: Emulator, emulator_url: str, home: Path
) -> None:
    done = run_apprise("-b", "Disk full", url_for(emulator_url), home=home)
    assert done.returncode != 0
    assert emulator.counters["send_requests"] == 0


def test_details_lists_the_templates(plugin_dir: Path, home: Path) -> None:
    done = run_apprise("--plugin-path", str(plugin_dir), "--details", home=home)
    assert done.returncode == 0, done.stderr
    assert "KPN SMS" in done.stdout
    assert "kpnsms://{client_id}:{client_secret}@{sender}/{targets}" in done.stdout
    assert "kpn-sms-notify" in done.stdout
