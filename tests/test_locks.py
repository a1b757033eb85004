"""Rig locks: one run per board, a clear word about who holds it, no stale locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.board.lock import BoardBusy, RigLock

HOLDER = """
import sys, time
from hil.board.lock import RigLock
lock = RigLock("lab", "pi4", sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def hold(lock_dir: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_dir), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_second_run_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    proc = hold(tmp_path, 30)
    try:
        with pytest.raises(BoardBusy) as e:
            RigLock("lab", "pi4", tmp_path).acquire(wait=False)
        assert f"pid {proc.pid}" in str(e.value) and "pi4: in use by" in str(e.value)
    finally:
        proc.kill()
        proc.wait()


def test_second_run_waits_with_a_message(tmp_path: Path) -> None:
    proc = hold(tmp_path, 1.0)
    messages: list[str] = []
    lock = RigLock("lab", "pi4", tmp_path)
    t0 = time.monotonic()
    lock.acquire(wait=True, notify=messages.append, interval=0.2)
    try:
        assert time.monotonic() - t0 > 0.3
        assert messages and f"waiting for pid {proc.pid}" in messages[0]
        assert lock.owner()["pid"] == os.getpid()
    finally:
        lock.release()
        proc.wait()


def test_lock_of_a_killed_run_is_free_at_once(tmp_path: Path) -> None:
    proc = hold(tmp_path, 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lock = RigLock("lab", "pi4", tmp_path)
    lock.acquire(wait=False)  # flock died with its process: nothing stale to clean
    assert lock.owner()["pid"] == os.getpid()
    lock.release()
    assert lock.owner() is None


def test_timeout_while_waiting(tmp_path: Path) -> None:
    proc = hold(tmp_path, 30)
    try:
        with pytest.raises(BoardBusy, match="still in use"):
            RigLock("lab", "pi4", tmp_path).acquire(wait=True, timeout=0.5, interval=0.1)
    finally:
        proc.kill()
        proc.wait()
