"""The Home Assistant suite: real Home Assistant under pytest-homeassistant-custom-component,
talking to the KPN emulator (tests/conftest.py) on 127.0.0.1.

Run only in the HA venv (scripts/ha-venv.sh):
    .venv-ha/bin/python -m pytest tests/homeassistant -p no:cacheprovider

The integration is loaded exactly as users get it: `install_homeassistant()` copies it into a
config dir whose `custom_components` is imported before Home Assistant mounts its own test one.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator
from kpn_sms_notify.ha_install import install_homeassistant

CONFIG_DIR = Path(tempfile.mkdtemp(prefix="kpn-ha-config-"))
atexit.register(shutil.rmtree, CONFIG_DIR, True)
INTEGRATION_DIR = install_homeassistant(CONFIG_DIR)
# A regular package (not a namespace one), so Home Assistant's own testing_config cannot
# shadow it; the integration folder inside is untouched.
(CONFIG_DIR / "custom_components" / "__init__.py").write_text("")
sys.path.insert(0, str(CONFIG_DIR))
import custom_components  # noqa: E402

assert Path(custom_components.__file__).parent == CONFIG_DIR / "custom_components"

from ha_common import SENDER  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # The project turns every warning into an error; Home Assistant 2025.4 itself warns
    # (aiohttp's NotAppKeyWarning in its http component). Keep that strictness for our code
    # only: later filters win.
    for line in ("default", "ignore::aiohttp.web_exceptions.NotAppKeyWarning",
                 "error::Warning:kpn_sms_notify.*",
                 "error::Warning:custom_components.*"):
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
    return {"client_id": EMU_CLIENT_ID, "client_secret": EMU_CLIENT_SECRET, "sender": SENDER,
            "base_url": emu.url}
