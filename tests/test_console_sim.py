"""The console against the simulated board's console faults: never a wrong output.

Under `console-noise` every output is exact; under `console-drop-bytes` an
output is exact or the command raises `OutputCorrupted` (a lost byte is
caught by the frame's check and the frame printed again — the command is
never run twice); under `reboot-during-command` the reboot is reported, never
mistaken for output. The suites under the same faults: tests/test_fault_matrix.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.console import BoardRebooted, LoginFailed, OutputCorrupted, ShellSession, open_shell
from hil.console.transcript import read_commands
from hil.errors import HarnessError
from hil.lab import load_lab
from hil.sim.board import SimBoard
from hil.sim.console_faults import REBOOT_AT
from hil.sim.server import SimServer
from tests.conftest import SIM_LAB

COMMANDS = [
    "cat /etc/os-release",
    "nmcli --colors no -t -f DEVICE,TYPE,STATE device",
    "ip -j addr show",
    "uname -a; echo $?",
    "seq 1 300",
    "ls /nonexistent",
    "printf '[    1.000000] usb 1-1: looks like the kernel\\n'",
]


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer(load_lab(SIM_LAB, env={})).start()
    yield server
    server.stop()


def board(sim: SimServer, name: str = "pi3-b") -> SimBoard:
    return sim.boards[name]


def shell(b: SimBoard, tmp_path: Path, **kw) -> ShellSession:
    c = b.config.console
    kw.setdefault("username", c.username)
    kw.setdefault("password", c.password)
    kw.setdefault("timeout", 20)
    return open_shell(b.pty_path, transcript=str(tmp_path / "console.log"), name=b.name, **kw)


def baseline(b: SimBoard, tmp_path: Path) -> dict[str, tuple[str, int]]:
    with shell(b, tmp_path / "baseline") as sh:
        return {c: (r.output, r.exit_code) for c in COMMANDS for r in [sh.run(c, timeout=10)]}


def test_console_noise_changes_no_output(sim, tmp_path) -> None:
    b = board(sim)
    want = baseline(b, tmp_path)
    b.world.set_fault("console-noise", True)
    with shell(b, tmp_path) as sh:
        for _ in range(4):
            for c in COMMANDS:
                r = sh.run(c, timeout=10)
                assert (r.output, r.exit_code) == want[c], c
    log = (tmp_path / "console.log").read_text()
    assert "] Under-voltage detected!" in log or "] usb 1-1.3:" in log  # noise was there


def test_dropped_bytes_never_become_a_different_output(sim, tmp_path) -> None:
    b = board(sim)
    want = baseline(b, tmp_path)
    b.world.set_fault("console-drop-bytes", True)
    b.faults.drop_rate = 400  # far worse than the fault's default, to see it at work
    exact = corrupted = 0
    with shell(b, tmp_path, timeout=60) as sh:
        for _ in range(3):
            for c in COMMANDS:
                try:
                    r = sh.run(c, timeout=10)
                except OutputCorrupted as e:
                    assert "failed its check" in str(e)
                    corrupted += 1
                    continue
                except HarnessError as e:  # a lost marker byte may cost the command its frame
                    assert b.name in str(e)
                    continue
                assert (r.output, r.exit_code) == want[c], c
                exact += 1
    assert exact > 0
    reprinted = [e for e in read_commands(tmp_path / "console.jsonl") if e.get("attempts", 1) > 1]
    assert reprinted, "no frame was damaged: the fault did not act"


def test_a_line_that_loses_too_much_is_an_error_not_an_output(sim, tmp_path) -> None:
    b = board(sim)
    with shell(b, tmp_path) as sh:
        b.world.set_fault("console-drop-bytes", True)
        b.faults.drop_rate = 50
        with pytest.raises(HarnessError):
            for _ in range(5):
                sh.run("seq 1 2000", timeout=10)
    b.world.set_fault("console-drop-bytes", False)


def test_reboot_during_command_is_reported_never_taken_for_output(sim, tmp_path) -> None:
    b = board(sim, "pi4-a")
    b.world.set_fault("reboot-during-command", True)
    outcomes = []
    with shell(b, tmp_path) as sh:
        for _ in range(REBOOT_AT):
            try:
                r = sh.run("cat /etc/hostname", timeout=10)
                outcomes.append(r.output)
            except BoardRebooted as e:
                assert "reboot: Restarting system" in str(e)
                outcomes.append("rebooted")
    assert "rebooted" in outcomes
    assert set(outcomes) == {"3f2a1bc\n", "rebooted"}


def test_wrong_password_on_a_simulated_board(sim, tmp_path) -> None:
    b = board(sim, "pi4-a")
    b.reboot()
    with pytest.raises(LoginFailed, match="login as 'admin' refused 2 times"):
        shell(b, tmp_path, username="admin")
