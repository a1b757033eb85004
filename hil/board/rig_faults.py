"""The lab side of a physical rig: faults made by the lab's own equipment.

- commands per fault (`lab_side.faults`): AP control on the lab host
  (`hostapd_cli -i wlan1 disable`, `nmcli con down lab-ap`), a PDU, anything;
- the lab router (`lab_side.router`): network faults as nftables rules in a
  table of our own (`inet hil_<board>`), in the router's network namespace —
  DNS, NTP, TCP 443, the proxy, the connectivity-check host;
- the modem's hub port (`lab_side.modem_power`): uhubctl off/cycle.

A fault none of these can produce raises `FaultUnsupported`: its tests skip
with that reason.
"""

from __future__ import annotations

import re
import subprocess

from hil.board.labside import FaultUnsupported, _FaultContext
from hil.errors import HarnessError
from hil.lab.models import LabSideConfig

#: network faults → nftables match expressions (on traffic from the board)
_NET_RULES = {
    "dns-blocked": ["udp dport 53", "tcp dport 53"],
    "ntp-blocked": ["udp dport 123"],
    "port-443-blocked": ["tcp dport 443"],
}


class RigLabSide(_FaultContext):
    def __init__(self, board: str, config: LabSideConfig) -> None:
        self.board = board
        self.config = config
        self._active: set[str] = set()

    def _router_rules(self, fault: str) -> list[str] | None:
        router = self.config.router
        if router is None:
            return None
        if fault in _NET_RULES:
            return _NET_RULES[fault]
        if fault == "proxy-down" and router.proxy:
            host, _, port = router.proxy.rpartition(":")
            return [f"ip daddr {host} tcp dport {port}"]
        if fault == "connectivity-check-fails" and router.connectivity_host:
            return [f"ip daddr {router.connectivity_host} tcp dport {{ 80, 443 }}"]
        return None

    def _modem_argv(self, fault: str, on: bool) -> list[str] | None:
        mp = self.config.modem_power
        if mp is None or fault not in ("modem-drops-off-bus", "modem-reenumerates"):
            return None
        action = ("off" if fault == "modem-drops-off-bus" else "cycle") if on else "on"
        return ["uhubctl", "-l", mp.location, "-p", str(mp.port), "-a", action]

    def supports(self, fault: str) -> bool:
        return (
            fault in self.config.faults
            or self._router_rules(fault) is not None
            or self._modem_argv(fault, True) is not None
        )

    def active_faults(self) -> list[str]:
        return sorted(self._active)

    def set_fault(self, fault: str, on: bool) -> None:
        if not self.supports(fault):
            raise FaultUnsupported(f"{self.board}: this lab cannot produce fault {fault!r}")
        if fault in self.config.faults:
            commands = self.config.faults[fault]
            _run(self.board, commands.on if on else commands.off, fault, shell=True)
        elif self._router_rules(fault) is not None:
            (self._active.add if on else self._active.discard)(fault)
            self._apply_router()
            return
        else:
            argv = self._modem_argv(fault, on)
            assert argv is not None
            _run(self.board, argv, fault)
        (self._active.add if on else self._active.discard)(fault)

    def usb_port(self, modem: str, action: str) -> dict:
        """Power the modem's hub port off and on (`replug`), or only off/on
        (`unplug`/`plug`), with uhubctl (the lab side's `modem_power`)."""
        mp = self.config.modem_power
        if mp is None:
            raise FaultUnsupported(f"{self.board}: the lab side has no modem_power (uhubctl)")
        uhubctl = {"replug": "cycle", "unplug": "off", "plug": "on"}
        if action not in uhubctl:
            raise HarnessError(f"unknown usb action {action!r} (replug, unplug, plug)")
        argv = ["uhubctl", "-l", mp.location, "-p", str(mp.port), "-a", uhubctl[action]]
        _run(self.board, argv, f"usb {action} of {modem}")
        return {"ok": True}

    def table(self) -> str:
        return "hil_" + re.sub(r"[^A-Za-z0-9_]", "_", self.board)

    def ruleset(self) -> str:
        """The whole table for the faults on now (replaced atomically by `nft -f`)."""
        router = self.config.router
        assert router is not None
        rules = [rule for f in sorted(self._active) for rule in (self._router_rules(f) or [])]
        lines = [
            f"table inet {self.table()} {{}}",
            f"delete table inet {self.table()}",
            f"table inet {self.table()} {{",
        ]
        for hook in ("input", "forward"):
            lines.append(f"  chain {hook} {{ type filter hook {hook} priority -10; policy accept;")
            lines += [f"    ip saddr {router.board_ip} {r} drop" for r in rules]
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _apply_router(self) -> None:
        router = self.config.router
        assert router is not None
        argv = ["nft", "-f", "-"]
        if router.netns:
            argv = ["ip", "netns", "exec", router.netns, *argv]
        _run(self.board, argv, "router rules", stdin=self.ruleset())

    def clear(self) -> None:
        """Take every fault of ours off (e.g. after an interrupted run)."""
        for fault in list(self._active):
            self.set_fault(fault, False)


def _run(board: str, cmd, what: str, shell: bool = False, stdin: str | None = None) -> None:
    try:
        r = subprocess.run(
            cmd, shell=shell, input=stdin, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError as e:
        raise HarnessError(f"{board}: lab side ({what}): {e.filename}: command not found") from None
    if r.returncode != 0:
        said = "; ".join(x.strip() for x in (r.stdout + r.stderr).splitlines() if x.strip())
        raise HarnessError(f"{board}: lab side ({what}) failed (exit {r.returncode}): {said[:300]}")
