"""A real shell (bash, busybox sh) behind a relay that behaves like a serial line.

The shell runs on a pty of its own, as a getty's shell does on a board; the
harness opens another pty (or a TCP socket), as it opens a USB-serial adapter
(or ser2net); a relay thread carries the bytes between the two and can make
the line misbehave the way real ones do: kernel messages injected anywhere
(the kernel writes them straight to the UART), bytes lost now and then, a
line that moves one byte at a time, a line paced at a baud rate, a reboot. The board can also start with
a boot log (U-Boot autoboot countdown included) and a login stage.

Used by the console tests and by `bench/console.py`. Nothing here touches the
host: `dmesg` is a stub on PATH that only records how it was called, and the
shell's files go to a private directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

LOGIN_SCRIPT = r"""#!/bin/bash
# A board's login stage: getty's prompt, then login's, then the shell.
# Ctrl-C or an empty name gives a fresh prompt, as getty does.
trap 'printf "\n"' INT
while :; do
  printf '%s login: ' "$RIG_HOST"
  IFS= read -r user || { [ $? -gt 128 ] && continue; exit 0; }
  [ -n "$user" ] || continue
  printf 'Password: '
  stty -echo; IFS= read -r pass; stty echo; printf '\n'
  if [ "$user" = "$RIG_USER" ] && [ "$pass" = "$RIG_PASSWORD" ]; then
    exec "$@"
  fi
  sleep 0.2
  printf '\nLogin incorrect\n'
done
"""

DMESG_STUB = """#!/bin/sh
printf "%s\n" "$*" >> "$RIG_DIR/dmesg-calls"
"""

BOOT_LOG = [
    b"\r\nU-Boot 2021.10 (balenaOS)\r\n",
    b"DRAM:  3.9 GiB\r\n",
    b"Hit any key to stop autoboot:  1 ",
    b"\x08\x08\x08 0 \r\n",
    b"Starting kernel ...\r\n\r\n",
    b"[    0.000000] Booting Linux on physical CPU 0x0000000000\r\n",
    b"[    1.204512] usb 1-1: new high-speed USB device number 2 using dwc2\r\n",
    b"[  OK  ] Reached target multi-user.target - Multi-User System.\r\n\r\n",
]

KERNEL_NOISE = [
    "usb 1-1.3: USB disconnect, device number 4",
    "IPv6: ADDRCONF(NETDEV_CHANGE): wlan0: link becomes ready",
    "Under-voltage detected! (0x00050005)",
    "cdc_ncm 1-1.3:1.1 wwan0: network connection: connected",
]

SHELLS = {
    "bash": ["bash", "--norc", "--noprofile", "-i"],
    "busybox": ["busybox", "sh", "-i"],
}


class ShellRig:
    """One simulated board: a real shell, its pty, and the line to the harness."""

    def __init__(
        self,
        workdir: Path,
        shell: str = "bash",
        *,
        login: tuple[str, str] | None = None,
        boot_log: bool = False,
        noise: float = 0.0,
        drop: int = 0,
        byte_delay: float = 0.0,
        baud: int | None = None,
        transport: str = "pty",
        seed: int = 1,
    ) -> None:
        self.dir = workdir
        self.shell = shell
        self.login = login
        self.boot_log = boot_log
        self.noise = noise
        self.drop = drop  # lose one byte in this many of what the board sends (0: none)
        self.byte_delay = byte_delay
        self.baud = baud
        self.transport = transport
        self.rng = random.Random(seed)
        self.uptime = 12.0
        self.typed = bytearray()  # everything the harness sent
        self.typed_during_autoboot = bytearray()
        self._autoboot = False
        self._stop = threading.Event()
        self._lock = threading.RLock()
        self.proc: subprocess.Popen[bytes] | None = None
        self._board_master = -1
        self._threads: list[threading.Thread] = []
        self._line_fd = -1  # the relay's end of the harness line (pty master or socket)
        self._line_slave = -1
        self._sock: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._setup_dir()
        if transport == "pty":
            self._line_fd, self._line_slave = os.openpty()
            tty.setraw(self._line_slave)
            self.path = os.ttyname(self._line_slave)
        else:
            self._listener = socket.socket()
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(1)
            self.port = self._listener.getsockname()[1]
            self.path = f"socket://127.0.0.1:{self.port}"

    # -- the board -------------------------------------------------------------
    def _setup_dir(self) -> None:
        (self.dir / "bin").mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        for name, text in (("dmesg", DMESG_STUB), ("rig-login", LOGIN_SCRIPT)):
            p = self.dir / "bin" / name
            p.write_text(text)
            p.chmod(0o755)

    def _env(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.dir / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(self.dir),
            "TMPDIR": str(self.dir / "tmp"),
            "TERM": "vt100",
            "LANG": "C.UTF-8",
            "RIG_DIR": str(self.dir),
            "RIG_HOST": "rig",
            "PS1": "root@rig:~# ",
            "HISTFILE": str(self.dir / "history"),
        }
        if self.login:
            env["RIG_USER"], env["RIG_PASSWORD"] = self.login
        return env

    def _start_shell(self) -> None:
        argv = list(SHELLS[self.shell])
        if self.login:
            argv = [str(self.dir / "bin" / "rig-login"), *argv]
        master, slave = os.openpty()

        def make_ctty() -> None:  # the pty becomes the shell's controlling terminal
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self._env(),
            cwd=self.dir,
            start_new_session=True,
            preexec_fn=make_ctty,
        )
        os.close(slave)
        self._board_master = master

    def start(self) -> ShellRig:
        if self.transport == "pty":
            self._begin()
        else:
            t = threading.Thread(target=self._accept, name="rig-accept", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._sock = conn
            self._line_fd = conn.fileno()
            self._begin()
            return

    def _begin(self) -> None:
        if self.boot_log:
            self._print_boot_log()
        self._start_shell()
        for target, name in ((self._to_harness, "out"), (self._to_board, "in")):
            t = threading.Thread(target=target, name=f"rig-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def _print_boot_log(self) -> None:
        for chunk in BOOT_LOG:
            self._autoboot = chunk.startswith(b"Hit any key")
            self.send_to_harness(chunk)
            time.sleep(0.3 if self._autoboot else 0.05)
        self._autoboot = False

    # -- the relay ---------------------------------------------------------------
    def _to_harness(self) -> None:
        while not self._stop.is_set():
            fd = self._board_master
            if fd < 0:  # rebooting
                time.sleep(0.02)
                continue
            try:
                # bytes the board had ready while the last ones were on the wire
                # follow them without a gap, as a UART's FIFO sends them
                r, _, _ = select.select([fd], [], [], 0)
                queued = bool(r)
                if not r:
                    r, _, _ = select.select([fd], [], [], 0.1)
                if not r:
                    continue
                data = os.read(fd, 4096)
            except OSError:
                if self._board_master == fd:
                    self._respawn()
                continue
            if not data:
                time.sleep(0.05)
                continue
            if self.noise and self.rng.random() < self.noise:
                at = self.rng.randrange(len(data) + 1)
                data = data[:at] + self.kernel_line() + data[at:]
            if self.drop:  # a UART that overruns now and then
                data = bytes(b for b in data if self.rng.randrange(self.drop))
            self.send_to_harness(data, queued=queued)

    def _to_board(self) -> None:
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._line_fd], [], [], 0.1)
                if not r:
                    continue
                data = os.read(self._line_fd, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            if not data:
                if self.transport != "pty":
                    return
                time.sleep(0.05)
                continue
            self.typed += data
            if self._autoboot:
                self.typed_during_autoboot += data
            self._pace(len(data))
            with contextlib.suppress(OSError):
                os.write(self._board_master, data)

    def send_to_harness(self, data: bytes, *, queued: bool = False) -> None:
        """Bytes on the line to the harness, paced as the line is (`queued`: they
        were waiting while the line was busy)."""
        with self._lock:
            if self.byte_delay:
                for i in range(len(data)):
                    self._write_line(data[i : i + 1])
                    time.sleep(self.byte_delay)
                return
            step = 64 if self.baud else len(data)
            for i in range(0, len(data), step):
                self._pace(len(data[i : i + step]), queued=queued or i > 0)
                self._write_line(data[i : i + step])

    def _write_line(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = os.write(self._line_fd, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [self._line_fd], [], 0.1)
            except OSError:
                return

    _next_free = 0.0

    def _pace(self, n: int, *, queued: bool = False) -> None:
        """Hold the line for the time `n` bytes take at the baud rate (10 bits a byte).

        Queued bytes start when the previous ones ended, not when this thread
        woke up: a sleep that overslept must not stretch the wire time (a UART
        shifts its FIFO out back to back), so the bench measures the harness,
        not the scheduler of a loaded host."""
        if not self.baud:
            return
        now = time.monotonic()
        chained = queued and now - self._next_free < 0.1
        start = self._next_free if chained else max(now, self._next_free)
        self._next_free = start + n * 10 / self.baud
        if self._next_free - now > 0.002:
            time.sleep(self._next_free - now)

    def _respawn(self) -> None:
        """The shell ended (`exit`): a new login stage or shell starts, as getty does."""
        with self._lock:
            if self._stop.is_set() or self.proc is None or self.proc.poll() is None:
                time.sleep(0.02)
                return
            self._kill_shell()
            self._start_shell()

    # -- events --------------------------------------------------------------------
    def kernel_line(self, text: str | None = None) -> bytes:
        self.uptime += self.rng.random()
        msg = text or self.rng.choice(KERNEL_NOISE)
        return f"[{self.uptime:12.6f}] {msg}\r\n".encode()

    def inject(self, text: str) -> None:
        """The kernel prints a message on the console."""
        self.send_to_harness(self.kernel_line(text))

    def reboot(self, boot_log: bool = True) -> None:
        """The board restarts: the kernel says so, the shell dies, a new one starts."""
        self.inject("reboot: Restarting system")
        with self._lock:
            self._kill_shell()
        if boot_log:
            self._print_boot_log()
        with self._lock:
            self._start_shell()

    def type_on_board(self, data: bytes) -> None:
        """Someone typed on the board's console before the harness came (a half-typed line)."""
        os.write(self._board_master, data)

    def dmesg_calls(self) -> list[str]:
        p = self.dir / "dmesg-calls"
        return p.read_text().splitlines() if p.exists() else []

    def _kill_shell(self) -> None:
        proc, master = self.proc, self._board_master
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        self._board_master = -1
        if master >= 0:
            with contextlib.suppress(OSError):
                os.close(master)

    def stop(self) -> None:
        self._stop.set()
        self._kill_shell()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self._line_fd, self._line_slave):
            if fd >= 0 and self.transport == "pty":
                with contextlib.suppress(OSError):
                    os.close(fd)
        for s in (self._sock, self._listener):
            if s is not None:
                s.close()

    def __enter__(self) -> ShellRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def main(argv: list[str] | None = None) -> None:
    """Serve a rig from its own process (the benchmarks keep it off their own CPU):
    prints the line's path, then runs until stdin closes."""
    import argparse
    import sys
    import tempfile

    p = argparse.ArgumentParser(prog="python -m tests.console_rig")
    p.add_argument("--shell", default="bash", choices=sorted(SHELLS))
    p.add_argument("--baud", type=int)
    p.add_argument("--dir", help="working directory (default: a new one under /dev/shm)")
    args = p.parse_args(argv)
    workdir = Path(args.dir or tempfile.mkdtemp(prefix="hil-rig-", dir="/dev/shm"))
    with ShellRig(workdir, args.shell, baud=args.baud) as rig:
        print(rig.path, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
