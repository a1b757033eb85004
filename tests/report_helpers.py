"""Generated suites and runs for the reporting tests (real plugin, sim lab)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO, SIM_LAB

#: a WiFi suite with one test of each outcome on the sim boards
WIFI_SUITE = """
import pytest

def test_os_release_readable(board, shell):
    r = shell.run("cat /etc/os-release")
    assert r.exit_code == 0

def test_dns_resolves(board, shell):
    r = shell.run("echo lookup hil-lab.example")
    assert "NOERROR" in r.output, "DNS lookup of hil-lab.example failed"

@pytest.mark.skip(reason="needs an AP the sim lab does not have")
def test_roaming(board, shell):
    pass

def test_harness_breaks(board):
    raise RuntimeError("the test itself is wrong")
"""

#: a cellular suite: passes on every board unless told to fail (env HIL_TEST_FAIL_ON)
CELLULAR_SUITE = """
import os
import pytest

@pytest.mark.needs("modem")
def test_modem_answers(board, shell):
    r = shell.run("echo modem ok")
    assert r.exit_code == 0

@pytest.mark.needs("modem")
def test_registration(board, shell):
    shell.run("echo checking registration")
    assert board.name not in os.environ.get("HIL_TEST_FAIL_ON", "").split(","), (
        "modem not registered on the network"
    )
"""


def write_suites(root: Path, **suites: str) -> Path:
    """`suites/test_<area>.py` files in `root`; returns the directory."""
    root.mkdir(parents=True, exist_ok=True)
    for area, text in suites.items():
        (root / f"test_{area}.py").write_text(textwrap.dedent(text))
    return root


def lab_with(tmp: Path, name: str = "sim-lab", **os_releases: str) -> Path:
    """A copy of the sim lab with other OS releases on some boards (pi4_a="2.114.0")."""
    text = SIM_LAB.read_text()
    if name != "sim-lab":
        text = text.replace("name: sim-lab", f"name: {name}")
    for board, release in os_releases.items():
        board = board.replace("_", "-")
        default = {"pi4-a": "2.113.4", "pi3-b": "2.108.27"}[board]
        text = text.replace(f'os_release: "{default}"', f'os_release: "{release}"')
    path = tmp / f"{name}-{'-'.join(os_releases.values()) or 'default'}.yaml"
    path.write_text(text)
    return path


def run_pytest(
    suites: Path, cwd: Path, *args: str, lab: Path = SIM_LAB, env: dict | None = None
) -> subprocess.CompletedProcess:
    """pytest on generated suites through the installed plugin, as `hil run` would."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(suites),
        f"--lab={lab}",
        f"--alluredir={cwd / 'out/allure-results'}",
        f"--transcripts={cwd / 'out/transcripts'}",
        "-p",
        "no:cacheprovider",
        f"--rootdir={suites}",
        *args,
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def run_hil(
    hil_cmd: list[str], cwd: Path, *args: str, suites: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    extra = {"HIL_SUITES_DIR": str(suites)} if suites else {}
    if args[:1] == ("run",) and "--lab" not in args:
        args = (*args, "--lab", str(SIM_LAB))
    return subprocess.run(
        [*hil_cmd, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **extra, **(env or {})},
    )


def results(results_dir: Path) -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted(results_dir.glob("*-result.json"))]


def labels(result: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label in result["labels"]:
        out.setdefault(label["name"], []).append(label["value"])
    return out


def by_name(rs: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rs}


__all__ = ["REPO", "SIM_LAB"]
