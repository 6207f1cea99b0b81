"""Hypothesis profile for the reliability suite: bounded, no deadline (CI machines are
shared and slow), and no example database written into the work tree."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "reliability",
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
settings.load_profile("reliability")
