"""Smoke test of the benchmark harness (bench/): the quick fan-out on 3 recipients runs
against the emulator and writes a result file with sane fields. No timing asserts: the
figures themselves belong in bench/results/, not in the unit tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

# find_spec, not import: importing matplotlib here would create ~/.config/matplotlib.
# scripts/test installs the extra and sets KPN_REQUIRE_BENCH=1: there a missing extra fails.
_MISSING = [name for name in ("matplotlib", "vonage") if find_spec(name) is None]
if _MISSING and os.environ.get("KPN_REQUIRE_BENCH") == "1":
    pytest.fail(
        f"bench extra not installed ({', '.join(_MISSING)} missing) though "
        "KPN_REQUIRE_BENCH=1 (scripts/test) needs it",
        pytrace=False,
    )
pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason="bench extra not installed (pip install -e .[bench]); scripts/test fails here instead",
)

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = {"ours_warm", "ours_cold", "ours_apprise", "apprise_vonage", "vonage_sdk", "naive"}


@pytest.mark.timeout(300)
def test_quick_fanout_writes_sane_results(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "fanout",
            "--sizes",
            "3",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["mode"] == "quick"
    assert results["meta"]["emulator"] == {
        "latency": 0.05,
        "rate_limit": 30.0,
        "separate_process": True,
    }
    fan = results["fanout"]
    assert fan["sizes"] == [3]
    assert fan["rate_limit"] == 30.0
    assert 0 < fan["t_one_send"] < 5
    assert fan["limit"]["3"] == pytest.approx(fan["t_one_send"] + 2 / 30, abs=1e-3)
    assert set(fan["contenders"]) == CONTENDERS
    for name, entry in fan["contenders"].items():
        three = entry["3"]
        assert three["extrapolated"] is False, name
        assert three["runs"] == 1, name
        assert three["median"] > 0, name
        assert three["send_requests"] == 3, name
        assert three["x_limit"] == pytest.approx(three["median"] / fan["limit"]["3"], rel=0.01)
    tokens = {name: entry["3"]["token_requests"] for name, entry in fan["contenders"].items()}
    # A kept client reuses its token; a new one fetches one; the naive script one per text;
    # the Vonage-direct peers use no token at all.
    assert tokens == {
        "ours_warm": 0,
        "ours_cold": 1,
        "ours_apprise": tokens["ours_apprise"],
        "apprise_vonage": 0,
        "vonage_sdk": 0,
        "naive": 3,
    }
    assert tokens["ours_apprise"] in (0, 1)  # 0 when this process already holds its token
    # Only the fan-out ran, so only its targets are listed (none at 3 recipients).
    assert results["targets"] == []
    assert "physical limit" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "fanout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
