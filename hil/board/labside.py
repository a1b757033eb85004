"""The lab side of a board: what the lab can do to it (faults, power).

Faults are conditions of the lab, not of the harness. A sim board implements
every fault through its server's control socket; a physical rig implements
those its lab can, and asking for another raises `FaultUnsupported`, which
the pytest plugin turns into a skip with the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
        return fault in FAULTS

    def set_fault(self, fault: str, on: bool) -> None:
        self.endpoint.request(op="fault", name=fault, on=on)

    def active_faults(self) -> list[str]:
        return list(self.endpoint.request(op="faults")["faults"])

    def power_cycle(self) -> None:
        self.endpoint.request(op="reboot")

    def usb_port(self, modem: str, action: str) -> dict:
        """Power the port of a modem off and on (`replug`), or only `unplug`/`plug` it."""
        return self.endpoint.request(op="usb", modem=modem, action=action)


class SimProxyLog:
    """The sim lab's proxy, through the server's control socket."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    def mark(self) -> int:
        return int(self.endpoint.request(op="proxy_log", since=0)["next"])

    def since(self, mark: int) -> list[ProxyConnection]:
        reply = self.endpoint.request(op="proxy_log", since=mark)
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
