"""The console against real shells — bash 5.2 and busybox sh — on a pty.

Each board is a `ShellRig` (tests/console_rig.py): a real shell on its own pty
(with a login stage where a test needs one), reached through a relay that can
inject kernel messages anywhere, move one byte at a time, or reboot. Every
failure mode ends in the right result or a clear error within its timeout.
"""

from __future__ import annotations

import base64
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.console import (
    BoardRebooted,
    CommandTimeout,
    ConsoleError,
    IncompleteCommand,
    LoginFailed,
    ShellSession,
    open_shell,
)
from hil.console.transcript import read_commands
from tests.console_rig import ShellRig

SHELLS = ["bash", "busybox"]
PASSWORD = "rig-pass-1234"


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator:
    rigs: list[ShellRig] = []

    def make(shell: str = "bash", **kw) -> ShellRig:
        rig = ShellRig(tmp_path / f"rig{len(rigs)}", shell, **kw).start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()


def connect(rig: ShellRig, tmp_path: Path, **kw) -> ShellSession:
    if rig.login:
        kw.setdefault("username", rig.login[0])
        kw.setdefault("password", rig.login[1])
    kw.setdefault("timeout", 15)
    return open_shell(rig.path, transcript=str(tmp_path / "console.log"), name="rig", **kw)


EXACT = [
    ("echo hello", b"hello\n", 0),
    ("true", b"", 0),
    ("false", b"", 1),
    ("printf 'no newline'", b"no newline", 0),
    ("printf 'a\\r\\nb\\rc\\n'", b"a\r\nb\rc\n", 0),  # CR-LF and a lone CR, as printed
    ("printf '\\000\\001\\377 nul and invalid utf-8'", b"\x00\x01\xff nul and invalid utf-8", 0),
    ("printf 'caf\\303\\251 \\342\\234\\223\\n'", "café ✓\n".encode(), 0),
    ("echo out; echo err >&2; echo out2", b"out\nerr\nout2\n", 0),
    ("(exit 42)", b"", 42),
    ("printf '\\t|tab\\n'", b"\t|tab\n", 0),
    ("cat <<'EOF'\nline one\n  $HOME stays\nEOF", b"line one\n  $HOME stays\n", 0),
    (
        "echo 'Kernel panic' Rebooting 'U-Boot 2021.10' login:",
        b"Kernel panic Rebooting U-Boot 2021.10 login:\n",
        0,
    ),
    (
        "printf '%s\\n' '[    1.000000] usb 1-1: new device' ok",
        b"[    1.000000] usb 1-1: new device\nok\n",
        0,
    ),
]


@pytest.mark.parametrize("shell", SHELLS)
def test_run_returns_exactly_what_the_command_printed(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    with connect(rig, tmp_path) as sh:
        for command, output, status in EXACT:
            r = sh.run(command, timeout=5)
            assert (r.output_bytes, r.exit_code) == (output, status), command
            assert r.output == output.decode("utf-8", "replace")
        sh.run("cd /tmp && X=kept", timeout=5)
        assert sh.run("pwd; echo $X", timeout=5).output == "/tmp\nkept\n"
        big = sh.run("seq 1 40000", timeout=20)  # 229 KB: printed by cat, checked by md5
        assert big.output == "".join(f"{i}\n" for i in range(1, 40001))
        assert big.verified == "md5"
        tab_line = sh.run("printf '%s\\n' 'a\tb'", timeout=5)  # a TAB is typed, not completed
        assert tab_line.output == "a\tb\n"
    commands = read_commands(tmp_path / "console.jsonl")
    assert commands[0]["command"] == "echo hello" and commands[0]["output"] == "hello\n"
    assert commands[0]["exit_code"] == 0 and commands[0]["duration"] > 0
    assert "output_base64" in commands[5]  # not UTF-8: kept exactly for replay


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_is_made_machine_friendly(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    with connect(rig, tmp_path) as sh:
        stty = sh.run("stty -a", timeout=5).output
        assert "-echo " in stty and "-onlcr" in stty and "columns 4096" in stty
        assert sh.run("echo $TERM $PAGER $NO_COLOR", timeout=5).output == "dumb cat 1\n"
        if shell == "bash":  # no line editing: no bracketed paste, no TAB completion
            assert "emacs          \toff" in sh.run("set -o", timeout=5).output
    assert rig.dmesg_calls() == ["-n 1"]  # the kernel is quietened (a stub here)
    log = (tmp_path / "console.log").read_text()
    after_setup = log[log.index("> stty -echo") : log.index("> stty echo onlcr")]
    after_setup = after_setup.split("\n", 2)[2]
    assert "\\x1b[?2004h" not in after_setup and "\\x1b[6n" not in after_setup
    # the line is given back as it was found
    assert b"stty echo onlcr" in bytes(rig.typed)


@pytest.mark.parametrize("shell", SHELLS)
def test_kernel_messages_are_cut_from_output_and_kept_in_the_transcript(
    shell, rig_factory, tmp_path
) -> None:
    rig = rig_factory(shell, noise=0.5, seed=7)
    with connect(rig, tmp_path) as sh:
        noisy = 0
        for i in range(30):
            r = sh.run(f"echo line-{i}; printf 'x%.0s' 1 2 3; echo", timeout=5)
            assert r.output == f"line-{i}\nxxx\n"
            noisy += len(r.kernel_messages)
        # a command whose real output looks like kernel messages keeps it
        dmesg = "[    0.000000] Booting Linux\n[    1.204512] usb 1-1: new device\n"
        r = sh.run(f"printf '{dmesg}'", timeout=5)
        assert r.output == dmesg
    log = (tmp_path / "console.log").read_text()
    assert log.count("] usb 1-1.3: USB disconnect") + log.count("] IPv6: ADDRCONF") > 3
    assert noisy > 0  # some landed inside outputs and were cut out


@pytest.mark.parametrize("shell", SHELLS)
def test_kernel_messages_in_every_chunk_even_mid_prompt(shell, rig_factory, tmp_path) -> None:
    """A kernel message in every chunk the board sends, at a random byte: inside the
    login and password prompts, the shell prompt, the markers and the output."""
    rig = rig_factory(shell, login=("root", PASSWORD), noise=1.0, seed=11)
    with connect(rig, tmp_path) as sh:
        assert sh.states[:2] == ["login", "password"]
        for i in range(10):
            r = sh.run(f"echo a-{i}; echo b-{i} >&2", timeout=5)
            assert (r.output, r.exit_code) == (f"a-{i}\nb-{i}\n", 0)
    log = (tmp_path / "console.log").read_text()
    # all kept in the transcript, and some landed in the middle of a line
    assert len(re.findall(r"\[ +\d+\.\d{6}\] ", log)) >= 20
    assert re.search(r" < [^\n\[]+\[ +\d+\.\d{6}\] ", log)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_line_that_loses_bytes_still_gives_exact_outputs(shell, rig_factory, tmp_path) -> None:
    """A byte in 3000 lost (the sim's console-drop-bytes rate): a frame of 24 KB
    almost never arrives whole, so it is printed again in checked pieces (real dd,
    md5sum) until each arrives intact — exact, never a different output."""
    rig = rig_factory(shell, seed=17)
    want = "".join(f"{i}\n" for i in range(1, 5001))
    with connect(rig, tmp_path) as sh:
        rig.drop = 3000
        for i in range(3):
            r = sh.run("seq 1 5000", timeout=30)
            assert (r.output, r.exit_code) == (want, 0)
            assert sh.run(f"echo small-{i}; (exit 3)", timeout=10).output == f"small-{i}\n"
        rig.drop = 0
    commands = read_commands(tmp_path / "console.jsonl")
    assert max(c["attempts"] for c in commands) > 10  # pieces were printed again
    assert "in pieces of 512 bytes" in (tmp_path / "console.log").read_text()


@pytest.mark.parametrize("shell", SHELLS)
def test_timeout_interrupts_and_the_next_command_works(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    with connect(rig, tmp_path) as sh:
        t0 = time.monotonic()
        with pytest.raises(CommandTimeout) as e:
            sh.run("echo started; sleep 30; echo never", timeout=1)
        assert time.monotonic() - t0 < 5
        assert e.value.output == "started\n"
        assert sh.run("echo next", timeout=5).output == "next\n"


def test_a_program_that_ignores_ctrl_c_is_stopped(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash")
    with connect(rig, tmp_path) as sh:
        t0 = time.monotonic()
        with pytest.raises(CommandTimeout):
            sh.run("sh -c 'trap \"\" INT; sleep 30'", timeout=1)
        assert time.monotonic() - t0 < 10
        assert sh.run("echo alive", timeout=5).output == "alive\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_incomplete_or_broken_commands_end_with_a_clear_error(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    with connect(rig, tmp_path) as sh:
        t0 = time.monotonic()
        with pytest.raises(IncompleteCommand, match="not complete"):
            sh.run("echo 'unclosed", timeout=20)
        assert time.monotonic() - t0 < 5
        with pytest.raises(ConsoleError, match=r"did not run.*syntax error"):
            sh.run("echo )", timeout=20)
        assert time.monotonic() - t0 < 10
        assert sh.run("echo fine", timeout=5).output == "fine\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_login_with_password_never_reaches_the_transcript(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell, login=("root", PASSWORD))
    with connect(rig, tmp_path) as sh:
        assert sh.run("echo $((6 * 7))", timeout=5).output == "42\n"
        assert sh.states[:2] == ["login", "password"]
    text = (tmp_path / "console.log").read_text() + (tmp_path / "console.jsonl").read_text()
    assert "rig login:" in text and PASSWORD not in text


def test_wrong_password_is_a_clear_error_not_a_loop(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash", login=("root", PASSWORD))
    t0 = time.monotonic()
    with pytest.raises(LoginFailed, match="login as 'root' refused 2 times"):
        connect(rig, tmp_path, password="wrong-password")
    assert time.monotonic() - t0 < 10
    with pytest.raises(LoginFailed, match=r"no console\.username"):
        connect(rig, tmp_path, username=None, timeout=5)


def test_boot_in_progress_is_waited_for_without_touching_autoboot(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash", login=("root", PASSWORD), boot_log=True)
    with connect(rig, tmp_path) as sh:
        assert sh.run("echo up", timeout=5).output == "up\n"
    assert bytes(rig.typed_during_autoboot) == b""


@pytest.mark.parametrize("shell", SHELLS)
def test_a_half_typed_line_is_abandoned_not_run(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    time.sleep(0.3)
    rig.type_on_board(b"touch half-typed-was-run")  # no Enter: someone left it there
    with connect(rig, tmp_path) as sh:
        assert sh.run("ls half-typed-was-run 2>&1; echo done", timeout=5).output.endswith("done\n")
    assert not (rig.dir / "half-typed-was-run").exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_running_program_is_interrupted(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell)
    time.sleep(0.3)
    rig.type_on_board(b"sleep 300\r")
    t0 = time.monotonic()
    with connect(rig, tmp_path) as sh:
        assert sh.run("echo reached", timeout=5).output == "reached\n"
    assert time.monotonic() - t0 < 5


def test_a_pager_is_quit(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash")
    time.sleep(0.3)
    rig.type_on_board(b"seq 1 500 | busybox more\r")
    time.sleep(0.3)
    with connect(rig, tmp_path) as sh:
        assert sh.run("echo out of the pager", timeout=5).output == "out of the pager\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_reboot_mid_command_is_reported_and_the_session_recovers(
    shell, rig_factory, tmp_path
) -> None:
    rig = rig_factory(shell, login=("root", PASSWORD))
    with connect(rig, tmp_path) as sh:
        threading.Timer(0.5, rig.reboot).start()
        t0 = time.monotonic()
        with pytest.raises(BoardRebooted, match="reboot: Restarting system"):
            sh.run("echo must-not-be-seen; sleep 20", timeout=30)
        assert time.monotonic() - t0 < 3
        time.sleep(1.5)  # the rig's boot log
        assert sh.run("echo back", timeout=5).output == "back\n"  # logs in again
    commands = read_commands(tmp_path / "console.jsonl")
    assert "board rebooted" in commands[0]["error"] and commands[0]["exit_code"] is None
    assert commands[1]["output"] == "back\n"
    assert (tmp_path / "console.log").read_text().count("shell ready in") == 2


DEATHS = [
    (b"[   12.000000] Kernel panic - not syncing: Attempted to kill init!\r\n", "Kernel panic"),
    (b"[   12.000000] reboot: Restarting system\r\n", "reboot: Restarting system"),
    (b"Rebooting in 5 seconds..\r\n", "Rebooting"),  # panic=5: printed without a stamp
    (b"\r\nU-Boot 2021.10 (balenaOS)\r\n", "U-Boot 2021.10"),  # a watchdog reset
]


@pytest.mark.parametrize(("line", "word"), DEATHS, ids=[w for _, w in DEATHS])
def test_death_strings_end_the_wait_early(line, word, rig_factory, tmp_path) -> None:
    rig = rig_factory("bash")
    with connect(rig, tmp_path) as sh:
        threading.Timer(0.3, rig.send_to_harness, [line]).start()
        t0 = time.monotonic()
        with pytest.raises(BoardRebooted, match=word):
            sh.run("sleep 20", timeout=30)
        assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("shell", SHELLS)
def test_any_bytes_come_back_exactly_and_never_raise(shell, rig_factory, tmp_path) -> None:
    """Every byte value, random binary, and text that is not UTF-8: exact bytes, and
    `output` decoded with replacement characters instead of an error."""
    rig = rig_factory(shell, noise=0.3, seed=3)
    every = bytes(range(256)) * 4
    (rig.dir / "every.bin").write_bytes(every)
    blob = random.Random(5).randbytes(100_000)
    (rig.dir / "blob.bin").write_bytes(blob)
    with connect(rig, tmp_path) as sh:
        r = sh.run(f"cat {rig.dir}/every.bin", timeout=10)
        assert r.output_bytes == every and r.output == every.decode("utf-8", "replace")
        r = sh.run(f"cat {rig.dir}/blob.bin; echo; echo tail", timeout=20)
        assert r.output_bytes == blob + b"\ntail\n"
        assert r.exit_code == 0 and r.verified == "md5"
    commands = read_commands(tmp_path / "console.jsonl")
    assert base64.b64decode(commands[0]["output_base64"]) == every  # kept exactly for replay


def test_a_reboot_between_commands_is_news_for_the_next_one(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash")
    with connect(rig, tmp_path) as sh:
        sh.run("echo before", timeout=5)
        rig.reboot(boot_log=False)
        time.sleep(0.5)
        with pytest.raises(BoardRebooted, match="since the last command"):
            sh.run("echo after", timeout=5)
        assert sh.run("echo after", timeout=5).output == "after\n"


def test_a_shell_that_logs_out_is_reported(rig_factory, tmp_path) -> None:
    rig = rig_factory("bash", login=("root", PASSWORD))
    with connect(rig, tmp_path) as sh:
        t0 = time.monotonic()
        with pytest.raises(BoardRebooted, match="login prompt appeared"):
            sh.run("exit", timeout=10)
        assert time.monotonic() - t0 < 5
        assert sh.run("echo again", timeout=5).output == "again\n"


@pytest.mark.parametrize("shell", SHELLS)
def test_a_slow_line_one_byte_at_a_time(shell, rig_factory, tmp_path) -> None:
    rig = rig_factory(shell, byte_delay=0.0005, noise=0.3)
    with connect(rig, tmp_path, timeout=30) as sh:
        for i in range(3):
            r = sh.run(f"echo slow-{i}; printf '[    2.000000] not the kernel\\n'", timeout=10)
            assert r.output == f"slow-{i}\n[    2.000000] not the kernel\n"
