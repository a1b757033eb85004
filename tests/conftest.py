"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HIL = str(REPO / ".venv" / "bin" / "hil") if (REPO / ".venv/bin/hil").exists() else "hil"
SIM_LAB = REPO / "lab-config" / "sim.yaml"


@pytest.fixture(autouse=True, scope="session")
def _isolated_sim_registry(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test session (each xdist worker) gets its own sim registry."""
    os.environ["HIL_SIM_DIR"] = str(tmp_path_factory.mktemp("sim-registry"))


@pytest.fixture
def hil_cmd() -> list[str]:
    """The installed CLI (as a user runs it)."""
    return [HIL] if HIL != "hil" else [sys.executable, "-m", "hil.cli.main"]


@pytest.fixture
def sim_serve(hil_cmd: list[str]):
    """`hil sim serve` of the sim lab in the background; yields its start-up lines."""
    import subprocess

    serve = subprocess.Popen(
        [*hil_cmd, "sim", "serve", "--lab", str(SIM_LAB)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert serve.stdout is not None
    lines = []
    while not lines or "serving" not in lines[-1]:
        line = serve.stdout.readline()
        assert line, f"hil sim serve ended: {lines}"
        lines.append(line)
    try:
        yield lines
    finally:
        serve.terminate()
        serve.wait(timeout=10)
