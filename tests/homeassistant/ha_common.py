"""Shared constants and helpers of the Home Assistant suite (imported as a top-level module:
this folder has no __init__.py, so it can never shadow the `homeassistant` package)."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from kpn_sms_notify.ha_install import install_homeassistant

# Load exactly what users get: the integration as `kpn-sms install-homeassistant` copies it.
CONFIG_DIR = Path(tempfile.mkdtemp(prefix="kpn-ha-config-"))
atexit.register(shutil.rmtree, CONFIG_DIR, True)
INTEGRATION_DIR = install_homeassistant(CONFIG_DIR)
# A regular package (not a namespace one), so Home Assistant's own testing_config cannot
# shadow it; the integration folder inside is untouched.
(CONFIG_DIR / "custom_components" / "__init__.py").write_text("")
sys.path.insert(0, str(CONFIG_DIR))
import custom_components  # noqa: E402

assert Path(custom_components.__file__).parent == CONFIG_DIR / "custom_components"

DOMAIN = "kpn_sms_notify"
SENDER = "HomeAlert"
ALICE = "31612345678"
BOB = "31687654321"

from homeassistant.core import HomeAssistant  # noqa: E402
from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: E402

from kpn_sms_notify.emulator import EMU_CLIENT_ID, EMU_CLIENT_SECRET, Emulator  # noqa: E402

WEBHOOK_ID = "0123456789abcdef" * 4


def entry_data(emu: Emulator, **extra: Any) -> dict[str, Any]:
    """Config entry data as the config flow stores it, for the emulator."""
    return {
        "client_id": EMU_CLIENT_ID,
        "client_secret": EMU_CLIENT_SECRET,
        "sender": SENDER,
        "base_url": emu.url,
        "region": "NL",
        "inbound_mode": "none",
        "webhook_id": WEBHOOK_ID,
        **extra,
    }


def recipient(title: str, number: str) -> dict[str, Any]:
    return {
        "data": {"number": number},
        "subentry_type": "recipient",
        "title": title,
        "unique_id": number,
    }


async def setup_entry(
    hass: HomeAssistant, emu: Emulator, recipients: dict[str, str] | None = None, **extra: Any
) -> MockConfigEntry:
    """A loaded config entry with a recipient subentry per item of `recipients`."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="KPN SMS",
        unique_id=EMU_CLIENT_ID,
        data=entry_data(emu, **extra),
        subentries_data=[recipient(t, n) for t, n in (recipients or {}).items()],
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry
