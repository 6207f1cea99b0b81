"""The day's spent figure of the daily budget, kept in `state_dir/budget.json` so a restart
does not forget it (a `BudgetStore` for the client's send guard)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from .files import ensure_private_dir, read_private, replace_private

_LOGGER = logging.getLogger("kpn_sms_notify.server")

FILE_NAME = "budget.json"


class FileBudgetStore:
    """`load()` and `save()` of a small JSON object in a private file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._dir = state_dir

    def load(self) -> dict[str, Any] | None:
        try:
            fd = read_private(self.path)
            if fd is None:
                return None
            with os.fdopen(fd, "rb") as file:
                raw = file.read(64 * 1024)
        except OSError as err:  # a symlink in its place, no permission: start at 0, say why
            _LOGGER.warning("cannot read %s (%s); the day's spending starts at 0", self.path, err)
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            _LOGGER.warning("%s is not JSON; the day's spending starts at 0", self.path)
            return None
        return data if isinstance(data, dict) else None

    def save(self, data: dict[str, Any]) -> None:
        try:
            ensure_private_dir(self._dir)
            replace_private(self.path, json.dumps(data).encode())
        except OSError as err:  # the figure stays in memory; the next save tries again
            _LOGGER.warning("cannot keep the day's spending in %s: %s", self.path, err.strerror)
