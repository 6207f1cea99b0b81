"""A one-line progress display on stderr, for the CLI on a terminal."""

from __future__ import annotations

import sys

from .models import RecipientResult


class Progress:
    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.failed = 0

    def update(self, result: RecipientResult) -> None:
        self.done += 1
        self.failed += 0 if result.ok else 1
        if self.enabled:
            sys.stderr.write(f"\rsending: {self.done}/{self.total}, {self.failed} failed ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\n")
