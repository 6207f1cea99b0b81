"""Package-level promises: the public API, versions in step, a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import kpn_sms_notify

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_importable() -> None:
    assert kpn_sms_notify.__all__ == sorted(kpn_sms_notify.__all__)
    for name in kpn_sms_notify.__all__:
        assert getattr(kpn_sms_notify, name) is not None


def test_versions_agree() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert pyproject["project"]["version"] == kpn_sms_notify.__version__ == manifest["version"]


def test_import_is_lazy() -> None:
    """Home Assistant imports the package in its event loop: no heavy imports up front."""
    code = (
        "import sys, kpn_sms_notify; "
        "print(sorted(m for m in ('httpx', 'phonenumbers', 'voluptuous', 'aiohttp', 'yaml')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_client_module_leaves_heavy_parsers_until_first_use() -> None:
    """The async client is what Home Assistant imports: phonenumbers and voluptuous wait."""
    code = (
        "import sys, kpn_sms_notify.client; "
        "print(sorted(m for m in ('phonenumbers', 'voluptuous') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
