"""The systemd journal of a simulated board: what services logged, per unit and boot."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class JournalEntry:
    time: float
    boot: int
    unit: str
    ident: str
    pid: int
    message: str

    def line(self, hostname: str) -> str:
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self.time))
        return f"{stamp} {hostname} {self.ident}[{self.pid}]: {self.message}"


class Journal:
    """Log lines by unit; `journalctl -u UNIT [-b] [-n N]` reads them."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self.boot = 0
        self._lock = threading.Lock()
        self._pids: dict[str, int] = {}

    def new_boot(self) -> None:
        with self._lock:
            self.boot += 1
            self._pids.clear()

    def start(self, unit: str) -> int:
        """A new process of `unit`: the pid its lines carry."""
        with self._lock:
            pid = 300 + (hash((unit, self.boot, len(self.entries))) % 3000)
            self._pids[unit] = pid
            return pid

    def log(self, unit: str, message: str, ident: str | None = None) -> None:
        with self._lock:
            pid = self._pids.get(unit) or 1
            for line in message.splitlines() or [""]:
                self.entries.append(
                    JournalEntry(time.time(), self.boot, unit, ident or unit, pid, line)
                )

    def select(self, units: list[str], this_boot: bool) -> list[JournalEntry]:
        with self._lock:
            return [
                e
                for e in self.entries
                if (not units or e.unit in units) and (not this_boot or e.boot == self.boot)
            ]
