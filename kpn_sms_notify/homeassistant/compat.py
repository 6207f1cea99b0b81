"""Differences between the Home Assistant releases this integration supports, detected at run
time (one copy of the code for 2025.4 and 2026.x; tests run on both)."""

from __future__ import annotations

# 2026.x moved NotifyEntity to notify/entity.py; the package still re-exports it, but do not
# rely on the re-export staying forever.
try:
    from homeassistant.components.notify import NotifyEntity, NotifyEntityFeature
except ImportError:  # pragma: no cover - only on a release that dropped the re-export
    from homeassistant.components.notify.entity import (  # type: ignore[no-redef,import-not-found,unused-ignore]
        NotifyEntity,
        NotifyEntityFeature,
    )

__all__ = ["NotifyEntity", "NotifyEntityFeature"]
