"""The fan-out plot: time against recipients for each contender and the physical limit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

STYLE = {  # name: (colour, marker)
    "ours_warm": ("#0a7d28", "o"),
    "ours_cold": ("#56b870", "s"),
    "ours_apprise": ("#9ad3a8", "^"),
    "apprise_vonage": ("#d62728", "D"),
    "vonage_sdk": ("#ff7f0e", "v"),
    "naive": ("#7f3fbf", "x"),
}


def plot_fanout(fanout: dict[str, Any], path: Path) -> None:
    # matplotlib writes a font cache under $MPLCONFIGDIR (default ~/.config): keep it in /tmp.
    os.environ.setdefault(
        "MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "kpn-bench-matplotlib")
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = fanout["sizes"]
    fig, ax = plt.subplots(figsize=(8, 5.2), dpi=110)
    limit = [fanout["limit"][str(n)] for n in sizes]
    ax.plot(
        sizes,
        limit,
        "k--",
        linewidth=1.6,
        label=f"physical limit t + (N-1)/R  (R = {fanout['rate_limit']:g}/s)",
    )
    for name, entry in fanout["contenders"].items():
        colour, marker = STYLE.get(name, ("grey", "."))
        label = fanout["labels"].get(name, name)
        measured = [n for n in sizes if str(n) in entry and not entry[str(n)]["extrapolated"]]
        guessed = [n for n in sizes if str(n) in entry and entry[str(n)]["extrapolated"]]
        ax.plot(
            measured,
            [entry[str(n)]["median"] for n in measured],
            color=colour,
            marker=marker,
            linewidth=1.8,
            label=label,
        )
        if guessed and measured:
            xs = [measured[-1], *guessed]
            ax.plot(
                xs,
                [entry[str(n)]["median"] for n in xs],
                color=colour,
                linestyle=":",
                linewidth=1.4,
            )
            ax.plot(
                guessed,
                [entry[str(n)]["median"] for n in guessed],
                color=colour,
                linestyle="none",
                marker=marker,
                markerfacecolor="white",
                label=f"{label}: extrapolated, not measured",
            )
            for n in guessed:
                ax.annotate(
                    f"{entry[str(n)]['median']:.0f} s (extrapolated)",
                    (n, entry[str(n)]["median"]),
                    textcoords="offset points",
                    xytext=(-120, 4),
                    fontsize=8,
                    color=colour,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(n) for n in sizes])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("recipients of one alert (N)")
    ax.set_ylabel("time until every recipient is accepted (s, median)")
    ax.set_title(
        f"Fan-out against the KPN emulator (latency 50 ms, rate limit {fanout['rate_limit']:g}/s)",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
