"""Small helpers shared by the benchmark sections."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def summary(samples: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Median (the figure reported), min, max and every sample."""
    return {
        "median": round(statistics.median(samples), digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
        "runs": len(samples),
        "samples": [round(s, digits) for s in samples],
    }


def rotated(items: Sequence[Any], turn: int) -> list[Any]:
    """`items` starting at position `turn`: alternates who goes first in each repetition, so
    no contender always runs right after the same neighbour."""
    if not items:
        return []
    k = turn % len(items)
    return list(items[k:]) + list(items[:k])
