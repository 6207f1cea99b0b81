"""The browser suite: Home Assistant's own web UI, driven by a real Chromium through Playwright,
against a real `hass` subprocess and the KPN emulator, all on 127.0.0.1.

Run by the `browser` lane of scripts/test (in .venv-ha, with playwright added and Debian's
chromium installed); by hand:
    .venv-ha/bin/python -m pytest tests/browser -p no:cacheprovider -p no:homeassistant

Playwright's own browser download is not used: Chromium is /usr/bin/chromium (KPN_CHROMIUM
to change). What a run leaves, in .browser-artifacts/ (KPN_BROWSER_ARTIFACTS to change):
screenshots/*.png always; on a failure FAIL-<step>.png, trace.zip (`playwright show-trace`)
and hass.log. KPN_UPDATE_SCREENSHOTS=1 copies a passing run's screenshots to docs/screenshots.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_common import ARTIFACTS, BOOT_TIMEOUT, CHROMIUM, Hass, free_port, stop_process

from kpn_sms_notify.ha_install import install_homeassistant

# Without playwright in this venv, test_ha_ui.py skips (or fails, in the lane), saying why.
with contextlib.suppress(ModuleNotFoundError):
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CONFIGURATION = """\
homeassistant:
  name: KPN browser test
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
  internal_url: http://127.0.0.1:{port}
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
  logs:
    custom_components.kpn_sms_notify: debug
    kpn_sms_notify: debug
"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "broken_translation(*path): the `hass` fixture installs the integration with this key "
        "of translations/en.json deleted",
    )


def break_translation(path: Path, keys: tuple[str, ...]) -> None:
    strings = json.loads(path.read_text())
    node = strings
    for key in keys[:-1]:
        node = node[key]
    del node[keys[-1]]
    path.write_text(json.dumps(strings))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Each phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """This run's artifacts folder. What an earlier run left there goes first (only what a run
    writes: the folder may be one given by KPN_BROWSER_ARTIFACTS), so all of it is this run's."""
    for folder in ("screenshots", "broken-translation"):
        shutil.rmtree(ARTIFACTS / folder, ignore_errors=True)
    for name in ("trace.zip", "hass.log"):
        (ARTIFACTS / name).unlink(missing_ok=True)
    for shot in ARTIFACTS.glob("FAIL-*.png"):
        shot.unlink()
    (ARTIFACTS / "screenshots").mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
def hass(tmp_path: Path, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Hass]:
    """A real `hass` (this venv's Home Assistant) on a free 127.0.0.1 port, not onboarded, with
    the integration installed as users get it (`install_homeassistant`)."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    integration = install_homeassistant(config_dir)
    if broken := request.node.get_closest_marker("broken_translation"):
        break_translation(integration / "translations" / "en.json", broken.args)
    port = free_port()
    (config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
    log = tmp_path / "hass.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "homeassistant", "-c", str(config_dir), "--skip-pip"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
        )
    server = Hass(f"http://127.0.0.1:{port}", config_dir, log, proc)
    try:
        wait_for_onboarding_api(server)
        yield server
    finally:
        stop_process(proc)
        if failed(request):
            shutil.copyfile(log, artifacts / "hass.log")


def wait_for_onboarding_api(server: Hass) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(
                    f"hass exited with {server.process.returncode}:\n{server.log_text()[-3000:]}"
                )
            try:
                if client.get(f"{server.url}/api/onboarding").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"hass did not answer within {BOOT_TIMEOUT} s:\n{server.log_text()[-3000:]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, kept off the network beyond what a page asks for."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--no-proxy-server",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Page]:
    """A fresh context (no profile: the Actions page remembers choices in localStorage), traced;
    the trace is kept when the test failed."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 1100, "height": 800}, locale="en-US"
    )
    context.tracing.start(screenshots=True, snapshots=True)
    try:
        yield context.new_page()
    finally:
        if failed(request):
            context.tracing.stop(path=str(artifacts / "trace.zip"))
        else:
            context.tracing.stop()
        context.close()
