"""Print what a real `hass` process needs beyond `pip install homeassistant`.

Run with the Python of an HA environment (scripts/ha-chroot.sh runs it inside the chroot):

    python ha_boot_requirements.py                 # requirements, one per line
    python ha_boot_requirements.py --constraints   # HA's pins, cleaned for pip -c

HA always sets up some integrations (bootstrap's default sets and what they depend on), even with
a minimal configuration.yaml. Under `hass --skip-pip` their requirements must already be
installed, or they fail to set up. Besides, `GET /api/services` imports the base entity components
(homeassistant.helpers.service._base_components) to validate services.yaml selectors, and answers
500 when one of them cannot be imported (on 2026.2.3: `conversation`, through `ai_task`, needs
hassil). The frontend package is among the requirements.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import homeassistant
from homeassistant import bootstrap

HA_DIR = Path(homeassistant.__file__).parent
COMPONENTS = HA_DIR / "components"


# What the end-to-end test's configuration.yaml names, besides the project's own domain.
CONFIGURED = {"homeassistant", "http", "api", "logger", "notify"}


def always_loaded() -> set[str]:
    """Domains HA sets up with a minimal configuration: bootstrap's defaults plus the configured."""
    domains = set(CONFIGURED)
    for name in ("CORE_INTEGRATIONS", "DEFAULT_INTEGRATIONS", "LOGGING_AND_HTTP_DEPS_INTEGRATIONS"):
        domains |= set(getattr(bootstrap, name, ()))
    # Error reporting to Nabu Casa is set up only when configured; its SDK is large.
    return (domains | service_validation_components()) - {"sentry"}


def service_validation_components() -> set[str]:
    """The components that helpers/service.py's `_base_components()` imports."""
    tree = ast.parse((HA_DIR / "helpers" / "service.py").read_text())
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef) and func.name == "_base_components":
            return {
                alias.name
                for node in ast.walk(func)
                if isinstance(node, ast.ImportFrom) and node.module == "homeassistant.components"
                for alias in node.names
            }
    return set()


def manifest(domain: str) -> dict:
    path = COMPONENTS / domain / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def closure(roots: set[str]) -> set[str]:
    """Roots plus everything they depend on (dependencies and after_dependencies)."""
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        info = manifest(domain)
        todo.extend(info.get("dependencies", []) + info.get("after_dependencies", []))
    return seen


def requirements() -> list[str]:
    reqs: set[str] = set()
    for domain in closure(always_loaded()):
        reqs.update(manifest(domain).get("requirements", []))
    return sorted(reqs)


def constraints() -> str:
    """HA's pins minus lines pip's -c refuses (editable or URL entries)."""
    lines = (HA_DIR / "package_constraints.txt").read_text().splitlines()
    keep = [ln for ln in lines if not ln.lstrip().startswith(("-e", "git+", "http"))]
    return "\n".join(keep) + "\n"


def main() -> None:
    if sys.argv[1:] == ["--constraints"]:
        sys.stdout.write(constraints())
    elif sys.argv[1:] == ["--domains"]:
        print("\n".join(sorted(closure(always_loaded()))))
    else:
        print("\n".join(requirements()))


if __name__ == "__main__":
    main()
