"""The lab side of a board: what the lab can do to it (faults, power).

Faults are conditions of the lab, not of the harness. A sim board implements
every fault through its server's control socket; a physical rig implements
those its lab can, and asking for another raises `FaultUnsupported`, which
the pytest plugin turns into a skip with the reason.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from hil.board.labnet import ProxyConnection
from hil.errors import ConfigError, HarnessError
from hil.lab.faults import FAULTS


class FaultUnsupported(HarnessError):
    """The lab of this board cannot produce that fault."""


class LabSide(Protocol):
    board: str

    def supports(self, fault: str) -> bool: ...

    def set_fault(self, fault: str, on: bool) -> None: ...

    def active_faults(self) -> list[str]: ...

    def usb_port(self, modem: str, action: str) -> dict:
        """Power a modem's USB port off and on (`replug`), or `unplug`/`plug` it;
        FaultUnsupported when the lab cannot."""
        ...


class ProxyLog(Protocol):
    """What the lab's proxy relayed: `since(mark())` after the traffic."""

    def mark(self) -> int: ...

    def since(self, mark: int) -> list[ProxyConnection]: ...


class _FaultContext:
    def fault(self: LabSide, name: str) -> contextlib.AbstractContextManager[None]:  # type: ignore[misc]
        return _fault(self, name)


@contextlib.contextmanager
def _fault(side: LabSide, name: str) -> Iterator[None]:
    if name not in FAULTS:
        raise ConfigError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
    if not side.supports(name):
        raise FaultUnsupported(f"{side.board}: this lab cannot produce fault {name!r}")
    was_on = name in side.active_faults()
    side.set_fault(name, True)
    try:
        yield
    finally:
        if not was_on:
            side.set_fault(name, False)


class SimLabSide(_FaultContext):
    """Faults of a simulated board, through its server's control socket."""

    def __init__(self, board: str, endpoint) -> None:
        self.board = board
        self.endpoint = endpoint

    def supports(self, fault: str) -> bool:
        """Every fault of the catalogue the simulated world can have (a storage-mode
        fault needs a modem that has a storage mode)."""
        if fault not in FAULTS:
            return False
        return bool(self.endpoint.request(op="supports", name=fault).get("supported", True))

    def set_fault(self, fault: str, on: bool) -> None:
        self.endpoint.request(op="fault", name=fault, on=on)

    def active_faults(self) -> list[str]:
        return list(self.endpoint.request(op="faults")["faults"])

    def power_cycle(self) -> None:
        self.endpoint.request(op="reboot")

    def usb_port(self, modem: str, action: str) -> dict:
        """Power the port of a modem off and on (`replug`), or only `unplug`/`plug` it."""
        return self.endpoint.request(op="usb", modem=modem, action=action)


#: beside a board's transcripts: what the lab side answered, for `hil replay`
LAB_SIDE_RECORD = "labside.ndjson"


def recorded_answers(path: Path, op: str) -> list[dict]:
    """The lab side's recorded answers to `op` in `path` (LAB_SIDE_RECORD), in order;
    none when the recording has no such file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries = [json.loads(line) for line in lines if line.strip()]
    return [e for e in entries if e.get("op") == op]


class SimProxyLog:
    """The sim lab's proxy, through the server's control socket. With `record`, each
    answer is appended there, so that a replay of the run can give it back."""

    def __init__(self, endpoint, record: Path | None = None) -> None:
        self.endpoint = endpoint
        self.record = record

    def _ask(self, since: int) -> dict:
        reply = self.endpoint.request(op="proxy_log", since=since)
        if self.record is not None:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            entry = {
                "op": "proxy_log",
                "since": since,
                "next": reply["next"],
                "entries": reply.get("entries", []),
            }
            with self.record.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        return reply

    def mark(self) -> int:
        return int(self._ask(0)["next"])

    def since(self, mark: int) -> list[ProxyConnection]:
        reply = self._ask(mark)
        return [ProxyConnection(e["host"], int(e["port"]), e["line"]) for e in reply["entries"]]


class RecordedProxyLog:
    """The proxy's answers of a recorded run, given back in the order they were asked."""

    def __init__(self, board: str, path: Path) -> None:
        self.board = board
        self.path = path
        self._answers = recorded_answers(path, "proxy_log")

    def _next(self, since: int) -> dict:
        # the answer to this very question (a mark is asked with 0, a `since` with the
        # mark the recording gave back), first unconsumed in recorded order
        for i, entry in enumerate(self._answers):
            if entry.get("op") == "proxy_log" and entry["since"] == since:
                return self._answers.pop(i)
        raise HarnessError(
            f"{self.board}: not in recording: the lab's proxy log (since {since}) — {self.path}"
        )

    def mark(self) -> int:
        return int(self._next(0)["next"])

    def since(self, mark: int) -> list[ProxyConnection]:
        reply = self._next(mark)
        return [ProxyConnection(e["host"], int(e["port"]), e["line"]) for e in reply["entries"]]


class NoLabSide(_FaultContext):
    """A rig whose lab config declares no fault control."""

    def __init__(self, board: str) -> None:
        self.board = board

    def supports(self, fault: str) -> bool:
        return False

    def set_fault(self, fault: str, on: bool) -> None:
        raise FaultUnsupported(f"{self.board}: this lab cannot produce fault {fault!r}")

    def active_faults(self) -> list[str]:
        return []

    def usb_port(self, modem: str, action: str) -> dict:
        raise FaultUnsupported(f"{self.board}: the lab config gives no control of USB ports")
