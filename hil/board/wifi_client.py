"""The lab's WiFi test client: a station that joins a board's hotspot.

On a sim board it is a simulated station next to the board (through the sim
server's control socket). On a virtual rig it is the lab's station radio
inside the guest (`sta0` in the lab's namespace, asked over the lab line:
`hil-vrig-wifi join-hex`). On a physical rig it is a WiFi interface of the lab
host (`hotspot.client_interface` in the lab config), driven through the lab
host's NetworkManager: connect with the psk, read the DHCP address, ping the
board's end of the shared network.

What the client saw is lab-side, not on the board's console, so a recorded run
keeps it beside the transcripts (`RecordingWifiClient`, one line per join in the
board's lab-side record, without the psk) and a replay gives it back in the
same order (`RecordedWifiClient`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from hil.board.labside import recorded_answers
from hil.errors import HarnessError
from hil.lab.secrets import REDACTOR

CLIENT_CONNECTION = "hil-hotspot-client"


@dataclass(frozen=True)
class HotspotJoin:
    """What the client saw when it tried to use the board's hotspot."""

    associated: bool
    #: the client's address as `a.b.c.d/prefix`, when DHCP answered
    address: str | None = None
    gateway: str | None = None
    #: whether the client reached the board (ping of the gateway)
    reached_board: bool = False
    reason: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network | None:
        return ipaddress.IPv4Interface(self.address).network if self.address else None


class WifiClient(Protocol):
    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin: ...


#: the op of a join in a board's lab-side record (`labside.ndjson`)
RECORD_OP = "wifi-client"


class RecordingWifiClient:
    """A client whose every join is appended to `record` (the SSID and what the
    client saw; never the psk, and the reason through the lab's redactor)."""

    def __init__(self, client: WifiClient, record: Path) -> None:
        self.client = client
        self.record = record

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        seen = self.client.join(ssid, psk, timeout)
        answer = asdict(seen) | {"reason": REDACTOR.redact(seen.reason)}
        self.record.parent.mkdir(parents=True, exist_ok=True)
        with self.record.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"op": RECORD_OP, "ssid": ssid, "answer": answer}) + "\n")
        return seen


class RecordedWifiClient:
    """The client's answers of a recorded run, given back in the order they came,
    per SSID (a replay's psk is a stand-in for the masked one: it cannot choose)."""

    def __init__(self, board: str, path: Path) -> None:
        self.board = board
        self.path = path
        self._answers = recorded_answers(path, RECORD_OP)

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        for i, entry in enumerate(self._answers):
            if entry["ssid"] == ssid:
                return HotspotJoin(**self._answers.pop(i)["answer"])
        raise HarnessError(
            f"{self.board}: not in recording: the lab's WiFi client joining {ssid!r} — {self.path}"
        )


class SimWifiClient:
    """The simulated station of a sim board."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        reply = self.endpoint.request(op="wifi-client", ssid=ssid, psk=psk)
        return HotspotJoin(
            bool(reply["associated"]),
            reply.get("address"),
            reply.get("gateway"),
            bool(reply.get("reached_board")),
            str(reply.get("reason", "")),
        )


class VrigWifiClient:
    """The lab's station radio inside a virtual board's guest (`hil-vrig-wifi`):
    wpa_supplicant joins, busybox udhcpc asks the board's DHCP server, ping
    reaches the board. `ask(*words, timeout=...)` runs a lab request and returns
    its output (the lab line takes plain words: SSID and psk go as hex)."""

    def __init__(self, board: str, ask: Callable[..., str]) -> None:
        self.board = board
        self.ask = ask

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        words = ["wifi-join", ssid.encode().hex(), psk.encode().hex() if psk else "-"]
        out = self.ask(*words, str(int(timeout)), timeout=timeout + 90)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        try:
            seen = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise HarnessError(
                f"{self.board}: the lab's WiFi client said no result: {out.strip()[-300:]}"
            ) from None
        return HotspotJoin(
            bool(seen["associated"]),
            seen.get("address"),
            seen.get("gateway"),
            bool(seen.get("reached_board")),
            str(seen.get("reason", "")),
        )


Runner = type(subprocess.run)


class HostWifiClient:
    """A WiFi interface of the lab host, configured through the host's NetworkManager.

    The psk never appears on a command line: it goes to nmcli through a
    `passwd-file` readable only by us, removed afterwards.
    """

    def __init__(self, interface: str, run: Runner = subprocess.run) -> None:
        self.interface = interface
        self._run = run

    def _cmd(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return self._run(list(args), capture_output=True, text=True, timeout=timeout, check=False)

    def join(self, ssid: str, psk: str | None, timeout: float = 60.0) -> HotspotJoin:
        nmcli = ["nmcli", "--colors", "no"]
        self._cmd(*nmcli, "connection", "delete", CLIENT_CONNECTION)
        add = [
            *nmcli, "connection", "add", "type", "wifi", "ifname", self.interface,
            "con-name", CLIENT_CONNECTION, "autoconnect", "no", "ssid", ssid,
        ]  # fmt: skip
        if psk:
            add += ["wifi-sec.key-mgmt", "wpa-psk", "wifi-sec.psk-flags", "2"]
        added = self._cmd(*add)
        if added.returncode != 0:
            return HotspotJoin(False, reason=f"lab host: {added.stderr.strip()}")
        try:
            return self._up_and_check(nmcli, psk, timeout)
        finally:
            self._cmd(*nmcli, "connection", "delete", CLIENT_CONNECTION)

    def _up_and_check(self, nmcli: list[str], psk: str | None, timeout: float) -> HotspotJoin:
        with _passwd_file(psk) as secrets:
            up = [*nmcli, "--wait", str(int(timeout)), "connection", "up", CLIENT_CONNECTION]
            if secrets:
                up += ["passwd-file", secrets]
            result = self._cmd(*up, timeout=timeout + 10)
        if result.returncode != 0:
            reason = result.stderr.strip().splitlines()[0] if result.stderr.strip() else "failed"
            associated = "IP configuration" in reason  # associated, but no DHCP lease
            return HotspotJoin(associated, reason=f"lab host: {reason}")
        address = self._address()
        if address is None:
            return HotspotJoin(True, reason=f"lab host: {self.interface} got no IPv4 address")
        gateway = str(ipaddress.IPv4Interface(address).network.network_address + 1)
        ping = self._cmd("ping", "-c", "1", "-W", "3", "-I", self.interface, gateway)
        return HotspotJoin(
            True, address, gateway, ping.returncode == 0, "" if ping.returncode == 0 else "no ping"
        )

    def _address(self) -> str | None:
        out = self._cmd("ip", "-j", "-4", "addr", "show", "dev", self.interface)
        with contextlib.suppress(ValueError, IndexError, KeyError):
            for info in json.loads(out.stdout)[0]["addr_info"]:
                if info.get("family") == "inet":
                    return f"{info['local']}/{info['prefixlen']}"
        return None


@contextlib.contextmanager
def _passwd_file(psk: str | None):
    if not psk:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="hil-psk-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"802-11-wireless-security.psk:{psk}\n")
        yield path
    finally:
        os.unlink(path)
