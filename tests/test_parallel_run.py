"""`hil run` runs boards in parallel workers, sim boards served once for all of them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import SIM_LAB


def test_parallel_run_on_the_sim_lab(hil_cmd: list[str], tmp_path: Path) -> None:
    outcomes = tmp_path / "outcomes.json"
    r = subprocess.run(
        [
            *hil_cmd,
            "run",
            "--lab",
            str(SIM_LAB),
            "--suite",
            "ethernet",
            "--workers",
            "2",
            "--results",
            str(tmp_path / "results"),
            "--report",
            str(tmp_path / "report"),
            "--",
            f"--outcomes={outcomes}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "2 workers" in r.stdout
    got = json.loads(outcomes.read_text())
    boards = {nodeid.split("[")[-1].rstrip("]") for nodeid in got}
    assert boards == {"pi4-a", "pi3-b"}
    assert {v["outcome"] for v in got.values()} == {"passed"}
