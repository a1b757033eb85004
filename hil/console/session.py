"""A shell on a board's console: reach a prompt from any state, run commands exactly.

`run()` wraps the command between two random markers written as split quotes
(`echo 'ab''cd'`), so the echo of the typed line can never match the marker
in the output, and reads the exit status from the closing marker.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from dataclasses import dataclass

import pexpect
from pexpect.spawnbase import SpawnBase

from hil.console.stream import PortStream
from hil.console.transcript import Transcript
from hil.console.transport import open_port
from hil.errors import HarnessError

LOGIN = re.compile(r"(?:^|[\r\n])[\w.-]+ login: ?$|(?:^|[\r\n])login: ?$")
PASSWORD = re.compile(r"[Pp]assword: ?$")
INCORRECT = re.compile(r"Login incorrect|Authentication failure")
PAGER = re.compile(r"--More--|\(END\)|lines \d+-\d+")
PROMPT = re.compile(r"[#$] ?(?:\x1b\[[0-9;?]*[A-Za-z])*$")
DEATH = re.compile(r"Kernel panic|reboot: Restarting system|Rebooting|U-Boot \d{4}")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]")


class CommandTimeout(HarnessError):
    """The command did not finish in time; it was interrupted and the shell recovered."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


class BoardRebooted(HarnessError):
    """The board rebooted (or died) while we waited."""


@dataclass
class CommandResult:
    command: str
    output: str
    exit_code: int
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _StreamSpawn(SpawnBase):
    """pexpect over a `PortStream` (the transcript-first byte stream)."""

    def __init__(self, stream: PortStream, timeout: float = 30) -> None:
        super().__init__(
            timeout=timeout,
            maxread=65536,
            searchwindowsize=None,
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

    def sendline(self, s: str = "") -> int:
        return self.send(s + "\r")


def _marker() -> tuple[str, str]:
    """(typed, printed): `'ab12''cd34'` is typed, `ab12cd34` is what the shell prints."""
    m = secrets.token_hex(6)
    return f"'{m[:6]}''{m[6:]}'", m


class ShellSession:
    """A shell prompt on a board's console, driven by markers."""

    def __init__(
        self,
        stream: PortStream,
        transcript: Transcript,
        *,
        name: str,
        username: str | None,
        password: str | None,
    ) -> None:
        self.stream = stream
        self.transcript = transcript
        self.name = name
        self.username = username
        self.password = password
        self.spawn = _StreamSpawn(stream)

    # -- reaching the shell ------------------------------------------
    def connect(self, timeout: float = 60.0) -> None:
        """Reach a shell prompt from whatever state the line is in."""
        deadline = time.monotonic() + timeout
        failures = 0
        self.spawn.send("\r")
        patterns = [LOGIN, PASSWORD, INCORRECT, PAGER, PROMPT, pexpect.TIMEOUT, pexpect.EOF]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(
                    f"{self.name}: no shell prompt on the console after {timeout:g}s "
                    f"(last seen: {self._tail()!r})"
                )
            i = self.spawn.expect(patterns, timeout=min(left, 1.5))
            if i == 0:
                if not self.username:
                    raise HarnessError(
                        f"{self.name}: the console shows a login prompt but the lab config "
                        "has no console.username"
                    )
                self.spawn.sendline(self.username)
            elif i == 1:
                self.spawn.sendline(self.password or "")
            elif i == 2:
                failures += 1
                if failures >= 2:
                    raise HarnessError(
                        f"{self.name}: login refused for user {self.username!r} "
                        "(check console.username/password)"
                    )
            elif i == 3:
                self.spawn.send("q")
            elif i == 6:
                raise HarnessError(f"{self.name}: console closed while waiting for a prompt")
            elif self._sync(timeout=min(max(left, 0.5), 3.0)):
                self._configure()
                return

    def _sync(self, timeout: float) -> bool:
        """Abandon whatever is typed or running, then prove a shell answers."""
        typed, printed = _marker()
        self.spawn.send("\x03")
        time.sleep(0.05)
        self.spawn.sendline(f"echo {typed}")
        i = self.spawn.expect_exact(
            [printed + "\r\n", pexpect.TIMEOUT, pexpect.EOF], timeout=timeout
        )
        if i == 0:
            self._drain_prompt()
            return True
        if i == 2:
            raise HarnessError(f"{self.name}: console closed")
        return False

    def _drain_prompt(self) -> None:
        with contextlib.suppress(pexpect.TIMEOUT):
            self.spawn.expect(PROMPT, timeout=1.0)

    def _configure(self) -> None:
        """Machine-friendly shell: no echo, no wrapping, no bracketed paste, quiet kernel."""
        self.run(
            "stty -echo cols 4096 2>/dev/null; bind 'set enable-bracketed-paste off' "
            "2>/dev/null; dmesg -n 1 2>/dev/null; export TERM=dumb NO_COLOR=1 PAGER=cat "
            "SYSTEMD_PAGER=cat",
            timeout=10,
        )

    def _tail(self) -> str:
        before = self.spawn.before if isinstance(self.spawn.before, str) else ""
        return ANSI.sub("", before)[-80:]

    # -- commands ------------------------------------------------------
    def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run `command`; return exactly what it printed and its exit status."""
        start_typed, start = _marker()
        end_typed, end = _marker()
        t0 = time.time()
        line = f"echo {start_typed}; {command}; printf '%s %d\\n' {end_typed} \"$?\""
        self.spawn.sendline(line)
        try:
            self._expect_exact(start + "\r\n", timeout, command)
            self._expect_exact(end + " ", timeout, command)
            output = self.spawn.before
            self.spawn.expect(r"(\d+)\r\n", timeout=timeout)
            code = int(self.spawn.match.group(1))
        except CommandTimeout as e:
            self.transcript.record(command, e.output, None, t0, time.time(), error=str(e))
            raise
        output = output.replace("\r\n", "\n")
        self._drain_prompt()
        self.transcript.record(command, output, code, t0, time.time())
        return CommandResult(command, output, code, time.time() - t0)

    def _expect_exact(self, text: str, timeout: float, command: str) -> None:
        i = self.spawn.expect(
            [re.escape(text), DEATH, pexpect.TIMEOUT, pexpect.EOF], timeout=timeout
        )
        if i == 0:
            return
        seen = self.spawn.before or ""
        if i == 1:
            raise BoardRebooted(
                f"{self.name}: board rebooted during `{command}` "
                f"({self.spawn.match.group(0)!r} on the console)"
            )
        if i == 3:
            raise HarnessError(f"{self.name}: console lost during `{command}`")
        self.spawn.send("\x03")
        if not self._sync(timeout=5.0):
            raise HarnessError(f"{self.name}: console does not answer after `{command}` timed out")
        raise CommandTimeout(
            f"{self.name}: `{command}` timed out after {timeout:g}s", seen.replace("\r\n", "\n")
        )

    def close(self) -> None:
        self.stream.close()
        try:
            self.stream.port.close()
        finally:
            self.transcript.close()

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_shell(
    url: str,
    baudrate: int = 115200,
    username: str | None = None,
    password: str | None = None,
    transcript: str | None = None,
    *,
    name: str | None = None,
    timeout: float = 60.0,
    port_timeout: float = 30.0,
    flow_control: str = "none",
    exclusive: bool = True,
) -> ShellSession:
    """Open the console at `url` and reach a shell prompt (see DESIGN.md)."""
    name = name or url
    port = open_port(
        url,
        baudrate,
        flow_control=flow_control,
        exclusive=exclusive,
        port_timeout=port_timeout,
        board=name,
    )
    log = Transcript(transcript)
    stream = PortStream(port, log)
    session = ShellSession(stream, log, name=name, username=username, password=password)
    try:
        session.connect(timeout)
    except BaseException:
        session.close()
        raise
    return session
