"""Validated settings for a client, built from the shared config schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .encoding import Overflow, UnicodePolicy


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a client needs to know: every config option of `options`, resolved (a
    test keeps the fields and the declaration alike). repr() never shows the secret."""

    client_id: str
    client_secret: str = field(repr=False)
    sender: str | None
    recipients: tuple[str, ...]
    base_url: str
    region: str
    max_parts: int
    overflow: Overflow
    unicode: UnicodePolicy
    rate_limit: float
    max_concurrency: int
    timeout: float
    retries: int
    retry_budget: float
    retry_ambiguous: bool
    status_report: bool
    callback: str | None
    ttl: int | None
    client_ref: str | None
    token_margin: float
    storm_cap: int
    storm_window: float
    daily_budget: float | None
    low_balance: float | None
    admins: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """From a config mapping; it is validated (again) so hand-made dicts are safe too."""
        from .schema import recipient_numbers, validate_config

        checked = validate_config({k: v for k, v in config.items() if v is not None}, extra=True)
        values: dict[str, Any] = {f.name: checked.get(f.name) for f in fields(cls)}
        values["recipients"] = tuple(recipient_numbers(checked))
        values["admins"] = tuple(recipient_numbers(checked, key="admins"))
        return cls(**values)

    def __str__(self) -> str:
        return f"Settings(client_id={self.client_id!r}, base_url={self.base_url!r})"
