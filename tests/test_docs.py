"""The README and the documentation site (mkdocs.yml, docs/) are checked, not just written:
the README keeps its budget and its two commands up front, every page is in the nav, links
between them resolve, and the complete examples run or at least parse.

Which YAML blocks are complete configs is marked in the Markdown, by an HTML comment on the
line before the block (invisible on GitHub and in the site):

- `<!-- check: config -->`: a whole config file of the CLI and `kpn-sms serve` (the client
  keys, optionally a `serve:` section), loaded as `kpn-sms serve --config` loads it;
- `<!-- check: ha-yaml -->`: a Home Assistant `configuration.yaml` whose `notify:` entries of
  platform `kpn_sms_notify` must pass the shared schema.

Every `python` block is compiled, and every `kpn-sms COMMAND` (in a shell block or inline code)
names a command whose `kpn-sms COMMAND --help` works and knows the flags the line uses.
`mkdocs build --strict` (the lint lane) checks the site's own links, anchors and orphans.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from kpn_sms_notify import validate_config
from kpn_sms_notify.server.config import split_config

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_BUDGET = 250
FIRST_SCREEN = 30  # lines


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    check: str | None  # the marker on the line before it
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def markdown_files() -> list[Path]:
    return [README, *pages()]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```\s*(\w*)", lines[i])
        if not opening:
            i += 1
            continue
        indent, lang = opening.groups()
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = re.fullmatch(r"<!-- check: ([\w-]+) -->", before)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = "\n".join(line.removeprefix(indent) for line in lines[i + 1 : end])
        found.append(Block(path, i + 1, lang, marker.group(1) if marker else None, body))
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in markdown_files() for block in blocks(path)]


def nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


# ---------------------------------------------------------------- the README


def test_the_readme_keeps_its_budget() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_BUDGET, f"README.md has {len(lines)} lines, budget {README_BUDGET}"


def test_the_two_commands_are_on_the_readmes_first_screen() -> None:
    first = README.read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN]
    for command in ("scripts/demo ", "scripts/test "):
        assert any(line.startswith(command) for line in first), command


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_issue_numbers(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.findall(r"\bissues? \d+", text, re.IGNORECASE) == []


def test_the_readme_holds_no_ci_internals() -> None:
    text = README.read_text(encoding="utf-8")
    for internal in (".ci/", "KPN_REQUIRE_", "KPN_TEST_CAP_", "ha-current"):
        assert internal not in text, internal


def _slug(heading: str) -> str:
    """The anchor mkdocs (and GitHub, for these headings) gives a heading."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[\s]+", "-", text).strip("-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_the_readmes_links_resolve() -> None:
    """mkdocs checks the site's links; the README is not in the site, so it is checked here."""
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"\w+://", link)]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        target, _, anchor = link.partition("#")
        path = ROOT / target
        assert path.is_file(), link
        if anchor:
            assert anchor in _anchors(path), link


# ---------------------------------------------------------------- the site


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["docs_dir"] == "docs"
    assert config["strict"] is True
    listed = nav_pages(config["nav"])
    assert len(listed) == len(set(listed)), "a page is in the nav twice"
    present = [str(p.relative_to(DOCS)) for p in pages()]
    assert sorted(listed) == sorted(present)


# ---------------------------------------------------------------- the examples


def test_complete_examples_are_marked() -> None:
    """The markers exist: a renamed marker would otherwise check nothing."""
    marked = [block for block in all_blocks() if block.check]
    assert {b.check for b in marked} == {"config", "ha-yaml"}
    assert {b.path for b in marked} >= {README, DOCS / "serve.md", DOCS / "home-assistant.md"}
    assert all(b.lang == "yaml" for b in marked), [str(b) for b in marked]


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.check == "config"], ids=lambda b: str(b)
)
def test_a_complete_config_loads(block: Block) -> None:
    raw = yaml.safe_load(block.text)
    client, serve = split_config(raw)  # raises KpnValidationError, naming the key
    assert client["client_id"] == raw["client_id"]
    listen = raw.get("serve", {}).get("listen")
    assert listen is None or f"{serve.host}:{serve.port}" == listen


class _HomeAssistantLoader(yaml.SafeLoader):
    """configuration.yaml's `!secret NAME`, read as a placeholder string."""


_HomeAssistantLoader.add_constructor(
    "!secret", lambda loader, node: f"secret-{loader.construct_scalar(node)}"
)


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.check == "ha-yaml"], ids=lambda b: str(b)
)
def test_a_home_assistant_yaml_passes_the_shared_schema(block: Block) -> None:
    config = yaml.load(block.text, Loader=_HomeAssistantLoader)  # a SafeLoader
    entries = [e for e in config["notify"] if e.get("platform") == "kpn_sms_notify"]
    assert entries
    for entry in entries:
        options = {k: v for k, v in entry.items() if k not in ("platform", "name")}
        assert "sender" in options, "sender is required in Home Assistant YAML"
        validate_config(options)


@pytest.mark.parametrize(
    "block", [b for b in all_blocks() if b.lang == "python"], ids=lambda b: str(b)
)
def test_a_python_example_compiles(block: Block) -> None:
    compile(block.text, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _cli_uses() -> dict[str, set[str]]:
    """Each `kpn-sms COMMAND` the docs show, with the flags shown with it."""
    sources = [b.text for b in all_blocks() if b.lang in ("sh", "bash", "")]
    for path in markdown_files():
        sources += re.findall(r"`(kpn-sms [^`]+)`", path.read_text(encoding="utf-8"))
    uses: dict[str, set[str]] = {}
    for source in sources:
        for line in source.splitlines():
            for match in re.finditer(r"(?:^|[|&;]\s*|^\S+=\S+\s+)kpn-sms\s+(.*)", line.strip()):
                words = match.group(1).split("#", 1)[0].split()
                flags = {w.split("=", 1)[0] for w in words if w.startswith("--")}
                command = next((w for w in words if re.fullmatch(r"[a-z][a-z-]+", w)), None)
                if command is not None:
                    uses.setdefault(command, set()).update(flags)
    return uses


@cache
def _help(*command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kpn_sms_notify", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kpn-sms {' '.join(command)} --help: {done.stderr.strip()}"
    return done.stdout


def test_the_docs_show_the_cli() -> None:
    assert {"send", "serve", "emulator", "install-homeassistant"} <= set(_cli_uses())


@pytest.mark.parametrize("command", sorted(_cli_uses()))
def test_a_documented_cli_command_exists_with_its_flags(command: str) -> None:
    known = _help(command) + _help()
    unknown = [flag for flag in sorted(_cli_uses()[command]) if flag not in known]
    assert unknown == [], f"kpn-sms {command}: {unknown}"
