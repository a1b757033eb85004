"""The sim board over its pty, byte by byte: what a USB-serial adapter would carry."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator

import pytest

from hil.lab import load_lab
from hil.sim.board import SimBoard
from tests.conftest import SIM_LAB


class Line:
    """The harness end of the pty, read raw, with no help from hil.console."""

    def __init__(self, path: str) -> None:
        import tty

        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.seen = b""

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def until(self, needle: bytes, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not seen; got {self.seen[-300:]!r}"
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                self.seen += os.read(self.fd, 4096)
        head, _, self.seen = self.seen.partition(needle)
        return head + needle

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def board_and_line(request) -> Iterator[tuple[SimBoard, Line]]:
    lab = load_lab(SIM_LAB, env={})
    cfg = lab.board(getattr(request, "param", "pi4-a"))
    board = SimBoard(cfg)
    line = Line(board.pty_path)  # opened before boot: the whole boot log is seen
    board.start()
    yield board, line
    line.close()
    board.stop()


def login(line: Line) -> None:
    line.until(b"3f2a1bc login: ")
    line.send(b"root\r")
    line.until(b"root@3f2a1bc:~# ")


def test_boot_log_login_prompt_and_crlf(board_and_line) -> None:
    _, line = board_and_line
    boot = line.until(b"3f2a1bc login: ")
    assert b"balenaOS 2.113.4 3f2a1bc ttyS0\r\n" in boot
    assert b"[    0.000000] Booting Linux" in boot
    assert b"\n" not in boot.replace(b"\r\n", b"")  # every newline is CRLF, as ONLCR does


def test_echo_prompt_and_output(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    line.send(b"echo hi\r")
    assert line.until(b"root@3f2a1bc:~# ") == b"echo hi\r\nhi\r\nroot@3f2a1bc:~# "


def test_backspace_and_ctrl_u_edit_the_line(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    line.send(b"garbage\x15echo ab\x7fc\r")
    out = line.until(b"root@3f2a1bc:~# ")
    assert out.endswith(b"\r\nac\r\nroot@3f2a1bc:~# ")


def test_stty_minus_echo_stops_the_echo(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    line.send(b"stty -echo\r")
    line.until(b"root@3f2a1bc:~# ")
    line.send(b"echo quiet\r")
    assert line.until(b"root@3f2a1bc:~# ") == b"quiet\r\nroot@3f2a1bc:~# "


def test_ctrl_c_stops_sleep(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    line.send(b"sleep 30; echo not-reached\r")
    time.sleep(0.3)
    t0 = time.monotonic()
    line.send(b"\x03")
    out = line.until(b"root@3f2a1bc:~# ", timeout=3)
    assert time.monotonic() - t0 < 2
    assert b"^C" in out and b"\r\nnot-reached" not in out
    line.send(b"echo $?\r")
    assert b"130\r\n" in line.until(b"root@3f2a1bc:~# ")


def test_sleep_really_sleeps(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    t0 = time.monotonic()
    line.send(b"sleep 0.5; echo done\r")
    line.until(b"\r\ndone\r\n")
    assert time.monotonic() - t0 >= 0.5


def test_wrong_user_gets_login_incorrect(board_and_line) -> None:
    _, line = board_and_line
    line.until(b"3f2a1bc login: ")
    line.send(b"admin\r")
    assert b"Login incorrect" in line.until(b"3f2a1bc login: ")


def test_logout_returns_to_login_prompt(board_and_line) -> None:
    _, line = board_and_line
    login(line)
    line.send(b"exit\r")
    assert b"logout" in line.until(b"3f2a1bc login: ")


def test_reboot_boots_again(board_and_line) -> None:
    board, line = board_and_line
    login(line)
    line.send(b"reboot\r")
    out = line.until(b"3f2a1bc login: ")
    assert b"reboot: Restarting system" in out and b"Booting Linux" in out
    assert board.world.boot_count == 2


@pytest.mark.parametrize("board_and_line", ["pi3-b"], indirect=True)
def test_board_without_username_gives_a_shell(board_and_line) -> None:
    _, line = board_and_line
    line.until(b"ttyS0\r\n")
    line.until(b"root@9c41d07:~# ")
    line.send(b"\r")
    line.until(b"root@9c41d07:~# ")
    line.send(b"cat /etc/os-release | grep ^VERSION=\r")
    assert b'VERSION="2.108.27"\r\n' in line.until(b"root@9c41d07:~# ")
