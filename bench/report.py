"""Targets checked against the results, and the Markdown tables for docs/performance.md."""

from __future__ import annotations

from typing import Any

IMPORT_TARGET = 1.5
CPU_TARGET = 1.3
FANOUT_TARGET = 1.15
THROUGHPUT_TARGET = 0.95
MEMORY_TARGET_MB = 50.0


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per issue-6 target that this run measured."""
    rows: list[dict[str, Any]] = []

    def add(measure: str, target: str, value: str, met: bool | None, note: str = "") -> None:
        rows.append(
            {"measure": measure, "target": target, "measured": value, "met": met, "note": note}
        )

    fan = results.get("fanout")
    if fan:
        for n in (10, 100):
            for name, what in (("ours_warm", "client kept"), ("ours_cold", "new client")):
                e = fan["contenders"].get(name, {}).get(str(n))
                if e:
                    met = e["x_limit"] <= FANOUT_TARGET if name == "ours_warm" else None
                    add(
                        f"(2) ours at {n} recipients ({what})",
                        f"<= {FANOUT_TARGET}x limit",
                        f"{e['median']:.3f} s = {e['x_limit']:.2f}x limit",
                        met,
                        ""
                        if met is not None
                        else "informational: includes a token fetch "
                        "and a new HTTP client, which the limit does not",
                    )
    tok = results.get("tokens")
    if tok:
        for kind in ("async", "sync"):
            v = tok[kind]["token_requests"]
            add(
                f"(3) token requests, {tok['notifications']} concurrent notifications ({kind})",
                "1",
                str(v),
                v == 1,
            )
    cpu = results.get("cpu")
    if cpu:
        c = cpu["cpu_us_per_message"]
        add(
            "(4) CPU per message, ours / bare httpx",
            f"<= {CPU_TARGET}x",
            f"{c['ours']['median']:.0f} / {c['bare_httpx']['median']:.0f} us = {cpu['ratio']:.2f}x",
            cpu["ratio"] <= CPU_TARGET,
        )
    imp = results.get("imports")
    if imp:
        base = imp["cases"]["httpx"]["median"]
        for case in (
            "kpn_sms_notify",
            "kpn_sms_notify.client",
            "kpn_sms_notify.client (asyncio, httpx, voluptuous loaded)",
        ):
            e = imp["cases"].get(case)
            if e:
                add(
                    f"(5) import {case} / import httpx",
                    f"<= {IMPORT_TARGET}x",
                    f"{e['median']:.0f} / {base:.0f} ms = {e['x_httpx']:.2f}x",
                    e["x_httpx"] <= IMPORT_TARGET,
                )
    for run in results.get("bulk", []):
        tag = f"{run['recipients']} recipients at R={run['rate_limit']:g}/s"
        add(
            f"(6) throughput, {tag}",
            "within 5% of R",
            f"{run['throughput_per_s']:.2f}/s = {100 * run['throughput_vs_r']:.1f}% of R",
            run["throughput_vs_r"] >= THROUGHPUT_TARGET,
        )
        add(
            f"(6) peak RSS growth, {tag}",
            f"<= {MEMORY_TARGET_MB:g} MB",
            f"{run['rss_growth_mb']:.1f} MB",
            run["rss_growth_mb"] <= MEMORY_TARGET_MB,
        )
    return rows


def _mark(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[met]


def markdown(results: dict[str, Any]) -> str:
    out = ["| measure | target | measured | met |", "|---|---|---|---|"]
    for row in results["targets"]:
        out.append(
            f"| {row['measure']} | {row['target']} | {row['measured']} | {_mark(row['met'])} |"
        )
    fan = results.get("fanout")
    if fan:
        sizes = fan["sizes"]
        out += [
            "",
            "| contender | " + " | ".join(f"N = {n}" for n in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        out.append(
            "| physical limit t + (N-1)/R | "
            + " | ".join(f"{fan['limit'][str(n)]:.3f} s" for n in sizes)
            + " |"
        )
        for name, entry in fan["contenders"].items():
            cells = []
            for n in sizes:
                e = entry.get(str(n))
                if e is None:
                    cells.append("-")
                elif e["extrapolated"]:
                    cells.append(f"~{e['median']:.0f} s ({e['x_limit']:.0f}x), extrapolated")
                else:
                    cells.append(f"{e['median']:.3f} s ({e['x_limit']:.2f}x)")
            out.append(f"| {fan['labels'].get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
