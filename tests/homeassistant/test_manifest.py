"""What users install: manifest.json and hacs.json against the rules Home Assistant's loader
and HACS apply; `install_homeassistant` and the HACS release zip."""

from __future__ import annotations

import json
import re
import tomllib
import typing
import zipfile
from pathlib import Path

import pytest
import voluptuous as vol
from awesomeversion import AwesomeVersion
from ha_common import CONFIG_DIR, DOMAIN, INTEGRATION_DIR
from homeassistant import loader
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv

from kpn_sms_notify import __version__ as PACKAGE_VERSION
from kpn_sms_notify.ha_install import build_hacs_zip, install_homeassistant, integration_source

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
HACS = json.loads((ROOT / "hacs.json").read_text())

# HACS's own schemas (hacs/integration, custom_components/hacs/utils/validate.py).
HACS_MANIFEST_JSON_SCHEMA = vol.Schema(
    {
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
        vol.Required("name"): str,
    },
    extra=vol.PREVENT_EXTRA,
)
INTEGRATION_MANIFEST_JSON_SCHEMA = vol.Schema(
    {
        vol.Required("codeowners"): list,
        vol.Required("documentation"): cv.url,
        vol.Required("domain"): str,
        vol.Required("issue_tracker"): cv.url,
        vol.Required("name"): str,
        vol.Required("version"): vol.Coerce(AwesomeVersion),
    },
    extra=vol.ALLOW_EXTRA,
)
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}


def test_manifest_version_is_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert MANIFEST["version"] == pyproject["project"]["version"] == PACKAGE_VERSION
    assert MANIFEST["requirements"] == [f"kpn-sms-notify=={PACKAGE_VERSION}"]


def test_manifest_follows_the_home_assistant_and_hacs_rules() -> None:
    INTEGRATION_MANIFEST_JSON_SCHEMA(MANIFEST)
    assert MANIFEST["domain"] == DOMAIN == INTEGRATION_DIR.name  # folder name = domain
    assert re.fullmatch(r"[a-z0-9_]+", MANIFEST["domain"])
    # hassfest: domain and name first, then the rest sorted.
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"] and keys[2:] == sorted(keys[2:])
    integration_types = typing.get_args(typing.get_type_hints(loader.Manifest)["integration_type"])
    assert MANIFEST["integration_type"] == "service" and "service" in integration_types
    assert MANIFEST["iot_class"] == "cloud_push" and MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["config_flow"] is True
    assert all(re.fullmatch(r"@[\w-]+", owner) for owner in MANIFEST["codeowners"])
    assert AwesomeVersion(MANIFEST["version"]).strategy != "unknown"


async def test_the_loader_accepts_the_installed_integration(hass: HomeAssistant) -> None:
    integration = await loader.async_get_integration(hass, DOMAIN)
    assert integration.file_path == INTEGRATION_DIR  # the installed copy, not the source
    assert not integration.is_built_in
    assert integration.version == AwesomeVersion(PACKAGE_VERSION)
    assert integration.config_flow is True
    assert integration.dependencies == ["webhook"]
    assert integration.requirements == MANIFEST["requirements"]
    assert integration.iot_class == "cloud_push"
    assert integration.integration_type == "service"
    await integration.async_get_component()
    platform = await integration.async_get_platform("config_flow")
    assert platform is not None
    assert await integration.async_get_platform("notify") is not None
    assert await integration.async_get_platform("diagnostics") is not None


def test_hacs_json_follows_the_hacs_rules() -> None:
    HACS_MANIFEST_JSON_SCHEMA(HACS)
    assert HACS["name"] == MANIFEST["name"]
    # content_in_root: HACS reads the root manifest.json; zip_release needs a filename.
    assert HACS["content_in_root"] is True and (ROOT / "manifest.json").is_file()
    assert HACS["zip_release"] is True and HACS["filename"] == f"{DOMAIN}.zip"
    floor = AwesomeVersion(HACS["homeassistant"])
    assert floor.strategy != "unknown"
    assert floor <= AwesomeVersion(HA_VERSION)  # the suite runs on a supported release


def test_install_copies_everything_with_a_real_manifest(tmp_path: Path) -> None:
    target = install_homeassistant(tmp_path)
    assert target == tmp_path / "custom_components" / DOMAIN
    manifest = target / "manifest.json"
    assert manifest.is_file() and not manifest.is_symlink()
    assert json.loads(manifest.read_text()) == MANIFEST
    assert (target / "translations" / "en.json").is_file()
    assert not (target / "strings.json").exists()  # a core-only build input
    source = sorted(p.name for p in integration_source().glob("*.py"))
    assert sorted(p.name for p in target.glob("*.py")) == source
    assert {"__init__.py", "config_flow.py", "notify.py", "diagnostics.py"} <= set(source)
    assert not list(target.rglob("__pycache__"))
    # Brand icon (HACS requires one; Home Assistant 2026.3+ shows it): a 256x256 PNG.
    icon = (target / "brand" / "icon.png").read_bytes()
    assert icon[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(icon[16:20]), int.from_bytes(icon[20:24])) == (256, 256)


def test_reinstall_replaces_the_old_copy(tmp_path: Path) -> None:
    target = install_homeassistant(tmp_path)
    (target / "stale_module.py").write_text("raise SystemExit")
    assert install_homeassistant(tmp_path) == target
    assert not (target / "stale_module.py").exists()
    assert [p.name for p in (tmp_path / "custom_components").iterdir()] == [DOMAIN]


def test_install_refuses_a_missing_config_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"configuration\.yaml"):
        install_homeassistant(tmp_path / "nope")


def test_hacs_release_zip_holds_the_integration_at_its_root(tmp_path: Path) -> None:
    archive = build_hacs_zip(tmp_path)
    assert archive.name == HACS["filename"]
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert json.loads(zf.read("manifest.json")) == MANIFEST
    installed = {
        p.relative_to(INTEGRATION_DIR).as_posix()
        for p in INTEGRATION_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert names == installed
    assert "translations/en.json" in names


def test_every_translation_key_used_in_the_code_is_translated() -> None:
    strings = json.loads((INTEGRATION_DIR / "translations" / "en.json").read_text())
    code = "\n".join(p.read_text() for p in INTEGRATION_DIR.glob("*.py"))
    used = set(re.findall(r'translation_key="(\w+)"', code))
    assert used, "no translation keys found"
    known = set(strings["exceptions"]) | set(strings["issues"])
    assert used - {"inbound_mode"} <= known
    errors = set(
        re.findall(r'"(invalid_\w+|cannot_connect|number_required|name_required|unknown)"', code)
    )
    flow_errors = (
        set(strings["config"]["error"])
        | set(strings["config_subentries"]["recipient"]["error"])
        | set(strings["options"]["error"])
    )
    assert errors <= flow_errors | {"invalid_config", "invalid_input", "invalid_data"}


def test_the_suite_loads_the_installed_copy() -> None:
    import custom_components.kpn_sms_notify as installed

    assert Path(installed.__file__).parent == CONFIG_DIR / "custom_components" / DOMAIN
