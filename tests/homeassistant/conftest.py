"""The Home Assistant suite: real Home Assistant under pytest-homeassistant-custom-component,
talking to the KPN emulator (tests/conftest.py) on 127.0.0.1.

Run only in the HA venv (scripts/ha-venv.sh):
    .venv-ha/bin/python -m pytest tests/homeassistant -p no:cacheprovider

The integration is loaded exactly as users get it: `ha_common` installs it with
`install_homeassistant()` into a config dir whose `custom_components` is imported before Home
Assistant mounts its own test one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ha_common import SENDER

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator


def pytest_configure(config: pytest.Config) -> None:
    # The project turns every warning into an error; Home Assistant 2025.4 itself warns
    # (aiohttp's NotAppKeyWarning in its http component). Keep that strictness for our code
    # only: later filters win.
    for line in (
        "default",
        "ignore::aiohttp.web_exceptions.NotAppKeyWarning",
        "error::Warning:kpn_sms_notify.*",
        "error::Warning:custom_components.*",
    ):
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> Iterator[None]:
    yield


@pytest.fixture
def emu(socket_enabled: None, emulator: Emulator) -> Emulator:
    """The test's emulator, with sockets allowed first (phcc blocks them otherwise)."""
    return emulator


@pytest.fixture
def kpn_config(emu: Emulator) -> dict[str, Any]:
    """Credentials and address that the emulator accepts."""
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": SENDER,
        "base_url": emu.url,
    }
