"""The lab side of a virtual board (`qemu://`): the lab inside the guest.

Faults are switched by the guest's lab (`hil-vrig-lab fault NAME on|off`,
run by `hil-vrig-labd` on the VM's lab line, see `hil.vrig.control`): each
fault the guest can produce is a hook `hil/vrig/guest/faults.d/NAME` taking
`on`/`off` — nftables rules at the lab router inside the guest, a lab service
stopped or answering otherwise, an access point taken down. A fault with no
hook raises `FaultUnsupported` (its tests skip with that reason). What only
the machine can do goes through QEMU's monitor: the power button
(`system_reset`) and the board's cable (`set_link`).

To add a fault: an executable `hil/vrig/guest/faults.d/NAME` (see
`hil-vrig-lab`'s header for the helpers it may call); to add a lab action
the host asks for (e.g. a modem's USB port), `hil/vrig/guest/actions.d/NAME`.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path

from hil.board.labnet import ProxyConnection, parse_proxy_log_line
from hil.board.labside import FaultUnsupported, _FaultContext
from hil.errors import HarnessError
from hil.lab.faults import FAULTS
from hil.vrig.control import UNSUPPORTED, LabAnswer, VrigControl

#: faults after which the board must ask the lab again: its cable is pulled for
#: a moment (a lab bouncing the switch port), so NetworkManager gives up its lease
CABLE_BOUNCE = {"dhcp-timeout"}
#: how long switching a fault may take: a WiFi fault restarts access points (hostapd
#: takes seconds to start under TCG; 27 s measured for wrong-psk at load 34)
FAULT_TIMEOUT_S = 180.0
#: how long the cable stays out: NetworkManager acts on a lost carrier 6 s later
#: (measured on the guest: "activated -> unavailable (reason 'carrier-changed')")
CABLE_OUT_S = 10.0


class VrigLabSide(_FaultContext):
    """Faults, power and USB ports of a virtual board, through its control lines."""

    def __init__(self, board: str, control: Callable[[], VrigControl]) -> None:
        self.board = board
        self._control = control

    @functools.cached_property
    def control(self) -> VrigControl:
        return self._control()  # boots the guest if nobody serves it

    def _lab(self, *words: str, timeout: float = 60.0) -> LabAnswer:
        answer = self.control.lab(*words, timeout=timeout)
        what = " ".join(words)
        if answer.status == UNSUPPORTED:
            raise FaultUnsupported(f"{self.board}: {answer.output.strip() or what}")
        if answer.status != 0:
            said = "; ".join(x.strip() for x in answer.output.splitlines() if x.strip())
            raise HarnessError(
                f"{self.board}: the guest's lab failed `{what}` (exit {answer.status}): "
                f"{said[:300]}"
            )
        return answer

    def ask(self, *words: str, timeout: float = 60.0) -> str:
        """A lab action (`actions.d/WORD`, e.g. `wifi-join`): its output."""
        return self._lab(*words, timeout=timeout).output

    @functools.cached_property
    def _supported(self) -> frozenset[str]:
        return frozenset(self._lab("supported").output.split())

    def supports(self, fault: str) -> bool:
        return fault in FAULTS and fault in self._supported

    def set_fault(self, fault: str, on: bool) -> None:
        if not self.supports(fault):
            raise FaultUnsupported(f"{self.board}: this lab cannot produce fault {fault!r}")
        was_on = fault in self.active_faults()
        self._lab("fault", fault, "on" if on else "off", timeout=FAULT_TIMEOUT_S)
        if fault in CABLE_BOUNCE and was_on != on:
            self.bounce_cable()

    def active_faults(self) -> list[str]:
        return sorted(self._lab("faults").output.split())

    def bounce_cable(self, out_s: float = CABLE_OUT_S) -> None:
        """Pull the board's ethernet cable for `out_s` seconds (QMP set_link)."""
        self.control.qmp("set_link", name="board", up=False)
        try:
            time.sleep(out_s)
        finally:
            self.control.qmp("set_link", name="board", up=True)

    def power_cycle(self) -> None:
        """The reset button: the machine restarts at once (the console and the disks
        stay; what the guest had not written to its disks is lost, as on a power cut)."""
        self.control.qmp("system_reset")

    def usb_port(self, modem: str, action: str) -> dict:
        """Power a modem's USB port off and on (`replug`), `unplug` or `plug` it: the
        guest's `actions.d/usb` hook, if the lab has one."""
        if action not in ("replug", "unplug", "plug"):
            raise HarnessError(f"unknown usb action {action!r} (replug, unplug, plug)")
        self._lab("usb", modem, action, timeout=120)
        return {"ok": True}


class VrigPower:
    """A virtual board's power (a board with no `power:` in the lab config): off
    stops the machine where it is, on resets it and lets it run (a fresh boot),
    cycle is the reset button."""

    def __init__(self, lab: VrigLabSide) -> None:
        self.lab = lab

    def on(self) -> None:
        if self.lab.control.qmp("query-status").get("status") != "running":
            self.lab.control.qmp("system_reset")
            self.lab.control.qmp("cont")

    def off(self) -> None:
        self.lab.control.qmp("stop")

    def cycle(self) -> None:
        self.lab.control.qmp("system_reset")
        self.lab.control.qmp("cont")


class VrigProxyLog:
    """The lab's proxy inside the guest (tinyproxy's log), read over the lab line
    from a mark (a byte offset). With `record`, each answer is appended there, so
    that a replay of the run can give it back."""

    def __init__(self, lab: VrigLabSide, record: Path | None = None) -> None:
        self.lab = lab
        self.record = record

    def _ask(self, since: int) -> tuple[int, list[ProxyConnection]]:
        size, _, text = self.lab._lab("proxy-log", str(since)).output.partition("\n")
        found = (parse_proxy_log_line(line) for line in text.splitlines())
        entries = [c for c in found if c is not None]
        if self.record is not None:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            entry = {
                "op": "proxy_log",
                "since": since,
                "next": int(size),
                "entries": [{"host": c.host, "port": c.port, "line": c.line} for c in entries],
            }
            with self.record.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        return int(size), entries

    def mark(self) -> int:
        return self._ask(0)[0]

    def since(self, mark: int) -> list[ProxyConnection]:
        return self._ask(mark)[1]
