"""Import time in fresh interpreters: each sample is a new `python -c` that times one import
statement with perf_counter (interpreter start-up excluded), cases alternating. Bytecode is
compiled by a warm-up run first, as on any installed system.

Cases: `import httpx` (the yardstick); `import kpn_sms_notify` (the package, lazy);
`import kpn_sms_notify.client` (what `from kpn_sms_notify import KpnSms` loads); and the
same with asyncio, httpx and voluptuous already imported, which is what Home Assistant pays
(all three are loaded by Home Assistant core long before an integration).

`httpx` imports its command-line module (click, rich, pygments) when those happen to be
installed, as they are in the dev venv (schemathesis brings rich); that alone costs more
than the rest of httpx. Every sample blocks `httpx._main`, as in a plain install without
httpx's CLI extras, so the yardstick is httpx proper (the stricter comparison for us).
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from .stats import rotated, summary

CASES: dict[str, tuple[str, str]] = {
    # name: (already imported, timed import)
    "httpx": ("", "import httpx"),
    "kpn_sms_notify": ("", "import kpn_sms_notify"),
    "kpn_sms_notify.client": ("", "import kpn_sms_notify.client"),
    "kpn_sms_notify.client (asyncio, httpx, voluptuous loaded)": (
        "import asyncio, httpx, voluptuous",
        "import kpn_sms_notify.client",
    ),
    # Registering kpnsms:// makes Apprise load its ~190 plugins, which Apprise would do on its
    # first add() anyway; so they are loaded first and only our module's share is timed.
    "kpn_sms_notify.apprise_plugin (apprise and its plugins loaded)": (
        "import apprise\napprise.plugins.N_MGR.load_modules()",
        "import kpn_sms_notify.apprise_plugin",
    ),
}


# As if httpx's optional CLI dependencies were not installed (see the module docstring).
_PRELUDE = "import sys\nsys.modules['httpx._main'] = None\n"


def _sample(pre: str, stmt: str) -> float:
    code = (
        f"{_PRELUDE}{pre}\nimport time\nt = time.perf_counter()\n{stmt}\n"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip()) * 1000


def top_modules(stmt: str, count: int = 10) -> list[dict[str, Any]]:
    """`-X importtime` for `stmt`: the modules with the largest own (self) import time."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PRELUDE + stmt],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append(
                {
                    "module": m.group(4),
                    "self_ms": int(m.group(1)) / 1000,
                    "cumulative_ms": int(m.group(2)) / 1000,
                }
            )
    rows.sort(key=lambda r: r["self_ms"], reverse=True)
    return rows[:count]


def run_imports(reps: int, quick: bool = False) -> dict[str, Any]:
    """`quick`: the three cases the targets need, no warm-up pass and no -X importtime."""
    names = list(CASES)[:3] if quick else list(CASES)
    for name in [] if quick else names:  # compile bytecode, fill the OS file cache
        _sample(*CASES[name])
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in rotated(names, rep):
            samples[name].append(_sample(*CASES[name]))
    ms = {name: summary(v, 2) for name, v in samples.items()}
    base = ms["httpx"]["median"]
    return {
        "reps": reps,
        "unit": "ms",
        "cases": {
            name: {
                **ms[name],
                "x_httpx": round(ms[name]["median"] / base, 2),
                "statement": CASES[name][1],
                "preloaded": CASES[name][0] or None,
            }
            for name in names
        },
        "top_self_client": [] if quick else top_modules("import kpn_sms_notify.client"),
        "note": "httpx._main blocked in every sample (plain install without httpx's CLI extras)",
    }
