"""Named steps with deadlines, screenshots, and what the user sees on a page (shadow DOM
included). Imported as a top-level module: this folder has no __init__.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

# Every text node, the labels and placeholders, and the values of the inputs, walking into
# every open shadow root: what the page shows, where `innerText` stops at the first shadow host.
_VISIBLE_TEXT_JS = """
() => {
  const texts = [], values = [];
  const walk = (root) => {
    const nodes = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = nodes.nextNode(); n; n = nodes.nextNode()) {
      const text = n.textContent.trim();
      if (text && !['SCRIPT', 'STYLE'].includes(n.parentNode.nodeName)) texts.push(text);
    }
    for (const el of root.querySelectorAll('*')) {
      for (const name of ['label', 'placeholder', 'aria-label', 'helper', 'title']) {
        const value = el.getAttribute(name);
        if (value) texts.push(value);
      }
      if (typeof el.label === 'string' && el.label) texts.push(el.label);
      if ('value' in el && typeof el.value === 'string' && el.value) values.push(el.value);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return {texts, values};
}
"""

# What an untranslated string of this integration looks like when the frontend shows its key.
RAW_KEY = re.compile(
    r"component\.kpn_sms_notify|\bconfig(_subentries)?\.(step|error|abort)\."
    r"|\b(step|data|data_description|error|abort)\.[a-z_]+\."
)


SETTLE = 15.0  # seconds a form may take to render all its texts


class StepFailed(AssertionError):
    """A named step broke or overran its deadline; its screenshot is in the artifacts."""


class Steps:
    """Runs the test as named steps, each with a deadline: no single wait in a step may take
    longer (Playwright's action and `expect` timeouts), nor the whole step. A failure leaves
    FAIL-<step>.png and names the step in the error."""

    def __init__(self, page: Page, artifacts: Path) -> None:
        self.page = page
        self.artifacts = artifacts
        self.timings: list[tuple[str, float]] = []

    @contextmanager
    def step(self, name: str, deadline: float) -> Iterator[None]:
        start = time.monotonic()
        self.page.set_default_timeout(deadline * 1000)
        expect.set_options(timeout=deadline * 1000)
        try:
            yield
        except Exception as err:
            shot = self._fail_shot(name)
            raise StepFailed(
                f"step {name!r} failed after {time.monotonic() - start:.1f} s "
                f"(screenshot: {shot}): {err}"
            ) from err
        elapsed = time.monotonic() - start
        self.timings.append((name, elapsed))
        if elapsed > deadline:
            shot = self._fail_shot(name)
            raise StepFailed(
                f"step {name!r} took {elapsed:.1f} s, over its {deadline} s "
                f"deadline (screenshot: {shot})"
            )

    def _fail_shot(self, name: str) -> Path | str:
        path = self.artifacts / f"FAIL-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"
        try:
            self.page.screenshot(path=str(path), full_page=True, timeout=15_000)
        except PlaywrightError as err:  # the page may be gone: the step's error matters more
            return f"none, {err}"
        return path

    def screenshot(self, name: str) -> Path:
        """A screenshot for the docs: screenshots/<name>.png in the artifacts."""
        path = self.artifacts / "screenshots" / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled")
        return path

    def visible(self) -> tuple[list[str], list[str]]:
        """The page's texts and labels, and its inputs' values (shadow DOM included)."""
        seen = self.page.evaluate(_VISIBLE_TEXT_JS)
        return list(seen["texts"]), list(seen["values"])

    def assert_no_raw_keys(self, *shown: str, settle: float = SETTLE) -> None:
        """No text on the page looks like a translation key, and each of `shown` (the
        translations expected) is on it. Parts of a form render late (help texts and markdown
        descriptions): the check is repeated until it holds, for at most `settle` seconds."""
        deadline = time.monotonic() + settle
        while True:
            texts, _ = self.visible()
            raw = sorted({t for t in texts if RAW_KEY.search(t)})
            absent = [text for text in shown if not any(text in seen for seen in texts)]
            if not raw and not absent:
                return
            if time.monotonic() > deadline:
                break
            self.page.wait_for_timeout(250)  # a poll interval, bounded by the deadline above
        assert not raw, f"untranslated keys on the page: {raw}"
        assert not absent, f"not shown on the page: {absent}"
