"""`hil exec` end to end through the installed CLI, and `hil sim serve` persistence."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SIM_LAB


def hil(hil_cmd: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*hil_cmd, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ}
    )


def test_exec_prints_os_release(hil_cmd: list[str]) -> None:
    r = hil(
        hil_cmd, "exec", "--lab", str(SIM_LAB), "--board", "pi4-a", "--", "cat", "/etc/os-release"
    )
    assert r.returncode == 0, r.stderr
    assert 'VERSION="2.113.4"' in r.stdout
    assert "\r" not in r.stdout
    assert "login" not in r.stdout and "#" not in r.stdout  # no prompt, no echo


def test_exec_exit_status_and_shell_parsing(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "exec", "--board", "pi3-b", "--", "echo", "a;", "(exit", "7)")
    assert r.stdout == "a\n"
    assert r.returncode == 7


def test_exec_timeout_is_124(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "exec", "--board", "pi3-b", "--timeout", "1", "--", "sleep", "20")
    assert r.returncode == 124
    assert "timed out" in r.stderr


def test_exec_usage_errors_are_2(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "exec", "--board", "nope", "--", "true")
    assert r.returncode == 2 and "no board named 'nope'" in r.stderr
    r = hil(hil_cmd, "exec", "--board", "pi4-a")
    assert r.returncode == 2
    r = hil(hil_cmd, "exec", "--lab", "/nonexistent.yaml", "--board", "x", "--", "true")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_exec_on_a_missing_port_is_255(hil_cmd: list[str], tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "name: gone\nboards:\n  - name: b1\n    device_type: raspberrypi4-64\n"
        "    console: {url: /dev/ttyUSB-hil-missing, port_timeout: 0.5}\n"
    )
    r = hil(hil_cmd, "exec", "--lab", str(lab), "--board", "b1", "--", "true")
    assert r.returncode == 255
    assert "b1" in r.stderr and "/dev/ttyUSB-hil-missing" in r.stderr
    assert "Traceback" not in r.stderr


def test_sim_serve_keeps_state_between_exec_calls(hil_cmd: list[str], sim_serve) -> None:
    assert any("sim://pi4-a" in line for line in sim_serve), sim_serve
    r = hil(hil_cmd, "exec", "--board", "pi4-a", "--", "echo kept > /tmp/state")
    assert r.returncode == 0, r.stderr
    r = hil(hil_cmd, "exec", "--board", "pi4-a", "--", "cat /tmp/state")
    assert (r.returncode, r.stdout) == (0, "kept\n")


def test_a_board_not_served_any_more_starts_fresh(hil_cmd: list[str]) -> None:
    r = hil(hil_cmd, "exec", "--board", "pi4-a", "--", "cat /tmp/state")
    assert r.returncode == 1  # a fresh in-process board has no such file


@pytest.mark.parametrize(
    "args", [["--help"], ["exec", "--help"], ["run", "--help"], ["sim", "faults", "--help"]]
)
def test_help(hil_cmd: list[str], args: list[str]) -> None:
    r = hil(hil_cmd, *args)
    assert r.returncode == 0 and "usage: hil" in r.stdout


def test_sim_faults_lists_every_fault(hil_cmd: list[str]) -> None:
    from hil.lab import FAULTS

    r = hil(hil_cmd, "sim", "faults")
    assert r.returncode == 0
    for name in FAULTS:
        assert name in r.stdout
