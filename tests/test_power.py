"""Power drivers: argument formats (checked against the real uhubctl), commands, sim."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from hil.board import Board
from hil.errors import HarnessError
from hil.lab import load_lab
from hil.power import CommandPower, ManualPower, UhubctlPower
from tests.conftest import SIM_LAB


def fake_tool(tmp_path: Path, name: str = "uhubctl") -> tuple[str, Path]:
    """A stand-in that records its argv, one call per line."""
    log = tmp_path / f"{name}.calls"
    tool = tmp_path / name
    tool.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    tool.chmod(0o755)
    return str(tool), log


def test_uhubctl_arguments(tmp_path: Path) -> None:
    tool, log = fake_tool(tmp_path)
    p = UhubctlPower("pi4", "1-1", 2, off_time=4, binary=tool)
    p.off()
    p.on()
    p.cycle()
    assert log.read_text().splitlines() == [
        "-l 1-1 -p 2 -a off",
        "-l 1-1 -p 2 -a on",
        "-l 1-1 -p 2 -a cycle -d 4",
    ]


@pytest.mark.real
@pytest.mark.parametrize("action", ["on", "off", "cycle"])
def test_real_uhubctl_accepts_our_arguments(action: str) -> None:
    argv = UhubctlPower("pi4", "1-1", 2, off_time=4).argv(action)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    # no hub here: uhubctl got as far as looking for one, so it parsed every option
    assert "No compatible devices detected at location 1-1" in r.stdout + r.stderr
    assert "Usage" not in r.stdout + r.stderr


def test_uhubctl_failure_is_one_line_naming_the_board() -> None:
    with pytest.raises(HarnessError) as e:
        UhubctlPower("pi4", "1-1", 2).off()
    assert str(e.value).startswith("pi4: power off failed (exit 1)")
    assert "No compatible devices" in str(e.value)
    with pytest.raises(HarnessError, match="command not found"):
        UhubctlPower("pi4", "1-1", 2, binary="/nonexistent/uhubctl").on()


def test_command_driver(tmp_path: Path) -> None:
    log = tmp_path / "pdu.log"
    slept: list[float] = []
    p = CommandPower(
        "pi4", on=f"echo on >> {log}", off=f"echo off >> {log}", off_time=5, sleep=slept.append
    )
    p.cycle()
    assert log.read_text().split() == ["off", "on"] and slept == [5]
    p2 = CommandPower("pi4", on="true", off="true", cycle=f"echo cycled >> {log}")
    p2.cycle()
    assert log.read_text().split()[-1] == "cycled"
    with pytest.raises(HarnessError, match=r"pi4: power on failed \(exit 3\): relay stuck"):
        CommandPower("pi4", on="echo relay stuck >&2; exit 3", off="true").on()


def test_manual_driver_needs_an_operator() -> None:
    with pytest.raises(HarnessError, match="needs an operator"):
        ManualPower("pi4", stdin=io.StringIO("\n")).on()

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = io.StringIO()
    ManualPower("pi4", stdin=Tty("\n"), stdout=out).cycle()
    assert "switch the board OFF and back ON" in out.getvalue()


def test_sim_power_off_silences_and_cycle_boots_again() -> None:
    lab = load_lab(SIM_LAB, env={})
    board = Board(lab, lab.board("pi3-b"))
    with board.open_shell() as sh:
        sh.run("echo before > /tmp/mark")
    board.power.off()
    with pytest.raises(HarnessError, match="no shell prompt"):
        board.open_shell(timeout=1.5)
    board.power.on()
    board.power_cycle(wait=True, timeout=20)
    with board.open_shell() as sh:
        assert sh.run("cat /tmp/mark").exit_code == 1  # /tmp did not survive the reboot
        assert sh.run("cat /etc/os-release").exit_code == 0


def test_power_cli_on_a_served_sim_board(hil_cmd: list[str], sim_serve) -> None:
    r = subprocess.run(
        [*hil_cmd, "power", "cycle", "--board", "pi4-a", "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (r.returncode, r.stdout) == (0, "pi4-a: power cycle\n"), r.stderr
