"""The host's two control lines into a virtual board, neither the console nor a network.

- **The lab line**: the VM's second serial port (`ttyS1` in the guest) on a
  unix socket (`lab.sock`). In the guest, `hil-vrig-labd` reads one request
  per line and runs `hil-vrig-lab WORD...` (the lab inside the guest: faults,
  the proxy's log, any action a `actions.d/` hook adds); it answers one line,
  `ID STATUS BASE64-OUTPUT`. Requests are words of `[A-Za-z0-9._:/=-]` only.
  Exit status 3 means "this lab cannot do that" (→ `FaultUnsupported` above).
- **QMP** (`qmp.sock`): QEMU's own monitor, for what only the machine can do —
  a reset button (power cycle) and the board's cable (`set_link`).

Both sockets take one client at a time; a file lock beside each keeps the
processes that share a served guest (pytest-xdist workers, `hil exec`) in turn.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hil.errors import HarnessError

_WORD = re.compile(r"^[A-Za-z0-9._:/=-]+$")
#: the guest's answer to a request it cannot serve on this lab
UNSUPPORTED = 3
_ids = itertools.count(1)


@dataclass(frozen=True)
class LabAnswer:
    status: int
    output: str


@dataclass(frozen=True)
class VrigControl:
    """Where a running virtual board's control sockets are."""

    board: str
    lab_socket: Path
    qmp_socket: Path

    def lab(self, *words: str, timeout: float = 60.0) -> LabAnswer:
        """Run `hil-vrig-lab WORDS...` in the guest; its exit status and output."""
        for w in words:
            if not _WORD.match(w):
                raise HarnessError(f"{self.board}: lab request word {w!r} is not allowed")
        rid = f"r{os.getpid()}x{next(_ids)}"
        line = f"\n{rid} {' '.join(words)}\n".encode()
        deadline = time.monotonic() + timeout
        with (
            FileLock(f"{self.lab_socket}.lock", timeout=timeout),
            _connect(self.board, self.lab_socket, "lab line") as s,
        ):
            s.sendall(line)
            buf = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError(
                        f"{self.board}: the guest's lab did not answer "
                        f"`{' '.join(words)}` in {timeout:g}s"
                    )
                s.settimeout(left)
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    raise HarnessError(f"{self.board}: the lab line closed")
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    answer = _parse(raw, rid)
                    if answer is not None:
                        return answer

    def qmp(self, command: str, timeout: float = 30.0, **arguments: object) -> dict:
        """One QMP command; its `return` (errors raise HarnessError)."""
        with (
            FileLock(f"{self.qmp_socket}.lock", timeout=timeout),
            _connect(self.board, self.qmp_socket, "QMP") as s,
        ):
            s.settimeout(timeout)
            reader = s.makefile("rb")
            _qmp_read(self.board, reader)  # the greeting
            for cmd, args in (("qmp_capabilities", {}), (command, arguments)):
                msg = {"execute": cmd, **({"arguments": args} if args else {})}
                s.sendall(json.dumps(msg).encode() + b"\n")
                reply = _qmp_read(self.board, reader)
                if "error" in reply:
                    raise HarnessError(
                        f"{self.board}: QMP {cmd}: {reply['error'].get('desc', reply['error'])}"
                    )
            return reply.get("return", {})


def _parse(raw: bytes, rid: str) -> LabAnswer | None:
    parts = raw.decode("ascii", "replace").strip().split(" ")
    if len(parts) < 2 or parts[0] != rid or not parts[1].isdigit():
        return None  # noise, or the answer to an earlier request that gave up
    text = base64.b64decode(parts[2]).decode("utf-8", "replace") if len(parts) > 2 else ""
    return LabAnswer(int(parts[1]), text)


def _qmp_read(board: str, reader) -> dict:
    while True:
        line = reader.readline()
        if not line:
            raise HarnessError(f"{board}: QMP closed the connection")
        msg = json.loads(line)
        if "event" not in msg:  # events (RESET, NIC_RX_FILTER_CHANGED, ...) are not answers
            return msg


@contextlib.contextmanager
def _connect(board: str, path: Path, what: str):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        try:
            s.connect(str(path))
        except OSError as e:
            raise HarnessError(f"{board}: cannot reach the VM's {what} ({path}): {e}") from None
        yield s
    finally:
        s.close()
