"""A reboot is proven by the kernel's boot id: a `reboot` that returns while the
board keeps its boot must be an error, never a test that checks the old boot."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from hil.board import Board
from hil.board.reboot import BOOT_ID, DidNotReboot, boot_id, reboot
from hil.errors import HarnessError
from hil.lab import load_lab
from tests.conftest import SIM_LAB


def test_a_sim_reboot_draws_a_new_boot_id_and_keeps_the_boot_partition() -> None:
    lab = load_lab(SIM_LAB, env={})
    board = Board(lab, lab.board("pi3-b"))
    with board.open_shell() as sh:
        before = boot_id(sh, board.name)
        sh.run("echo kept > /mnt/boot/hil-mark && echo gone > /tmp/hil-mark")
        after = board.reboot(sh)
        assert after != before and after == boot_id(sh, board.name)
        assert sh.run("cat /mnt/boot/hil-mark").output == "kept\n"
        assert sh.run("cat /tmp/hil-mark").exit_code == 1  # a new boot: tmpfs is empty


def test_a_reboot_that_does_not_happen_is_an_error_naming_the_boot_id() -> None:
    lab = load_lab(SIM_LAB, env={})
    board = Board(lab, lab.board("pi3-b"))
    with board.open_shell() as sh:
        sh.run("echo still-here > /tmp/hil-mark")
        before = boot_id(sh, board.name)
        with board.lab.fault("reboot-ignored"), pytest.raises(DidNotReboot) as e:
            board.reboot(sh)
        assert str(e.value) == (
            f"pi3-b: `reboot` did not reboot the board: its boot id is still {before} ({BOOT_ID})"
        )
        # the board really kept its boot: what a test would have checked is the old state
        assert sh.run("cat /tmp/hil-mark").output == "still-here\n"
        assert board.reboot(sh) != before  # without the fault it reboots


@dataclass
class _Result:
    output: str
    exit_code: int = 0


class _SlowToGoDown:
    """A real board after `reboot`: the old shell answers a few more times (systemd
    stops its units first), then the board comes back in a new boot."""

    def __init__(self, old_answers: int) -> None:
        self.ids = [str(uuid.uuid4())] * (1 + old_answers) + [str(uuid.uuid4())]
        self.commands: list[str] = []

    def run(self, command: str, timeout: float = 10) -> _Result:
        self.commands.append(command)
        if command == f"cat {BOOT_ID}":
            return _Result(self.ids.pop(0) + "\n")
        return _Result("")

    def connect(self, timeout: float | None = None) -> None:
        self.commands.append("<connect>")


def test_the_old_shell_answering_after_reboot_is_waited_out(monkeypatch) -> None:
    monkeypatch.setattr("hil.board.reboot.time.sleep", lambda s: None)
    shell = _SlowToGoDown(old_answers=2)
    new = shell.ids[-1]
    assert reboot(shell, "pi4", login_timeout=30) == new  # type: ignore[arg-type]
    assert shell.commands.count("reboot") == 1
    assert shell.commands.count(f"cat {BOOT_ID}") == 4


def test_a_board_that_never_goes_down_fails_after_its_login_timeout(monkeypatch) -> None:
    clock = iter(range(0, 1000, 20))
    monkeypatch.setattr("hil.board.reboot.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("hil.board.reboot.time.sleep", lambda s: None)
    shell = _SlowToGoDown(old_answers=100)
    with pytest.raises(DidNotReboot, match="pi4: `reboot` did not reboot the board"):
        reboot(shell, "pi4", login_timeout=60)  # type: ignore[arg-type]


def test_an_unreadable_boot_id_is_a_harness_error() -> None:
    class NoProc(_SlowToGoDown):
        def run(self, command: str, timeout: float = 10) -> _Result:
            return _Result(f"cat: can't open '{BOOT_ID}': No such file or directory\n", 1)

    with pytest.raises(HarnessError, match=r"pi4: cannot read the boot id"):
        reboot(NoProc(0), "pi4", login_timeout=5)  # type: ignore[arg-type]


def test_a_board_that_reboots_once_more_while_asked_is_asked_again(monkeypatch) -> None:
    from hil.console.session import BoardRebooted

    class RebootsTwice(_SlowToGoDown):
        def __init__(self) -> None:
            super().__init__(old_answers=0)
            self.asked = 0

        def run(self, command: str, timeout: float = 10) -> _Result:
            if command == f"cat {BOOT_ID}":
                self.asked += 1
                if self.asked == 2:  # the first read in the new boot: it reboots again
                    raise BoardRebooted("pi4: the board rebooted")
            return super().run(command, timeout)

    shell = RebootsTwice()
    new = shell.ids[-1]
    assert reboot(shell, "pi4", login_timeout=30, goes_down_later=False) == new  # type: ignore[arg-type]
    assert shell.asked == 3
