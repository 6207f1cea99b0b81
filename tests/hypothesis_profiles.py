"""Hypothesis profiles: the same examples on every run, unless fuzzing is asked for.

Loaded by tests/conftest.py before any test module is imported: a profile is fixed when a test
module is imported (each @settings copies the loaded profile's values for the fields it does
not set itself). HYPOTHESIS_PROFILE picks one:

  ci    the default (scripts/test): derandomised, no example database, no wall-clock deadline
        (a loaded 2-core machine must not fail a test) and no time-based health check. A
        failure is the same failure on every run; print_blob shows how to reproduce it.
  fuzz  scripts/fuzz: random seeds, KPN_FUZZ_FACTOR (default 20) times the examples of each
        test. Every failure it finds is added to its test as an explicit @example.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
FUZZ_FACTOR = int(os.environ.get("KPN_FUZZ_FACTOR") or 20) if PROFILE == "fuzz" else 1
CI_EXAMPLES = 200

_LENIENT = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_LENIENT,
)
settings.register_profile(
    "fuzz",
    max_examples=CI_EXAMPLES * FUZZ_FACTOR,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=_LENIENT,
)
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """A test's own example budget for @settings(max_examples=...), which overrides the
    profile's: `count` in CI, FUZZ_FACTOR times it when fuzzing."""
    return count * FUZZ_FACTOR
