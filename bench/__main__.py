"""`python -m bench [--quick] [--only SECTIONS] [--sizes N,N] [--out DIR]`: run the issue-6
benchmarks against the KPN emulator (latency 50 ms, rate limit 30/s) and write
results.json, table.md and fanout.png to bench/results/ (quick: bench/results/quick/)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .emulator_proc import EmulatorProcess
from .report import markdown, targets

HERE = Path(__file__).resolve().parent
SECTIONS = ("fanout", "tokens", "cpu", "imports", "bulk")
LATENCY = 0.05
RATE = 30.0

# (recipients, R, max_concurrency) per bulk run. The headline run uses the R = 30/s
# (10,000 take 333 s). The second raises R to 200/s to find the client's own ceiling;
# max_concurrency 20 > R x latency = 10 (Little's law), so concurrency is not the cap.
FULL = {
    "sizes": [1, 10, 100],
    "reps": 5,
    "slow_reps": 3,
    "notifications": 100,
    "cpu_messages": 500,
    "cpu_reps": 5,
    "import_reps": 20,
    "bulk": [(10_000, 30.0, 10), (2_000, 200.0, 20)],
}
QUICK = {
    "sizes": [1, 3],
    "reps": 1,
    "slow_reps": 1,
    "notifications": 30,
    "cpu_messages": 60,
    "cpu_reps": 1,
    "import_reps": 2,
    "bulk": [(90, 30.0, 10)],
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _meta(mode: str, plan: dict[str, Any]) -> dict[str, Any]:
    def ver(name: str) -> str | None:
        try:
            return version(name)
        except Exception:
            return None

    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent
        ).stdout.strip()
        or None
    )
    return {
        "mode": mode,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench" + (" --quick" if mode == "quick" else ""),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            n: ver(n) for n in ("kpn-sms-notify", "httpx", "apprise", "vonage", "aiohttp")
        },
        "emulator": {"latency": LATENCY, "rate_limit": RATE, "separate_process": True},
        "plan": {k: v for k, v in plan.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections (default all: {','.join(SECTIONS)})",
    )
    parser.add_argument("--sizes", help="fan-out recipient counts, e.g. 1,10,100")
    parser.add_argument("--out", type=Path, help="output folder (default bench/results[/quick])")
    args = parser.parse_args(argv)

    plan = {**(QUICK if args.quick else FULL), "quick": args.quick}
    if args.sizes:
        plan["sizes"] = [int(s) for s in args.sizes.split(",")]
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    out_dir = args.out or (HERE / "results" / "quick" if args.quick else HERE / "results")
    out_dir.mkdir(parents=True, exist_ok=True)

    mode = "quick" if args.quick else "full"
    results: dict[str, Any] = {"meta": _meta(mode, plan)}
    started = time.perf_counter()
    with EmulatorProcess(latency=LATENCY, rate_limit=RATE) as emu:
        for section in SECTIONS:
            if section not in chosen:
                continue
            _log(f"[{time.perf_counter() - started:6.1f} s] {section} ...")
            t0 = time.perf_counter()
            results[section] = _run(section, emu, plan, out_dir)
            if isinstance(results[section], dict):
                results[section]["section_seconds"] = round(time.perf_counter() - t0, 1)
                results[section]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["total_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)

    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "table.md").write_text(markdown(results))
    if "fanout" in results:
        from .plot import plot_fanout

        plot_fanout(results["fanout"], out_dir / "fanout.png")
    print(markdown(results))
    _log(f"done in {results['meta']['total_seconds']} s; results in {out_dir}")
    return 0


def _run(section: str, emu: EmulatorProcess, plan: dict[str, Any], out_dir: Path) -> Any:
    if section == "fanout":
        from .fanout import run_fanout

        return run_fanout(emu, plan["sizes"], plan["reps"], plan["slow_reps"], log=_log)
    if section == "tokens":
        from .tokens import run_tokens

        return run_tokens(emu, plan["notifications"])
    if section == "cpu":
        from .cpu import run_cpu

        return run_cpu(
            emu,
            plan["cpu_messages"],
            plan["cpu_reps"],
            profile_to=None if plan["quick"] else out_dir,
        )
    if section == "imports":
        from .imports import run_imports

        return run_imports(plan["import_reps"], quick=plan["quick"])
    if section == "bulk":
        from .bulk import run_bulk

        runs = []
        for count, rate, concurrency in plan["bulk"]:
            _log(f"  bulk: {count} recipients at R={rate:g}/s")
            runs.append(run_bulk(emu, count, rate, concurrency))
        return runs
    raise ValueError(section)


if __name__ == "__main__":
    sys.exit(main())
