"""The console transcript: every byte from the port, timestamped and redacted.

Two files side by side:

- `console.log` (the raw transcript): what the board sent (`<`), what the
  harness typed (`>`), and the harness's own notes (`#`), one line each with
  the UTC time its first byte arrived. Terminal controls are shown escaped
  (`\\x1b[?2004h`), invalid UTF-8 as `\\xNN`, kernel messages kept where
  they landed. It is the single source of truth attached to every test.
- `console.jsonl` (the structured transcript): one JSON object per command —
  `command`, `output`, `exit_code` (null if it did not finish), `start` (epoch
  seconds), `duration`, `verified` (how the output was checked), `attempts`,
  `kernel_messages` (cut from the output, kept here and in the raw
  transcript), `error` (why it raised) — what record/replay and the reports
  build on. Listeners (`add_command_listener`) are told of each one.

Secrets never reach either file: everything goes through the lab's redactor,
lines are written whole (a secret cannot be split across writes), and what
the harness types as a password is written as `******`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from hil.lab.secrets import MASK, REDACTOR

#: called with (transcript, entry) after every command is recorded; the entry is
#: the redacted dict written to the `.jsonl`. The reports turn these into one
#: step per command.
CommandListener = Callable[["Transcript", dict], None]
_listeners: list[CommandListener] = []


def add_command_listener(listener: CommandListener) -> None:
    """Be told of every command any transcript records (e.g. to report it)."""
    _listeners.append(listener)


def remove_command_listener(listener: CommandListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: a partial line (a prompt) is written after this long without more bytes
PARTIAL_FLUSH_SECONDS = 0.5
#: commands kept in memory (`Transcript.commands`); the file has them all
MAX_KEPT = 1000


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def printable(data: bytes) -> str:
    """Bytes as one readable line: controls and invalid UTF-8 escaped."""
    text = data.decode("utf-8", "backslashreplace")
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


class Transcript:
    """Raw transcript (`<path>`) plus a structured one (`<path>.jsonl`); both optional."""

    def __init__(self, path: str | Path | None, board: str | None = None) -> None:
        self.path = Path(path) if path else None
        self.board = board
        self._raw: IO[str] | None = None
        self._events: IO[str] | None = None
        self._pending = bytearray()
        self._pending_since = 0.0
        self._lock = threading.Lock()
        self.commands: list[dict[str, Any]] = []  # the last MAX_KEPT, also in memory
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = self.path.open("a", encoding="utf-8", newline="\n")
            self._events = self.jsonl_path.open("a", encoding="utf-8", newline="\n")
            opened = datetime.now(UTC).isoformat(timespec="seconds")
            self._raw.write(f"# console transcript of {board or '?'}, opened {opened}\n")
            self._raw.flush()

    @property
    def jsonl_path(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.stem + ".jsonl")

    # -- the raw transcript ----------------------------------------------
    def feed(self, data: bytes) -> None:
        """Record bytes received from the board."""
        now = time.time()
        with self._lock:
            if not self._pending:
                self._pending_since = now
            self._pending += data
            end = self._pending.rfind(b"\n")
            if end < 0:
                return
            block = bytes(self._pending[: end + 1]).replace(b"\r\n", b"\n")[:-1]
            del self._pending[: end + 1]
            prefix = f"{_stamp(self._pending_since)} < "
            self._write(prefix + printable(block).replace("\n", "\n" + prefix) + "\n")
            self._pending_since = now

    def feed_sent(self, data: bytes, *, secret: bool = False) -> None:
        """Record bytes the harness typed."""
        with self._lock:
            self._flush_pending()
            shown = MASK if secret else printable(data)
            self._write(f"{_stamp(time.time())} > {shown}\n")

    def flush_partial(self, idle: bool = False) -> None:
        """Write a partial line (a prompt); with `idle`, only after a quiet spell."""
        with self._lock:
            if idle and time.time() - self._pending_since < PARTIAL_FLUSH_SECONDS:
                return
            self._flush_pending()

    def note(self, text: str) -> None:
        """A line from the harness itself (what it decided, what went wrong)."""
        with self._lock:
            self._flush_pending()
            self._write(f"{_stamp(time.time())} # {text}\n")

    def _flush_pending(self) -> None:
        if self._pending:
            line = printable(bytes(self._pending).rstrip(b"\r"))
            self._write(f"{_stamp(self._pending_since)} < {line}\n")
            self._pending.clear()

    def _write(self, text: str) -> None:
        if self._raw:
            self._raw.write(REDACTOR.redact(text))
            self._raw.flush()

    # -- the structured transcript -----------------------------------------
    def record(self, **fields: Any) -> dict[str, Any]:
        """Append one command to the structured transcript and tell the listeners."""
        entry = _redact_values({"board": self.board, **fields})
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            self.commands.append(entry)
            del self.commands[:-MAX_KEPT]
            if self._events:
                self._events.write(line + "\n")
                self._events.flush()
        for listener in list(_listeners):
            try:
                listener(self, entry)
            except Exception as e:  # a reporting bug must not break the console
                self.note(f"command listener failed: {type(e).__name__}: {e}")
        return entry

    def close(self) -> None:
        with self._lock:
            self._flush_pending()
            for f in (self._raw, self._events):
                if f:
                    f.close()
            self._raw = self._events = None


def _redact_values(node: Any) -> Any:
    if isinstance(node, str):
        return REDACTOR.redact(node)
    if isinstance(node, dict):
        return {k: _redact_values(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_redact_values(v) for v in node]
    return node


def read_commands(path: str | Path) -> list[dict[str, Any]]:
    """The commands of a structured transcript (`.jsonl`), in order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
