"""A simulated balenaOS board behind a real pty.

The harness opens the pty's slave side exactly as it opens a USB-serial
adapter; this side holds the master and behaves as a board's serial console
does: boot log, `<hostname> login:`, a root shell with the balenaOS prompt,
echo and line editing done by the board, Ctrl-C, logout and reboot.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import select
import threading
import time
import tty
import zlib

from hil.lab.models import BoardConfig
from hil.sim.console_faults import LineFaults
from hil.sim.shell import ExitShell, Interrupted, Shell
from hil.sim.shell.interp import RebootRequested
from hil.sim.shell.lexer import Incomplete, ShellSyntaxError
from hil.sim.shell.parser import parse
from hil.sim.world import World

CTRL_C, CTRL_D, CTRL_U, BS, DEL, ESC = b"\x03", b"\x04", b"\x15", b"\x08", b"\x7f", b"\x1b"


class _Rebooted(Exception):
    pass


class SimBoard:
    """One simulated board: a world, a pty and the thread that serves it."""

    def __init__(self, config: BoardConfig, boot_delay: float = 0.002) -> None:
        self.config = config
        self.name = config.name
        self.world = World(config)
        self.boot_delay = boot_delay
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # the line is raw: echo and CRLF are the board's doing
        os.set_blocking(self.master, False)
        self.pty_path = os.ttyname(self._slave)
        self.faults = LineFaults(
            self.world.faults, self.world.clock.uptime, seed=zlib.crc32(config.name.encode())
        )
        self._input: queue.Queue[bytes] = queue.Queue()
        self._interrupt = threading.Event()
        self._busy = False
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._reboot_pending = threading.Event()
        self._powered = threading.Event()
        self._powered.set()
        self._threads: list[threading.Thread] = []
        self.commands_run = 0
        self.commands_since_boot = 0

    # -- lifecycle -----------------------------------------------------
    def start(self) -> SimBoard:
        for target, name in ((self._read_loop, "rx"), (self._main_loop, "main")):
            t = threading.Thread(target=target, name=f"sim-{self.name}-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def signal_stop(self) -> None:
        """Ask the board's threads to end (`stop()` then waits for them)."""
        self._stop.set()
        self._interrupt.set()
        self._input.put(b"")

    def stop(self) -> None:
        self.signal_stop()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def reboot(self) -> None:
        """Reboot from the outside (power cycle through the lab side)."""
        self._reboot_pending.set()
        self._interrupt.set()
        self._input.put(b"")

    def set_power(self, on: bool) -> None:
        """The power switch: off silences the line until switched on (then it boots)."""
        if on:
            self._powered.set()
        else:
            self._powered.clear()
            self.reboot()

    def flash(self, release: str, files: list[tuple[str, bytes, bool, int]]) -> None:
        """A fresh SD card with `release` and `files` in its boot partition; then boot it."""
        from hil.bootfs import merge_config_json
        from hil.sim.world import BOOT

        config = self.config.model_copy(deep=True)
        assert config.sim is not None
        config.sim.os_release = release
        world = World(config)
        world.faults = self.world.faults  # lab faults are the lab's, not the card's
        for path, data, merge_json, mode in files:
            full = f"{BOOT}/{path}"
            if merge_json:
                existing = world.fs.read(full) if world.fs.exists(full) else None
                data = merge_config_json(existing, data, full)
            world.fs.write(full, data, mode=mode)
        self.config = config
        self.world = world
        self.faults.uptime = world.clock.uptime
        self.reboot()

    @property
    def powered(self) -> bool:
        return self._powered.is_set()

    # -- the line ------------------------------------------------------
    def write(self, data: bytes | str, faults: bool = True) -> None:
        if isinstance(data, str):
            data = data.encode()
        data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # ONLCR
        if faults:
            data = self.faults.apply(data)
        with self._write_lock:
            view = memoryview(data)
            while view and not self._stop.is_set():
                try:
                    n = os.write(self.master, view)
                    view = view[n:]
                except BlockingIOError:
                    # nobody is draining the line: a real UART drops what it can't send
                    _, w, _ = select.select([], [self.master], [], 2.0)
                    if not w:
                        return
                except OSError as e:
                    if e.errno in (errno.EIO, errno.EBADF):
                        return
                    raise

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                time.sleep(0.05)
                continue
            if self._busy and CTRL_C in data:
                self._interrupt.set()
                data = data.replace(CTRL_C, b"")
            if data:
                self._input.put(data)

    def _chars(self):
        """Yield input one byte at a time; ends the session on reboot/stop."""
        while True:
            if self._stop.is_set() or self._reboot_pending.is_set():
                raise _Rebooted
            try:
                chunk = self._input.get(timeout=0.2)
            except queue.Empty:
                continue
            for i in range(len(chunk)):
                yield chunk[i : i + 1]

    def _read_line(self, chars, echo: bool = True) -> str | None:
        """Line editing as a tty in cooked mode does it; None on Ctrl-C, EOF on Ctrl-D."""
        buf = bytearray()
        for c in chars:
            if c in (b"\r", b"\n"):
                if echo:
                    self.write(b"\r\n")
                return buf.decode("utf-8", "replace")
            if c == CTRL_C:
                self.write(b"^C\r\n")
                return None
            if c == CTRL_D and not buf:
                raise EOFError
            if c in (BS, DEL):
                if buf:
                    buf.pop()
                    if echo:
                        self.write(b"\b \b")
            elif c == CTRL_U:
                if echo and buf:
                    self.write(b"\b \b" * len(buf))
                buf.clear()
            elif c == ESC:
                self._swallow_escape(chars)
            elif c[0] >= 0x20 or c == b"\t":
                buf += c
                if echo:
                    self.write(c)
        raise _Rebooted

    @staticmethod
    def _swallow_escape(chars) -> None:
        """Drop a terminal's answer such as a cursor-position report ESC[24;80R."""
        first = next(chars)
        if first != b"[":
            return
        for c in chars:
            if 0x40 <= c[0] <= 0x7E:
                return

    # -- the board -----------------------------------------------------
    def _main_loop(self) -> None:
        while not self._stop.is_set():
            while not self._powered.wait(0.2):
                if self._stop.is_set():
                    return
            self._drain_input()
            self._reboot_pending.clear()
            self._interrupt.clear()
            self._busy = False
            self._boot()
            try:
                chars = self._chars()
                while True:
                    if self.config.console.username:
                        self._login(chars)
                    self._shell_session(chars)
            except _Rebooted:
                continue
            except Exception as e:  # a bug in the model must not kill the line silently
                self.write(f"\r\n[sim] internal error: {e!r}\r\n")
                time.sleep(0.5)

    def _drain_input(self) -> None:
        """What was typed at a board that was off or rebooting is gone."""
        while True:
            try:
                self._input.get_nowait()
            except queue.Empty:
                return

    def _boot(self) -> None:
        w = self.world
        w.boot()
        self.commands_since_boot = 0
        lines = [
            "",
            "U-Boot 2021.10 (balenaOS)",
            "Starting kernel ...",
            "[    0.000000] Booting Linux on physical CPU 0x0000000000",
            f"[    0.000000] Linux version {w.kernel} (oe-user@oe-host) #1 SMP PREEMPT",
            f"[    0.000000] Machine model: {w.device_type}",
            "[    1.204512] usb 1-1: new high-speed USB device number 2 using dwc2",
            "[    2.611098] EXT4-fs (mmcblk0p2): mounted filesystem with ordered data mode",
            "[    3.118230] systemd[1]: Detected architecture arm64.",
            "[  OK  ] Started NetworkManager.service - Network Manager.",
            "[  OK  ] Started ModemManager.service - Modem Manager.",
            "[  OK  ] Reached target multi-user.target - Multi-User System.",
            "",
            f"balenaOS {w.os_release} {w.hostname} ttyS0",
            "",
        ]
        for line in lines:
            if self._stop.is_set():
                return
            self.write(line + "\n")
            time.sleep(self.boot_delay)

    def _login(self, chars) -> None:
        console = self.config.console
        while True:
            self.write(f"{self.world.hostname} login: ")
            try:
                user = self._read_line(chars)
            except EOFError:
                continue
            if user is None or not user.strip():
                continue
            password_ok = True
            if console.password:
                self.write("Password: ")
                try:
                    given = self._read_line(chars, echo=False)
                except EOFError:
                    given = None
                self.write("\n")
                password_ok = given == console.password
            if user.strip() == console.username and password_ok:
                return
            time.sleep(0.3)
            self.write("\nLogin incorrect\n")

    def prompt(self, shell: Shell) -> str:
        cwd = shell.cwd
        home = shell.env.get("HOME", "/home/root")
        short = "~" + cwd[len(home) :] if cwd == home or cwd.startswith(home + "/") else cwd
        return f"root@{self.world.hostname}:{short}# "

    def _shell_session(self, chars) -> None:
        """Until logout. Ctrl-C at the prompt abandons the line."""
        shell = Shell(self.world, out=self.write, interrupt=self._interrupt)
        while True:
            self.write(self.prompt(shell))
            try:
                line = self._read_command(chars, shell)
            except EOFError:
                self.write("logout\n")
                return
            if line is None or not line.strip():
                continue
            try:
                self._run(shell, line)
            except ExitShell:
                self.write("logout\n")
                return

    def _read_command(self, chars, shell: Shell) -> str | None:
        """A whole command: more lines (after the PS2 prompt `> `) while it is incomplete."""
        line = self._read_line(chars, echo=shell.tty.echo)
        while line is not None:
            try:
                parse(line)
                return line
            except Incomplete:
                self.write(shell.env.get("PS2", "> "))
                more = self._read_line(chars, echo=shell.tty.echo)
                if more is None:
                    return None
                line += "\n" + more
            except ShellSyntaxError:
                return line  # run_line reports it
        return None

    def _run(self, shell: Shell, line: str) -> None:
        self._interrupt.clear()
        self._busy = True
        self.commands_run += 1
        self.commands_since_boot += 1
        try:
            if self.world.fault("reboot-during-command") and self.faults.reboots_during(
                self.commands_since_boot
            ):
                self._interrupt.wait(0.05)  # the command is under way when the board goes
                raise RebootRequested
            shell.run_line(line)
        except Interrupted:
            shell.status = 130
            if self._reboot_pending.is_set():
                raise _Rebooted from None
            self.write("^C\n")
        except RebootRequested:
            self.write(f"[{self.world.clock.uptime():12.6f}] reboot: Restarting system\n")
            raise _Rebooted from None
        finally:
            self._busy = False
            self._interrupt.clear()
