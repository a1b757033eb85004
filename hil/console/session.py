"""A shell on a board's console: reach a prompt from any state, run commands exactly.

`open_shell()` opens the port (waiting for it), starts the transcript, reaches
a shell (`login.reach_shell`), makes it machine-friendly and defines the
helpers that print each command's output as a checked frame (`framing`).
`run()` returns exactly what the command printed and its exit status — or
raises: it never returns an output it could not check.
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import NoReturn

from hil.console import framing
from hil.console.errors import (
    BoardRebooted,
    CommandTimeout,
    ConsoleError,
    ConsoleLost,
    IncompleteCommand,
    NoShell,
    OutputCorrupted,
)
from hil.console.framing import Capabilities, Marker, Trailer
from hil.console.login import reach_shell
from hil.console.patterns import DEATH, LOGIN_BYTES
from hil.console.stream import PortStream
from hil.console.transcript import Transcript, printable
from hil.console.transport import open_port
from hil.lab.secrets import REDACTOR

#: mid-frame, no byte for this long: the frame was damaged (a lost marker byte)
IDLE_SECONDS = 3.0
#: after an interrupt key, how long the shell has to print a frame again
RECOVER_SECONDS = 1.5
#: how much longer a recovering shell gets while the line shows it is busy
PATIENCE_SECONDS = 5.0
#: frames printed again before the output is declared corrupted
MAX_REPRINTS = 3
#: prints of one piece of a damaged output (cheap: PIECE_BYTES each) before the
#: output is declared corrupted
PIECE_PRINTS = 8
#: a shell answers a setup step before its line has been quiet this long
QUIET_ANSWER_SECONDS = 1.5
#: keys that stop a command that outlived its timeout, in order of force:
#: SIGINT, SIGINT again, a pager's quit, SIGQUIT
INTERRUPTS = [b"\x03", b"\x03", b"q\x15", b"\x1c"]
_KEY_NAMES = {b"\x03": "Ctrl-C", b"q\x15": "q", b"\x1c": "Ctrl-\\"}


@dataclass
class CommandResult:
    """What a command printed (stdout and stderr, as on a terminal) and its exit status."""

    command: str
    output: str
    exit_code: int
    duration: float
    output_bytes: bytes = b""
    #: kernel messages that landed in the output on the console and were removed
    kernel_messages: list[str] = field(default_factory=list)
    #: how the output was checked: len (byte count), md5, wc
    verified: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class _Frame:
    output: bytes
    trailer: Trailer
    attempts: int
    kept: frozenset[int] = frozenset()  # stream offsets of cut lines that were real output


class _Damaged(Exception):
    """A frame arrived damaged (or not at all): print it again.

    `received`: how many bytes of output arrived when a digest did not match
    (0 when a marker was damaged)."""

    def __init__(self, why: str, received: int = 0) -> None:
        super().__init__(why)
        self.received = received


class _Expired(Exception):
    """The deadline passed before a frame started."""


class ShellSession:
    """A shell prompt on a board's console, driven by framed commands."""

    def __init__(
        self,
        stream: PortStream,
        transcript: Transcript,
        *,
        name: str,
        username: str | None = None,
        password: str | None = None,
        quiet_kernel: bool = True,
        connect_timeout: float = 60.0,
    ) -> None:
        self.stream = stream
        self.transcript = transcript
        self.name = name
        self.username = username
        self.password = password
        self.quiet_kernel = quiet_kernel
        self.connect_timeout = connect_timeout
        self.caps: Capabilities | None = None
        self.states: list[str] = []  # what the last connect met: login, password, prompt...
        self._ready = False  # at a prompt, set up, no command pending
        self._closed = False
        self._seq = 0
        self._mark = 0  # stream offset up to which the line has been examined
        self._stray = b""  # what the line carried before the last frame (shell complaints)
        if password:
            REDACTOR.add(password)

    # -- reaching the shell ----------------------------------------------------
    def connect(self, timeout: float | None = None) -> None:
        """Reach a shell prompt from whatever state the line is in, and set it up."""
        timeout = self.connect_timeout if timeout is None else timeout
        t0 = time.time()
        deadline = time.monotonic() + timeout
        self._ready = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoShell(f"{self.name}: no usable shell after {timeout:g}s")
            try:
                states = reach_shell(
                    self.stream,
                    name=self.name,
                    username=self.username,
                    password=self.password,
                    timeout=left,
                    note=self.transcript.note,
                )
                self._setup(deadline)
                break
            except (BoardRebooted, _Damaged) as e:
                self.transcript.note(f"setting up the shell again: {e or 'damaged reply'}")
        self._ready = True
        self._mark = self.stream.position
        self.stream.forget_cuts(self._mark)
        self.states = states
        caps = self.caps
        self.transcript.note(
            f"shell ready in {time.time() - t0:.3f}s via {', '.join(states) or 'nothing'}; "
            f"output checked by {'byte count' if caps and caps.builtin_len else 'digest'}"
            f" and {caps.digest if caps else '?'}, captured in {caps.output_file if caps else '?'}"
        )

    def _setup(self, deadline: float) -> None:
        reply = Marker.new()
        self._type(framing.setup_text(self.quiet_kernel, reply))
        pattern = re.compile(re.escape(reply.raw) + framing.PROBE_REPLY.pattern)
        caps = framing.parse_probe(self._wait_for(pattern, deadline, "probing the shell"))
        if not caps.output_file:
            raise ConsoleError(
                f"{self.name}: no writable directory on the board for command output "
                "(tried $TMPDIR, /tmp, /run, /dev/shm, /var/tmp, $HOME)"
            )
        self.caps = caps
        done = Marker.new()
        self._type(framing.helpers_text(caps, done))
        self._wait_for(re.compile(re.escape(done.raw) + rb"\r?\n"), deadline, "defining helpers")

    def _wait_for(self, pattern: re.Pattern[bytes], deadline: float, what: str) -> re.Match:
        """Read until `pattern` shows; a reboot ends the wait, a quiet line means damage."""
        buf = bytearray()
        base = self.stream.position
        since = time.monotonic()
        while True:
            m = pattern.search(buf)
            if m:
                return m
            self._check_death(buf, 0, base, what)
            now = time.monotonic()
            if now >= deadline:
                raise NoShell(f"{self.name}: the shell did not answer while {what}")
            if now - max(since, self.stream.last_rx) > QUIET_ANSWER_SECONDS:
                raise _Damaged(f"no answer while {what}")  # a lost byte, most likely
            _, data = self._read(min(deadline - now, 0.2))
            buf += data

    # -- commands --------------------------------------------------------------
    def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run `command`; return exactly what it printed and its exit status.

        Raises `CommandTimeout` (the command was interrupted, the shell is
        usable again), `BoardRebooted`, `OutputCorrupted` (the line lost bytes
        on every attempt), `IncompleteCommand`, `ConsoleLost` — never returns an
        output that failed its check.
        """
        framing.check_lines(command, self.caps)
        if self.closed:
            raise ConsoleLost(f"{self.name}: a command on a shell that was already closed")
        if not self._ready:
            self.connect()
        self._seq += 1
        t0, m0 = time.time(), time.monotonic()
        sent_at = self.stream.position
        try:
            self._check_between_commands()
            sent_at = self.stream.position
            start, end = Marker.new(), Marker.new()
            typed = framing.command_text(command, start, end)
            self._type(typed)
            frame = self._command_frame(command, typed, start, end, m0 + timeout, timeout)
        except ConsoleError as e:
            partial = e.output if isinstance(e, CommandTimeout) else ""
            self._record(command, t0, self._kernel_messages(sent_at), error=str(e), partial=partial)
            raise
        messages = self._kernel_messages(sent_at, frame.kept)
        result = CommandResult(
            command=command,
            output=frame.output.decode("utf-8", "replace"),
            exit_code=frame.trailer.status if frame.trailer.status is not None else -1,
            duration=time.time() - t0,
            output_bytes=frame.output,
            kernel_messages=messages,
            verified=frame.trailer.kind,
        )
        self._record(command, t0, messages, frame)
        return result

    def _kernel_messages(self, since: int, kept: frozenset[int] = frozenset()) -> list[str]:
        """Kernel messages that came while the command ran (not lines of its output)."""
        cuts = [c for c in self.stream.cuts(since) if c.offset not in kept]
        self.stream.forget_cuts(self.stream.position)
        return [printable(c.data.rstrip(b"\r\n")) for c in cuts]

    def _command_frame(
        self, command: str, typed: str, start: Marker, end: Marker, deadline: float, timeout: float
    ) -> _Frame:
        expected_ps2 = command.count("\n") + 1
        try:
            frame = self._frame(command, start, end, deadline, typed=typed, ps2=expected_ps2)
        except _Expired:
            self._interrupt(command, timeout)
        if not frame.trailer.ran:
            said = self._stray.strip().decode("utf-8", "replace")[-300:]
            raise ConsoleError(
                f"{self.name}: `{command}` did not run: the shell refused it or could not "
                f"write {self.caps.output_file if self.caps else 'its output file'}"
                + (f" (the shell said: {said})" if said else "")
            )
        if frame.trailer.status is None:
            # the group was cut short by SIGINT (the shell abandons the line; $? is 130)
            self.transcript.note(f"`{command}` was interrupted by SIGINT")
            frame = _Frame(
                frame.output,
                Trailer(130, True, frame.trailer.kind, frame.trailer.digest),
                frame.attempts,
            )
        return frame

    def _frame(
        self,
        command: str,
        start: Marker,
        end: Marker,
        deadline: float,
        *,
        typed: str = "",
        ps2: int | None = None,
        patience: float = 0.0,
    ) -> _Frame:
        """The checked frame; damaged ones are printed again from the board's file.

        With `patience`, a deadline that passes while the line is still busy
        (a slow or loaded board answering) is extended by up to that much.
        """
        attempts = 1
        while True:
            try:
                return self._read_frame(
                    command, start, end, deadline, attempts, typed, ps2, patience
                )
            except _Damaged as e:
                if e.received >= framing.PIECE_BYTES:
                    self.transcript.note(
                        f"frame damaged ({e}): printing it again in pieces of "
                        f"{framing.PIECE_BYTES} bytes"
                    )
                    return self._pieces(command, attempts)
                if attempts > MAX_REPRINTS:
                    self._ready = True
                    raise OutputCorrupted(
                        f"{self.name}: the output of `{command}` failed its check "
                        f"{attempts} times ({e}): the console line loses or garbles bytes"
                    ) from None
                self.transcript.note(f"frame damaged ({e}): printing it again")
                attempts += 1
                start, end = Marker.new(), Marker.new()
                self._type(framing.reprint_text(start, end))
                deadline = time.monotonic() + RECOVER_SECONDS
                typed, ps2, patience = "", None, PATIENCE_SECONDS

    def _pieces(self, command: str, attempts: int) -> _Frame:
        """The output, printed again piece by piece from the board's file, each piece
        checked on its own and printed again until it arrives intact."""
        output = bytearray()
        kept: set[int] = set()
        index = 0
        while True:
            piece = self._piece(command, index)
            output += piece.output
            kept |= piece.kept
            attempts += piece.attempts
            if len(piece.output) < framing.PIECE_BYTES:
                return _Frame(bytes(output), piece.trailer, attempts, frozenset(kept))
            index += 1

    def _piece(self, command: str, index: int) -> _Frame:
        why = ""
        for attempt in range(1, PIECE_PRINTS + 1):
            start, end = Marker.new(), Marker.new()
            self._type(framing.piece_text(start, end, index))
            try:
                return self._read_frame(
                    command,
                    start,
                    end,
                    time.monotonic() + RECOVER_SECONDS,
                    attempt,
                    "",
                    None,
                    PATIENCE_SECONDS,
                )
            except _Damaged as e:
                why = str(e)
            except _Expired:
                why = "no answer"
            self.transcript.note(f"piece {index} damaged ({why}): printing it again")
        self._ready = True
        raise OutputCorrupted(
            f"{self.name}: piece {index} of the output of `{command}` failed its check "
            f"{PIECE_PRINTS} times ({why}): the console line loses or garbles bytes"
        )

    def _read_frame(
        self,
        command: str,
        start: Marker,
        end: Marker,
        deadline: float,
        attempts: int,
        typed: str,
        ps2: int | None,
        patience: float,
    ) -> _Frame:
        buf = bytearray()
        base = self.stream.position
        give_up = deadline + patience
        s_at = e_at = -1  # where the output starts, where END opens the trailer
        scanned = 0
        last_rx = time.monotonic()
        echo = [ln.encode() for ln in typed.split("\n") if len(ln) > 8]
        while True:
            now = time.monotonic()
            if s_at < 0 and now >= deadline:
                if now >= give_up or self.stream.idle_for() > 0.5:
                    raise _Expired
                deadline = now + 0.2  # the board is still talking: give it time
            if s_at >= 0 and now - last_rx > IDLE_SECONDS:
                raise _Damaged("the frame stopped before its end marker")
            _, data = self._read(0.2 if s_at >= 0 else min(0.2, max(deadline - now, 0.001)))
            if data:
                buf += data
                last_rx = time.monotonic()
            if s_at < 0:
                i = buf.find(start.raw, max(0, scanned - len(start.raw)))
                if i < 0:
                    self._check_stray(command, buf, scanned, base, echo, ps2, end)
                    scanned = len(buf)
                    continue
                nl = buf.find(b"\n", i)
                if nl < 0:
                    continue
                if buf[i + len(start.raw) : nl] not in (b"", b"\r"):
                    raise _Damaged("garbled start marker")
                self._check_stray(command, buf[:i], scanned, base, echo, ps2, end)
                self._stray = _without(bytes(buf[:i]), echo)
                s_at = nl + 1
                scanned = s_at
            if e_at < 0:
                # END is printed twice, opening and closing the trailer: whichever
                # shows first must be the opening one, or a byte of it was lost
                j = buf.find(end.raw, max(s_at, scanned - len(end.raw)))
                scanned = len(buf)
                if j < 0 or j + len(end.raw) >= len(buf):
                    continue
                if buf[j - 1 : j] != b"\n" or buf[j + len(end.raw)] != ord(" "):
                    raise _Damaged("garbled end marker")
                e_at = j - 1
            close = buf.find(b" " + end.raw, e_at + len(end.raw) + 1)
            if close < 0:
                if buf.find(b"\n", e_at + len(end.raw) + 1) >= 0:
                    raise _Damaged("garbled closing end marker")
                continue
            if buf.find(b"\n", close) < 0:
                continue
            trailer = framing.parse_trailer(bytes(buf[e_at + 1 + len(end.raw) : close + 1]))
            if trailer is None:
                raise _Damaged("garbled end marker")
            region = bytes(buf[s_at:e_at])
            cuts = [
                (c.offset - base - s_at, c.data)
                for c in self.stream.cuts(base + s_at, base + e_at + 1)
            ]
            checked = framing.reconstruct(region, cuts, trailer)
            if checked is None:
                raise _Damaged(
                    f"{trailer.kind} {trailer.digest} does not match the {len(region)} bytes "
                    f"received{f' and {len(cuts)} kernel messages' if cuts else ''}",
                    len(region),
                )
            self._mark = self.stream.position
            output, put_back = checked
            kept = frozenset(base + s_at + cuts[i][0] for i in put_back)
            return _Frame(output, trailer, attempts, kept)

    def _check_stray(
        self,
        command: str,
        stray: bytes | bytearray,
        scanned: int,
        base: int,
        echo: list[bytes],
        ps2: int | None,
        end: Marker,
    ) -> None:
        """Before a frame starts, the line carries only noise — or news of a death."""
        if end.raw in stray:
            raise _Damaged("end marker without a start marker")
        self._check_death(stray, max(0, scanned - 64), base, f"`{command}`", echo)
        if ps2 is not None and bytes(stray).count(framing.PS2.encode()) > ps2:
            self._type("\x03")  # the shell waits for the rest of the command: abandon it
            self._settle()
            raise IncompleteCommand(
                f"{self.name}: `{command}` is not complete shell syntax "
                "(an unclosed quote, bracket or here-document)"
            )

    def _check_death(
        self,
        buf: bytes | bytearray,
        scanned: int,
        base: int,
        during: str,
        echo: list[bytes] | None = None,
    ) -> None:
        """Raise BoardRebooted if the line shows a reboot, panic or logout."""
        death = None
        for cut in self.stream.cuts(base):  # the kernel's own word first
            death = DEATH.search(cut.data)
            if death:
                break
        if death is None:
            death = DEATH.search(_without(bytes(buf[scanned:]), echo or []))
        if death is None and LOGIN_BYTES.search(bytes(buf[-200:])):
            self._ready = False
            raise BoardRebooted(
                f"{self.name}: a login prompt appeared during {during}: "
                "the shell logged out or the board rebooted"
            )
        if death is not None:
            self._ready = False
            seen = death.group(0).decode(errors="replace")
            self.transcript.note(f"board rebooted during {during}: {seen!r}")
            raise BoardRebooted(
                f"{self.name}: board rebooted during {during} ({seen!r} on the console)"
            )

    def _check_between_commands(self) -> None:
        """A reboot or logout while no command ran is news for the next command."""
        _, data = self._read(0)
        self._check_death(data, 0, self._mark, "the time since the last command")
        self._mark = self.stream.position

    # -- timeouts ----------------------------------------------------------------
    def _interrupt(self, command: str, timeout: float) -> NoReturn:
        """Stop the command, bring the shell back, print what it had written."""
        self.transcript.note(f"`{command}` timed out after {timeout:g}s: interrupting it")
        for key in INTERRUPTS:
            self._type_raw(key)
            self._settle()
            start, end = Marker.new(), Marker.new()
            self._type(framing.reprint_text(start, end))
            try:
                frame = self._frame(
                    command,
                    start,
                    end,
                    time.monotonic() + RECOVER_SECONDS,
                    patience=PATIENCE_SECONDS,
                )
            except _Expired:
                continue
            raise CommandTimeout(
                f"{self.name}: `{command}` timed out after {timeout:g}s "
                f"(stopped with {_KEY_NAMES.get(key, repr(key))})",
                frame.output.decode("utf-8", "replace"),
            )
        self._ready = False
        raise ConsoleError(
            f"{self.name}: `{command}` timed out after {timeout:g}s and the shell does not "
            "answer after Ctrl-C, q and Ctrl-\\"
        )

    def _settle(self, quiet: float = 0.1, limit: float = 0.5) -> None:
        """Let the line go quiet (a new prompt printed) before typing again."""
        until = time.monotonic() + limit
        while time.monotonic() < until:
            _, data = self._read(quiet)
            if not data:
                return

    # -- the line ------------------------------------------------------------------
    def _read(self, timeout: float) -> tuple[int, bytes]:
        try:
            return self.stream.read_all(timeout)
        except EOFError as e:
            self._ready = False
            raise ConsoleLost(f"{self.name}: console lost: {e}") from None

    def _type(self, text: str) -> None:
        self._type_raw(text.replace("\n", "\r").encode())

    def _type_raw(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except EOFError as e:
            self._ready = False
            raise ConsoleLost(f"{self.name}: console lost: {e}") from None

    def _record(
        self,
        command: str,
        t0: float,
        messages: list[str],
        frame: _Frame | None = None,
        error: str = "",
        partial: str = "",
    ) -> None:
        fields: dict[str, object] = {
            "seq": self._seq,
            "command": command,
            "start": round(t0, 6),
            "duration": round(time.time() - t0, 6),
            "kernel_messages": messages,
        }
        if frame is not None:
            fields["output"] = frame.output.decode("utf-8", "replace")
            fields["exit_code"] = frame.trailer.status
            fields["verified"] = frame.trailer.kind
            fields["attempts"] = frame.attempts
            if fields["output"].encode() != frame.output:
                fields["output_base64"] = base64.b64encode(frame.output).decode()
        else:
            fields["output"] = partial
            fields["exit_code"] = None
        if error:
            fields["error"] = error
        self.transcript.record(**fields)

    @property
    def closed(self) -> bool:
        """`close()` was called: the port is given back, no command can run."""
        return self._closed

    def close(self) -> None:
        """Give the line back as found (echo on), then release the port."""
        self._closed = True
        if self._ready and self.stream.lost is None:
            with contextlib.suppress(ConsoleLost):
                self._type("stty echo onlcr 2>/dev/null\n")
        self.stream.close()
        try:
            self.stream.port.close()
        finally:
            self.transcript.close()

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _without(data: bytes, echo: list[bytes]) -> bytes:
    """`data` without the echo of lines the harness typed (when the tty still echoes)."""
    for line in echo:
        data = data.replace(line, b"")
    return data


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
    quiet_kernel: bool = True,
) -> ShellSession:
    """Open the console at `url` and reach a shell prompt (see DESIGN.md).

    `timeout` bounds reaching the shell (boot, login, setup); `port_timeout`
    how long a missing or busy port is waited for. `quiet_kernel` runs
    `dmesg -n 1` on the board so fewer kernel messages land on the console.
    """
    name = name or url
    if password:
        REDACTOR.add(password)
    port = open_port(
        url,
        baudrate,
        flow_control=flow_control,
        exclusive=exclusive,
        port_timeout=port_timeout,
        board=name,
    )
    log = Transcript(transcript, board=name)
    log.note(f"opened {url} at {baudrate} baud (flow control {flow_control})")
    stream = PortStream(port, log)
    session = ShellSession(
        stream,
        log,
        name=name,
        username=username,
        password=password,
        quiet_kernel=quiet_kernel,
        connect_timeout=timeout,
    )
    try:
        session.connect(timeout)
    except BaseException:
        session.close()
        raise
    return session
