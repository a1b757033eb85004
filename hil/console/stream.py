"""The port's byte stream: a reader thread feeds the transcript, then the parser.

Every byte read from the port goes to the transcript first, from the moment
the port is opened (boot output nobody waits for included). The parser's view
is the same stream with kernel console messages (`[  123.456789] ...\\r\\n`)
cut out wherever they landed — mid-line, mid-prompt, inside a marker — so
they can neither break a marker nor pass for a prompt. Each cut is kept with
its position in the parser's view: a command's output that really contains
such lines (`dmesg`) is put back together from them and checked against the
board's own byte count or digest (see `framing`), so a real line is never lost.
"""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass

import serial

from hil.console.patterns import KERNEL_LINE, KERNEL_PARTIAL
from hil.console.transcript import Transcript

#: how long a tail that may be the start of a kernel message is held back
HOLD_SECONDS = 0.2
#: a kernel message is never longer than this (printk's line limit)
MAX_KERNEL_LINE = 1024
_POLL = 0.2


@dataclass(frozen=True)
class Cut:
    """A kernel message cut out of the parser's view at absolute `offset`."""

    offset: int
    data: bytes
    time: float


class PortStream:
    """Reads the port on a thread; offers the cleaned stream to one consumer."""

    def __init__(self, port: serial.SerialBase, transcript: Transcript) -> None:
        self.port = port
        self.transcript = transcript
        self._cond = threading.Condition()
        self._clean = bytearray()
        self._consumed = 0  # absolute offset of _clean[0]
        self._hold = b""
        self._hold_since = 0.0
        self._cuts: list[Cut] = []
        self._eof: Exception | None = None
        self._stop = threading.Event()
        self.last_rx = time.monotonic()
        self._fd = self._fileno(port)
        self._thread = threading.Thread(target=self._pump, name="console-reader", daemon=True)
        self._thread.start()

    @staticmethod
    def _fileno(port: serial.SerialBase) -> int | None:
        """A descriptor to select on (tty, socket); None for rfc2217 (its own thread)."""
        try:
            return port.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    # -- the reader thread ---------------------------------------------
    def _pump(self) -> None:
        if self._fd is None:
            self.port.timeout = _POLL / 4
        while not self._stop.is_set():
            try:
                data = self._read_some()
            except Exception as e:
                if not self._stop.is_set():
                    with self._cond:
                        self._eof = e
                        self._cond.notify_all()
                    self.transcript.note(f"console lost: {e}")
                return
            if data:
                self.last_rx = time.monotonic()
                self.transcript.feed(data)
                self._push(data)
            else:
                self.transcript.flush_partial(idle=True)
                self._release_hold()

    def _read_some(self) -> bytes:
        if self._fd is None:
            data = self.port.read(1)
            if data and self.port.in_waiting:
                data += self.port.read(self.port.in_waiting)
            return data
        ready, _, _ = select.select([self._fd], [], [], _POLL)
        if not ready:
            return b""
        data = os.read(self._fd, 65536)
        if not data:
            raise EOFError("end of file on the console")
        return data

    def _push(self, data: bytes) -> None:
        with self._cond:
            if self._hold:
                data = self._hold + data
                self._hold = b""
            base = self._consumed + len(self._clean)
            kept = bytearray()
            pos = 0
            for m in KERNEL_LINE.finditer(data):
                kept += data[pos : m.start()]
                self._cuts.append(Cut(base + len(kept), m.group(0), time.time()))
                pos = m.end()
            tail = data[pos:]
            m = KERNEL_PARTIAL.search(tail, max(0, len(tail) - MAX_KERNEL_LINE))
            if m:
                self._hold, tail = tail[m.start() :], tail[: m.start()]
                self._hold_since = time.monotonic()
            kept += tail
            if kept:
                self._clean += kept
                self._cond.notify_all()

    def _release_hold(self) -> None:
        """A held tail that never became a kernel message is ordinary output."""
        with self._cond:
            if self._hold and time.monotonic() - self._hold_since >= HOLD_SECONDS:
                self._clean += self._hold
                self._hold = b""
                self._cond.notify_all()

    # -- the consumer side ---------------------------------------------
    @property
    def position(self) -> int:
        """Absolute offset of the next byte `read` returns."""
        with self._cond:
            return self._consumed

    def read(self, size: int, timeout: float | None) -> bytes:
        """Up to `size` cleaned bytes; b'' on timeout; EOFError when the port died."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._clean:
                if self._eof is not None:
                    raise EOFError(str(self._eof))
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return b""
                self._cond.wait(_POLL if left is None else min(left, _POLL))
                if self._hold and time.monotonic() - self._hold_since >= HOLD_SECONDS:
                    self._clean += self._hold
                    self._hold = b""
            data = bytes(self._clean[:size])
            del self._clean[:size]
            self._consumed += len(data)
            return data

    def read_all(self, timeout: float) -> tuple[int, bytes]:
        """Everything available (waiting up to `timeout` for some): (offset, bytes)."""
        with self._cond:
            offset = self._consumed
        data = self.read(1 << 30, timeout)
        return offset, data

    def cuts(self, start: int, end: int | None = None) -> list[Cut]:
        """Kernel messages cut at offsets in [start, end)."""
        with self._cond:
            return [c for c in self._cuts if c.offset >= start and (end is None or c.offset < end)]

    def forget_cuts(self, before: int) -> None:
        with self._cond:
            self._cuts = [c for c in self._cuts if c.offset >= before]

    def idle_for(self) -> float:
        """Seconds since the last byte arrived."""
        return time.monotonic() - self.last_rx

    @property
    def lost(self) -> Exception | None:
        return self._eof

    def write(self, data: bytes, *, secret: bool = False) -> None:
        """Send to the board; the transcript shows it (a secret as `******`)."""
        self.transcript.feed_sent(data, secret=secret)
        if self._eof is not None:
            raise EOFError(str(self._eof))
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as e:
            raise EOFError(f"write failed: {e}") from None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
