"""The port's byte stream: a reader thread feeds the transcript, then the parser.

Every byte read from the port goes to the transcript first. The parser's view
is the same stream with kernel console messages (`[  123.456789] ...\\r\\n`)
cut out wherever they landed — mid-line, mid-prompt, mid-echo — so they can
neither break a marker nor end up in a command's output.
"""

from __future__ import annotations

import re
import threading
import time

import serial

from hil.console.transcript import Transcript

#: a kernel console message, as printk writes it on the serial console
KERNEL_LINE = re.compile(rb"\[\s*\d+\.\d{6}\] [^\r\n]*\r?\n")
#: a tail that may be the start of a kernel message still arriving
_PARTIAL = re.compile(rb"\[(?:\s*\d*(?:\.\d{0,6}(?:\][^\r\n]*\r?)?)?)?$")
HOLD_SECONDS = 0.25


class PortStream:
    """Reads the port on a thread; offers the cleaned stream to the expect engine."""

    def __init__(self, port: serial.SerialBase, transcript: Transcript) -> None:
        self.port = port
        self.transcript = transcript
        self._cond = threading.Condition()
        self._clean = bytearray()
        self._hold = b""
        self._hold_since = 0.0
        self._eof: Exception | None = None
        self._stop = threading.Event()
        self.kernel_lines: list[bytes] = []
        self._thread = threading.Thread(target=self._pump, name="console-reader", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                n = max(1, self.port.in_waiting)
                data = self.port.read(n)
                if not data:
                    # pyserial's timeout=0 read returns at once: wait a little
                    data = self._wait_read()
            except Exception as e:
                if self._stop.is_set():
                    return
                with self._cond:
                    self._eof = e
                    self._cond.notify_all()
                return
            if data:
                self.transcript.feed(data)
            self._push(data)

    def _wait_read(self) -> bytes:
        fileno = getattr(self.port, "fileno", None)
        if fileno is not None:
            import select

            try:
                select.select([self.port.fileno()], [], [], 0.05)
            except (OSError, ValueError, TypeError):
                time.sleep(0.01)
        else:
            time.sleep(0.005)
        return self.port.read(max(1, self.port.in_waiting))

    def _push(self, data: bytes) -> None:
        with self._cond:
            now = time.monotonic()
            if not data and not self._hold:
                return
            if not data and now - self._hold_since < HOLD_SECONDS:
                return
            buf = self._hold + data
            if not data:  # the held tail never became a kernel message
                self._clean += buf
                self._hold = b""
                self._cond.notify_all()
                return
            buf = self._strip(buf)
            m = _PARTIAL.search(buf)
            if m and m.start() < len(buf):
                if not self._hold:
                    self._hold_since = now
                self._hold, buf = buf[m.start() :], buf[: m.start()]
            else:
                self._hold = b""
            self._clean += buf
            self._cond.notify_all()

    def _strip(self, buf: bytes) -> bytes:
        def cut(m: re.Match[bytes]) -> bytes:
            self.kernel_lines.append(m.group(0))
            return b""

        return KERNEL_LINE.sub(cut, buf)

    def read(self, size: int, timeout: float | None) -> bytes:
        """Up to `size` cleaned bytes; b'' on timeout; raises EOFError when the port died."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._clean:
                if self._eof is not None:
                    raise EOFError(str(self._eof))
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return b""
                self._cond.wait(0.05 if left is None else min(left, 0.05))
                if self._hold and time.monotonic() - self._hold_since >= HOLD_SECONDS:
                    self._clean += self._hold
                    self._hold = b""
            data = bytes(self._clean[:size])
            del self._clean[:size]
            return data

    def write(self, data: bytes) -> None:
        self.transcript.feed(data, ">")
        self.port.write(data)
        self.port.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
