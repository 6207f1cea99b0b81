"""The driver of scripts/mutation: mutmut on the core modules, a score per module, and the
surviving mutants that are not triaged as equivalent.

Each module runs in a fresh copy of the work tree (.mutation/<module>/), with a generated
[tool.mutmut] section: the module's files to mutate and the tests that exercise them. mutmut
itself picks, per mutant, the tests that run the mutated function.

    score = (killed + timeout) / (mutants - equivalent - not run)

An equivalent mutant (no behaviour changes) is listed in tests/mutation-equivalent.txt,
one a line: `<mutant name>: <why it is equivalent>`. mutmut numbers mutants per function,
so a name can change when its function changes: re-triage after editing a core module.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".mutation"
EQUIVALENTS = REPO / "tests" / "mutation-equivalent.txt"
# The library's fault tests that run in this process and take well under a second (the CLI's,
# serve's and Apprise's run other processes; the quota ones wait seconds on every mutant).
_FAULTS = "tests/reliability/test_apigee_faults.py::test_"
CLIENTS = [
    "tests/test_client.py",
    "tests/test_sync_client.py",
    *(
        _FAULTS + name
        for name in (
            "exhausted_quota_fault_waits_for_the_window_in_its_headers",
            "missing_sms_product_fails_the_notification_without_renewing",
            "missing_sms_product_concurrent_recipients_renew_nothing",
            "missing_sms_product_sync",
            "missing_sms_product_on_register",
            "check_access_finds_a_missing_product_and_texts_nobody",
            "check_access_sync",
            "product_taken_away_mid_batch_reports_the_rest",
        )
    ),
]

# The inbound parsers' tests: every tests/test_inbound*.py, and these.
INBOUND_TESTS = [
    *(str(p.relative_to(REPO)) for p in sorted((REPO / "tests").glob("test_inbound*.py"))),
    "tests/test_serve_inbound.py",
    "tests/reliability/test_fuzz_webhooks.py",
    "tests/reliability/test_inbound_bounds.py",  # the assembler's bounds
]

# module -> (files to mutate, tests that exercise them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "protocol": (
        ["kpn_sms_notify/protocol.py"],
        ["tests/test_status_protocol.py", "tests/test_errors.py", *CLIENTS],
    ),
    # prepare(), and the retry policy (its own tests are in test_errors.py); the send guard's
    # tests read what prepare() says of a text (its parts, urgent)
    "sending": (
        ["kpn_sms_notify/sending.py"],
        ["tests/test_errors.py", "tests/test_send_guard.py", *CLIENTS],
    ),
    "auth": (["kpn_sms_notify/auth.py"], CLIENTS),
    "numbers": (
        ["kpn_sms_notify/numbers.py"],
        ["tests/test_numbers.py", "tests/test_schema.py", "tests/reliability/test_fuzz_numbers.py"],
    ),
    "encoding": (
        ["kpn_sms_notify/encoding.py"],
        [
            "tests/test_encoding.py",
            "tests/reliability/test_fuzz_encoding.py",
            "tests/test_client.py",
        ],
    ),
    "inbound": (["kpn_sms_notify/inbound/*.py"], INBOUND_TESTS),
}
CORE = list(MODULES)  # what a run with no names measures
# Each inbound file on its own too (``scripts/mutation inbound.wire``): a quicker loop while
# closing one file's gaps. The package's figure is the one reported.
MODULES.update(
    {
        f"inbound.{path.stem}": ([f"kpn_sms_notify/inbound/{path.name}"], INBOUND_TESTS)
        for path in sorted((REPO / "kpn_sms_notify" / "inbound").glob("*.py"))
        if path.stem != "__init__"
    }
)
DETECTED = ("killed", "timeout", "caught by type check")
NOT_RUN = ("not checked", "skipped", "check was interrupted by user")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def prepare(module: str) -> Path:
    """A fresh copy of the tracked (and new, not ignored) files, configured for `module`."""
    files, tests = MODULES[module]
    where = WORK / module
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in listed:
        if name.startswith(("tests/homeassistant/", ".mutation/")) or not (REPO / name).is_file():
            continue
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, where / name)
    pyproject = where / "pyproject.toml"
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", pyproject.read_text(), flags=re.S)
    pyproject.write_text(
        text + "\n[tool.mutmut]\n"
        'source_paths = ["kpn_sms_notify/"]\n'
        f"only_mutate = {_toml_list(files)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        # A fixed Hypothesis seed: the same examples for every mutant.
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", '
        '"no:homeassistant", "-q", "--hypothesis-seed=0"]\n'
    )
    return where


def equivalents() -> dict[str, str]:
    out: dict[str, str] = {}
    if EQUIVALENTS.exists():
        for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, why = line.partition(":")
                out[name.strip()] = why.strip()
    return out


def run(module: str, jobs: int, timeout: float | None, mutmut: str) -> dict[str, object]:
    where = prepare(module)
    started = time.monotonic()
    partial = False
    with (where / "mutmut.log").open("wb") as log:
        proc = subprocess.Popen(
            [mutmut, "run", "--max-children", str(jobs)],
            cwd=where,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            partial = True
            proc.terminate()
            proc.wait(timeout=30)
    listing = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=where, capture_output=True, text=True
    ).stdout
    status = {}
    for line in listing.splitlines():
        name, sep, state = line.strip().rpartition(": ")
        if sep and name.startswith("kpn_sms_notify."):
            status[name] = state
    if not status:
        tail = (where / "mutmut.log").read_text(errors="replace")[-2000:]
        sys.exit(f"scripts/mutation: {module}: mutmut produced no results\n{tail}")
    known = equivalents()
    counts = Counter(status.values())
    equivalent = [n for n, s in status.items() if n in known and s not in DETECTED]
    survivors = [
        n for n, s in status.items() if s not in DETECTED and s not in NOT_RUN and n not in known
    ]
    detected = sum(counts[s] for s in DETECTED)
    not_run = sum(counts[s] for s in NOT_RUN)
    # A listed name that is killed, or no longer exists, was renumbered or wrongly listed: it
    # would hide whatever mutant takes its name next. Re-triage it.
    mine = _prefixes(files=MODULES[module][0])
    stale = [n for n in known if n.startswith(mine) and (n not in status or status[n] in DETECTED)]
    scored = len(status) - len(equivalent) - not_run
    return {
        "module": module,
        "mutants": len(status),
        "detected": detected,
        "equivalent": len(equivalent),
        "not_run": not_run,
        "survivors": survivors,
        "stale": stale,
        "score": detected / scored if scored else 1.0,
        "partial": partial,
        "seconds": time.monotonic() - started,
        "where": where,
    }


def _prefixes(*, files: list[str]) -> tuple[str, ...]:
    """Mutant-name prefixes of the files mutated: kpn_sms_notify/inbound/*.py gives
    "kpn_sms_notify.inbound.", kpn_sms_notify/protocol.py "kpn_sms_notify.protocol."."""
    return tuple(
        f.removesuffix("*.py").removesuffix(".py").replace("/", ".").rstrip(".") + "."
        for f in files
    )


def show(mutmut: str, where: Path, name: str) -> str:
    diff = subprocess.run([mutmut, "show", name], cwd=where, capture_output=True, text=True).stdout
    return "\n".join("      " + line for line in diff.splitlines()[1:])


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/mutation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "modules",
        nargs="*",
        choices=[[], *MODULES],
        metavar="MODULE",
        help=f"any of {', '.join(MODULES)} (default: {', '.join(CORE)})",
    )
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("KPN_MUTATION_JOBS", 2)))
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per module; a module stopped there reports a partial score",
    )
    parser.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    args = parser.parse_args()
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    results = []
    for module in args.modules or CORE:
        print(f"== {module}: mutating {', '.join(MODULES[module][0])}", flush=True)
        result = run(module, args.jobs, args.timeout, mutmut)
        results.append(result)
        survivors: list[str] = result["survivors"]  # type: ignore[assignment]
        for name in survivors:
            print(f"   survived: {name}")
            if not args.no_diffs:
                print(show(mutmut, result["where"], name))  # type: ignore[arg-type]
        stale: list[str] = result["stale"]  # type: ignore[assignment]
        for name in stale:
            print(f"   listed as equivalent but killed or gone (re-triage): {name}")
    print("\nmodule             mutants  detected  equivalent  not run  survived   score")
    for r in results:
        print(
            f"{r['module']:<18} {r['mutants']:>7}  {r['detected']:>8}  {r['equivalent']:>10}"
            f"  {r['not_run']:>7}  {len(r['survivors']):>8}  {r['score']:>6.1%}"  # type: ignore[arg-type]
            + (f"  (partial: stopped at {args.timeout:.0f} s)" if r["partial"] else "")
            + f"  {r['seconds']:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
