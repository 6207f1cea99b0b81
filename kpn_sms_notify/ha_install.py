"""Put the Home Assistant integration where Home Assistant looks for it.

- `install_homeassistant(config_dir)`: copies the integration (the package's `homeassistant/`
  folder, manifest included) to `<config_dir>/custom_components/kpn_sms_notify/`. This is what
  `kpn-sms install-homeassistant CONFIG_DIR` runs.
- `build_hacs_zip(dest_dir)`: the HACS release artifact `kpn_sms_notify.zip` (hacs.json:
  `zip_release`), the same files at the zip's root, as HACS extracts it into
  `custom_components/kpn_sms_notify/`.

`python -m kpn_sms_notify.ha_install install CONFIG_DIR` / `... zip DEST_DIR` do the same.
Works from a source checkout and from an installed wheel; no Home Assistant import needed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

DOMAIN = "kpn_sms_notify"
ZIP_NAME = f"{DOMAIN}.zip"
_SUFFIXES = (".py", ".json", ".yaml", ".png")


def integration_source() -> Path:
    """The integration's files inside this package."""
    return Path(__file__).resolve().parent / "homeassistant"


def integration_files() -> Iterator[tuple[Path, Path]]:
    """(source file, path relative to the integration folder), sorted, caches skipped."""
    root = integration_source()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or not path.is_file() or path.suffix not in _SUFFIXES:
            continue
        yield path, rel


def install_homeassistant(config_dir: Path) -> Path:
    """Install (or update) the integration into `config_dir`; returns the integration folder.

    The copy replaces an older install as a whole, so files removed in a new version do not
    linger. Raises FileNotFoundError if `config_dir` does not exist.
    """
    config_dir = Path(config_dir).expanduser()
    if not config_dir.is_dir():
        raise FileNotFoundError(
            f"config_dir: {str(config_dir)!r} is not a directory "
            "(the folder that holds configuration.yaml)"
        )
    target_parent = config_dir / "custom_components"
    target_parent.mkdir(exist_ok=True)
    target = target_parent / DOMAIN
    staging = Path(tempfile.mkdtemp(prefix=f".{DOMAIN}-", dir=target_parent))
    try:
        for source, rel in integration_files():
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)  # follows the manifest.json symlink of a checkout
        _check_manifest(staging)
        if target.exists():
            old = target_parent / f".{DOMAIN}-old"
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_hacs_zip(dest_dir: Path) -> Path:
    """Write the HACS release artifact into `dest_dir`; returns its path."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / ZIP_NAME
    with tempfile.TemporaryDirectory() as tmp:
        folder = install_homeassistant(Path(tmp))
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
    return out


def _check_manifest(folder: Path) -> None:
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("domain") != DOMAIN:
        raise RuntimeError(f"manifest.json: domain {manifest.get('domain')!r} is not {DOMAIN!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpn_sms_notify.ha_install", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="copy into CONFIG_DIR/custom_components").add_argument(
        "config_dir", type=Path
    )
    sub.add_parser("zip", help="write the HACS release zip into DEST_DIR").add_argument(
        "dest_dir", type=Path
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            print(install_homeassistant(args.config_dir))
        else:
            print(build_hacs_zip(args.dest_dir))
    except (OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
