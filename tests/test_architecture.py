"""The package's shape, read from its source: no import cycles, no project import hidden in a
function without a written reason, and docs/architecture.md's module map naming exactly the
modules that exist."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kpn_sms_notify"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PYTHON_API = ROOT / "docs" / "python-api.md"

# Project imports that stay inside a function, each for a reason other than a cycle.
# (importing module, imported module) -> why.
_SUBCOMMAND = (
    "each kpn-sms command loads its own stack when it runs (send/token: httpx, the config file "
    "and token cache, voluptuous, phonenumbers; emulator/demo/serve: aiohttp; "
    "install-homeassistant: zipfile), so `kpn-sms --help` loads none of them"
)
_NO_VOLUPTUOUS = (
    "schema imports voluptuous and phonenumbers; `import kpn_sms_notify.client` "
    "(timed by bench/imports.py) loads neither until a client is configured"
)
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("kpn_sms_notify.cli", "kpn_sms_notify.emulator"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.demo"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.server"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.cliconfig"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.client"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.token_cache"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.progress"): _SUBCOMMAND,
    ("kpn_sms_notify.cli", "kpn_sms_notify.ha_install"): _SUBCOMMAND,
    ("kpn_sms_notify.apprise_plugin", "kpn_sms_notify.sync_client"): (
        "httpx is loaded on the first notification, not when Apprise loads its plugins "
        "(bench/imports.py times this module with Apprise already loaded)"
    ),
    ("kpn_sms_notify.settings", "kpn_sms_notify.schema"): _NO_VOLUPTUOUS,
    ("kpn_sms_notify.sending", "kpn_sms_notify.schema"): _NO_VOLUPTUOUS,
    ("kpn_sms_notify.client_base", "kpn_sms_notify.schema"): _NO_VOLUPTUOUS,
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the project module it loads
    line: int
    in_function: bool


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = module_files()


def _owner(name: str) -> str | None:
    """The project module that `name` (a module or a name in one) is loaded from."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            is_package = MODULES[module].name == "__init__.py"
            base = module.split(".")[: len(module.split(".")) - node.level + is_package]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        # `from pkg import submodule` loads the submodule; `from mod import name` loads mod.
        names = [f"{prefix}.{alias.name}" for alias in node.names]
    for name in names:
        owner = _owner(name)
        if owner is not None and owner != module:
            yield owner


def imports(module: str) -> list[Import]:
    """Every project import of `module`: at module level (TYPE_CHECKING blocks included) and
    inside functions and methods."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[Import] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(
                    Import(module, target, child.lineno, in_function)
                    for target in _targets(module, child)
                )
            walk(
                child,
                in_function
                or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda),
            )

    walk(tree, False)
    return found


ALL_IMPORTS = [imp for module in MODULES for imp in imports(module)]


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_the_graph_sees_the_package() -> None:
    # The walk itself: a broken resolver would find no edges and pass every check below.
    assert len(MODULES) > 60
    edges = {(imp.source, imp.target) for imp in ALL_IMPORTS}
    assert ("kpn_sms_notify.client", "kpn_sms_notify.client_base") in edges
    assert ("kpn_sms_notify.emulator.faults", "kpn_sms_notify.emulator.responses") in edges
    assert ("kpn_sms_notify.server.text", "kpn_sms_notify.server.alerts") in edges
    assert ("kpn_sms_notify.homeassistant.notify", "kpn_sms_notify.homeassistant.runtime") in edges
    assert ("kpn_sms_notify.homeassistant", "kpn_sms_notify.errors") in edges


def test_find_cycles_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert find_cycles(edges) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in ALL_IMPORTS:
        edges[imp.source].add(imp.target)
    assert find_cycles(edges) == []


def test_no_project_import_inside_a_function_without_a_reason() -> None:
    hidden = {(imp.source, imp.target): imp for imp in ALL_IMPORTS if imp.in_function}
    unexplained = [
        f"{MODULES[imp.source].relative_to(ROOT)}:{imp.line} imports {imp.target}"
        for key, imp in sorted(hidden.items())
        if key not in LAZY_IMPORTS
    ]
    assert unexplained == [], "move these to the top of the module (or give a reason)"
    stale = sorted(set(LAZY_IMPORTS) - set(hidden))
    assert stale == [], "no longer imported inside a function: drop from LAZY_IMPORTS"


@pytest.mark.parametrize(
    ("module", "unloaded"),
    [
        ("kpn_sms_notify.cli", ("httpx", "aiohttp", "yaml", "voluptuous", "phonenumbers")),
        ("kpn_sms_notify.apprise_plugin", ("httpx",)),
    ],
)
def test_the_reasons_for_lazy_imports_hold(module: str, unloaded: tuple[str, ...]) -> None:
    """What LAZY_IMPORTS keeps out of an import stays out (kpn_sms_notify.client: see
    test_package.py)."""
    code = f"import sys, {module}; print([m for m in {unloaded!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# docs/architecture.md ---------------------------------------------------------------------


def _map_rows() -> list[str]:
    """The first cells of the module map table (`## Modules`)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Modules", 1)[1].split("\n## ", 1)[0]
    return [
        line.split("|")[1]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("|--") and "`" in line
    ]


def documented_modules() -> set[str]:
    """Modules the map names: `x.py` is kpn_sms_notify.x, `pkg/` and `pkg/__init__.py` are
    kpn_sms_notify.pkg, `pkg/x.py` is kpn_sms_notify.pkg.x."""
    out = set()
    for cell in _map_rows():
        for name in re.findall(r"`([\w/]+(?:\.py|/))`", cell):
            parts = ["kpn_sms_notify", *name.removesuffix(".py").strip("/").split("/")]
            if parts[-1] == "__init__":
                parts.pop()
            out.add(".".join(parts))
    return out


def test_the_module_map_names_every_module_and_only_modules_that_exist() -> None:
    documented = documented_modules()
    assert len(documented) > 60, "no module map found in docs/architecture.md"
    assert sorted(documented - set(MODULES)) == [], "in the map, not in the package"
    assert sorted(set(MODULES) - documented) == [], "in the package, not in the map"


def _documented_calls() -> list[tuple[str, str]]:
    """(module, function) for each `name(` the map quotes next to its module."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    calls = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = line.split("|")
        files = re.findall(r"`([\w/]+)\.py`", cells[1])
        if len(files) != 1:
            continue
        module = "kpn_sms_notify." + files[0].replace("/", ".")
        for name in re.findall(r"`(\w+)\(", cells[2]):
            calls.append((module, name))
    return calls


def _defined_names(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def test_functions_the_module_map_quotes_exist() -> None:
    calls = _documented_calls()
    assert ("kpn_sms_notify.numbers", "normalize_number") in calls
    absent = [f"{module}.{name}" for module, name in calls if name not in _defined_names(module)]
    assert absent == []


def test_the_send_signature_in_the_doc_is_the_clients() -> None:
    """The parameters the doc gives for `send(...)` are KpnSms.send's, in order."""
    quoted = re.search(r"^`send\((.*?)\)`", PYTHON_API.read_text(encoding="utf-8"), re.S | re.M)
    assert quoted is not None, "docs/python-api.md no longer quotes send(...)"
    doc_params = [
        p.strip().split("=")[0]
        for p in quoted.group(1).replace("\n", " ").split(",")
        if p.strip() not in ("", "*")
    ]
    tree = ast.parse((PACKAGE / "client.py").read_text(encoding="utf-8"))
    [send] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "send"
    ]
    args = send.args
    code_params = [a.arg for a in [*args.posonlyargs, *args.args] if a.arg != "self"]
    code_params += [f"*{args.vararg.arg}"] if args.vararg else []
    code_params += [a.arg for a in args.kwonlyargs]
    code_params += [f"**{args.kwarg.arg}"] if args.kwarg else []
    assert doc_params == code_params
