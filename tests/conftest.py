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
