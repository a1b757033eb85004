"""Rig locks: a board is used by one run at a time.

A `filelock` lock per board in the lab's shared lock directory, with an owner
record (pid, host, user, command, start time) beside it so that a waiting run
can say who holds the board. The lock is an flock(2): it dies with its
process, so a crashed run never leaves a stale lock behind; a stale owner
record is simply overwritten. (flock over NFS is not reliable: keep lock_dir
on a local filesystem of the lab host that runs the boards.)
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import filelock

from hil.errors import HarnessError

DEFAULT_LOCK_DIR = Path(os.environ.get("HIL_LOCK_DIR", "/tmp/hil-locks"))


class BoardBusy(HarnessError):
    """The board is held by another run and we were told not to wait."""


class RigLock:
    """The lock of one board of one lab."""

    def __init__(self, lab: str, board: str, lock_dir: str | Path | None = None) -> None:
        self.lab, self.board = lab, board
        self.dir = Path(lock_dir) if lock_dir else DEFAULT_LOCK_DIR
        base = self.dir / f"{lab}--{board}"
        self.lock_path = base.with_suffix(".lock")
        self.owner_path = base.with_suffix(".owner.json")
        self._lock: filelock.BaseFileLock | None = None

    def owner(self) -> dict | None:
        """Who holds (or last held) the board."""
        try:
            return json.loads(self.owner_path.read_text())
        except (OSError, ValueError):
            return None

    def describe_owner(self) -> str:
        o = self.owner()
        if not o:
            return "another run"
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(o.get("started", 0)))
        return (
            f"pid {o.get('pid')} of {o.get('user')} on {o.get('host')} since {started} "
            f"({o.get('command', '?')})"
        )

    def acquire(
        self,
        wait: bool = True,
        timeout: float | None = None,
        notify: Callable[[str], None] | None = None,
        interval: float = 30.0,
    ) -> None:
        """Take the board; wait (telling `notify` who holds it) or fail fast."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.lock_path))
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False
        while True:
            try:
                lock.acquire(timeout=0 if not wait else min(interval, _left(deadline)))
                break
            except filelock.Timeout:
                holder = self.describe_owner()
                if not wait:
                    raise BoardBusy(
                        f"{self.board}: in use by {holder} (lock {self.lock_path})"
                    ) from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise BoardBusy(
                        f"{self.board}: still in use by {holder} after {timeout:g}s"
                    ) from None
                if notify and (not told or interval):
                    notify(f"{self.board}: waiting for {holder}")
                    told = True
        self._lock = lock
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": getpass.getuser(),
            "command": " ".join(sys.argv[:4]),
            "started": time.time(),
        }
        tmp = self.owner_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.owner_path)

    def release(self) -> None:
        if self._lock is not None:
            self.owner_path.unlink(missing_ok=True)
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RigLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _left(deadline: float | None) -> float:
    return 1e9 if deadline is None else max(0.0, deadline - time.monotonic())
