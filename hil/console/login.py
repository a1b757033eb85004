"""Reaching a shell prompt from whatever state the line is in.

A small loop over `expect` of the states a console can be in (labgrid's
shape, not a chain of ifs): boot output still flowing (wait, press nothing —
a key in U-Boot's autoboot countdown would stop the boot), a login prompt, a
password prompt, a refused login, a pager, a shell prompt, or a quiet line
(nudge it: Ctrl-C abandons a half-typed line or a running program, Enter asks
for a fresh prompt). A prompt is believed only once a shell has echoed a
random marker back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pexpect
from pexpect.spawnbase import SpawnBase

from hil.console.errors import ConsoleLost, LoginFailed, NoShell
from hil.console.framing import Marker
from hil.console.patterns import (
    AUTOBOOT,
    LOGIN,
    LOGIN_INCORRECT,
    PAGER,
    PASSWORD,
    SHELL_PROMPT,
    UBOOT_PROMPT,
)
from hil.console.stream import PortStream

#: a line quiet for this long is nudged
QUIET_SECONDS = 0.25
#: how long a shell has to echo the marker back
SYNC_SECONDS = 2.0
#: login attempts before the credentials are declared wrong
MAX_LOGINS = 2
#: what a quiet line is nudged with, in turn
NUDGES = [b"\x03", b"\r", b"\x03", b"q", b"\r"]
#: how much of the line's tail the state patterns are searched in. They describe
#: the line's state now (anchored at the end), so the tail is enough — and
#: searching the whole unmatched buffer at every read is quadratic: 24 s of CPU
#: for a 300 KB boot log arriving in 128-byte reads, 0.3 s with this window
SEARCH_WINDOW = 2048


class StreamSpawn(SpawnBase):
    """pexpect over a `PortStream` (the transcript-first, kernel-message-free stream)."""

    def __init__(self, stream: PortStream, timeout: float = 30) -> None:
        super().__init__(
            timeout=timeout,
            maxread=65536,
            searchwindowsize=SEARCH_WINDOW,
            encoding="utf-8",
            codec_errors="replace",
        )
        self.stream = stream

    def read_nonblocking(self, size: int = 1, timeout: float | None = -1) -> str:
        if timeout == -1:
            timeout = self.timeout
        try:
            data = self.stream.read(size, timeout)
        except EOFError as e:
            self.flag_eof = True
            raise pexpect.EOF(f"console closed: {e}") from None
        if not data:
            raise pexpect.TIMEOUT("timeout")
        text = self._decoder.decode(data, final=False)
        self._log(text, "read")
        return text

    def send(self, s: str | bytes) -> int:
        data = s.encode() if isinstance(s, str) else s
        self.stream.write(data)
        return len(data)

    def send_secret(self, s: str) -> None:
        self.stream.write(s.encode(), secret=True)


class ShellFinder:
    """One attempt at reaching a prompt; `run()` returns once a shell answered."""

    def __init__(
        self,
        spawn: StreamSpawn,
        *,
        name: str,
        username: str | None,
        password: str | None,
        note: Callable[[str], None],
    ) -> None:
        self.spawn = spawn
        self.name = name
        self.username = username
        self.password = password
        self.note = note
        self.logins = 0
        self.nudges = 0
        self.states: list[str] = []  # what was met on the way, for the transcript

    def run(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        handlers = [
            (LOGIN, self._login),
            (PASSWORD, self._password),
            (LOGIN_INCORRECT, self._incorrect),
            (PAGER, self._pager),
            (UBOOT_PROMPT, self._uboot),
            (SHELL_PROMPT, self._prompt),
        ]
        patterns = [p for p, _ in handlers] + [pexpect.TIMEOUT, pexpect.EOF]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoShell(
                    f"{self.name}: no shell prompt on the console after {timeout:g}s "
                    f"(met: {', '.join(self.states) or 'nothing'}; last seen: {self._tail()!r})"
                )
            i = self.spawn.expect(patterns, timeout=min(left, QUIET_SECONDS))
            if i < len(handlers):
                self.states.append(handlers[i][1].__name__.lstrip("_"))
                if handlers[i][1](left):
                    return
            elif i == len(handlers):
                self._quiet()
            else:
                raise ConsoleLost(f"{self.name}: console closed while looking for a shell prompt")

    # -- the states ----------------------------------------------------------
    def _login(self, left: float) -> bool:
        if not self.username:
            raise LoginFailed(
                f"{self.name}: the console shows a login prompt but the lab config "
                "has no console.username"
            )
        if self.logins >= MAX_LOGINS:
            raise LoginFailed(
                f"{self.name}: login as {self.username!r} refused {self.logins} times "
                "(check console.username and console.password in the lab config)"
            )
        self.logins += 1
        self.spawn.send(self.username + "\r")
        return False

    def _password(self, left: float) -> bool:
        if self.password is None:
            raise LoginFailed(
                f"{self.name}: the board asks for a password but the lab config has no "
                "console.password"
            )
        self.spawn.send_secret(self.password + "\r")
        return False

    def _incorrect(self, left: float) -> bool:
        self.note("login refused by the board")
        return False

    def _pager(self, left: float) -> bool:
        self.spawn.send(b"q")
        return False

    def _uboot(self, left: float) -> bool:
        raise NoShell(
            f"{self.name}: the board is at the U-Boot prompt (its autoboot was interrupted); "
            "power-cycle it"
        )

    def _prompt(self, left: float) -> bool:
        return self.sync(min(left, SYNC_SECONDS))

    def _quiet(self) -> None:
        if self.spawn.stream.idle_for() < QUIET_SECONDS:
            return  # output still flowing (a boot): wait, press nothing
        before = self.spawn.before if isinstance(self.spawn.before, str) else ""
        if AUTOBOOT.search(before[-400:]) and "Starting kernel" not in before[-400:]:
            return  # a key now would stop the boot
        key = NUDGES[self.nudges % len(NUDGES)]
        self.nudges += 1
        self.spawn.send(key)

    # -- proof -----------------------------------------------------------------
    def sync(self, timeout: float) -> bool:
        """Abandon any half-typed line, then prove a shell answers by echoing a marker."""
        marker = Marker.new()
        self.spawn.send(f"\x15echo {marker.typed}\r")
        i = self.spawn.expect_exact([marker.text, pexpect.TIMEOUT, pexpect.EOF], timeout=timeout)
        if i == 2:
            raise ConsoleLost(f"{self.name}: console closed while looking for a shell prompt")
        return i == 0

    def _tail(self) -> str:
        before = self.spawn.before if isinstance(self.spawn.before, str) else ""
        return before[-80:]


def reach_shell(
    stream: PortStream,
    *,
    name: str,
    username: str | None,
    password: str | None,
    timeout: float,
    note: Callable[[str], None],
) -> list[str]:
    """Reach a shell prompt; return the states met on the way (e.g. login, password, prompt)."""
    finder = ShellFinder(
        StreamSpawn(stream), name=name, username=username, password=password, note=note
    )
    finder.run(timeout)
    return finder.states
