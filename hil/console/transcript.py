"""The console transcript: every byte from the port, timestamped and redacted.

The reader thread writes here first; parsing reads the same bytes second. Lines
are written whole (so a secret can't be split across writes and escape
redaction); a partial line is flushed after a short pause.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from hil.lab.secrets import REDACTOR

#: called with (transcript, entry) after every command is recorded; the entry is
#: the redacted dict written to the `.jsonl` (command, output, exit_code, start,
#: duration, error). The reports turn these into one step per command.
CommandListener = Callable[["Transcript", dict], None]
_listeners: list[CommandListener] = []


def add_command_listener(listener: CommandListener) -> None:
    """Be told of every command any transcript records (e.g. to report it)."""
    _listeners.append(listener)


def remove_command_listener(listener: CommandListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _stamp(t: float | None = None) -> str:
    return datetime.fromtimestamp(t or time.time(), UTC).strftime("%H:%M:%S.%f")[:-3]


class Transcript:
    """Raw transcript (`console.log`) plus a structured one (`.jsonl`) per command."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._raw: IO[str] | None = None
        self._cmds: IO[str] | None = None
        self._pending = ""
        self._lock = threading.Lock()
        self.commands: list[dict] = []
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = self.path.open("a", encoding="utf-8", newline="\n")
            self._cmds = self.path.with_suffix(".jsonl").open("a", encoding="utf-8")

    def feed(self, data: bytes, direction: str = "<") -> None:
        """Record bytes from (`<`) or to (`>`) the board."""
        text = data.decode("utf-8", "replace")
        with self._lock:
            if direction == ">":
                self._flush_pending()
                self._write_line(">", text.replace("\r", "\\r").replace("\n", "\\n"))
                return
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._write_line("<", line.rstrip("\r"))

    def flush_partial(self) -> None:
        with self._lock:
            self._flush_pending()

    def _flush_pending(self) -> None:
        if self._pending:
            self._write_line("<", self._pending.rstrip("\r") + " \\")
            self._pending = ""

    def _write_line(self, direction: str, text: str) -> None:
        if self._raw:
            self._raw.write(f"{_stamp()} {direction} {REDACTOR.redact(text)}\n")
            self._raw.flush()

    def note(self, text: str) -> None:
        with self._lock:
            self._flush_pending()
            self._write_line("#", text)

    def record(
        self,
        command: str,
        output: str,
        exit_code: int | None,
        start: float,
        end: float,
        error: str | None = None,
    ) -> None:
        entry = {
            "command": REDACTOR.redact(command),
            "output": REDACTOR.redact(output),
            "exit_code": exit_code,
            "start": start,
            "duration": round(end - start, 6),
        }
        if error:
            entry["error"] = REDACTOR.redact(error)
        with self._lock:
            self.commands.append(entry)
            if self._cmds:
                self._cmds.write(json.dumps(entry) + "\n")
                self._cmds.flush()
        for listener in list(_listeners):
            try:
                listener(self, entry)
            except Exception as e:  # a reporting bug must not break the console
                self.note(f"command listener failed: {type(e).__name__}: {e}")

    def close(self) -> None:
        with self._lock:
            self._flush_pending()
            for f in (self._raw, self._cmds):
                if f:
                    f.close()
            self._raw = self._cmds = None
