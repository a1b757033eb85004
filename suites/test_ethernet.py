"""Ethernet on the board (networking doc: "NetworkManager will always set up a
default ethernet connection")."""

from __future__ import annotations

import pytest

from hil.console import ShellSession
from hil.probes.nmcli import parse_device_status, parse_terse_show

NMCLI = "nmcli --colors no -t"


def wait_startup(shell: ShellSession, seconds: int = 90) -> None:
    """NetworkManager's startup complete: every autoconnect attempt has ended."""
    shell.run(f"nm-online -s -q -t {seconds}", timeout=seconds + 15)


@pytest.mark.needs("ethernet")
@pytest.mark.faults("dhcp-timeout")
def test_default_wired_connection_comes_up(shell: ShellSession) -> None:
    """With no ethernet file, the default wired connection gets an address by DHCP."""
    wait_startup(shell)
    r = shell.run(f"{NMCLI} -f DEVICE,TYPE,STATE,CONNECTION device", timeout=20)
    assert r.exit_code == 0, r.output
    eth = [d for d in parse_device_status(r.output) if d.type == "ethernet"]
    assert eth, f"no ethernet device: {r.output}"
    dev = eth[0]
    assert dev.connected, f"{dev.device} is {dev.state}, not connected"
    show = parse_terse_show(shell.run(f"{NMCLI} device show {dev.device}", timeout=20).output)
    assert show.get("IP4.ADDRESS[1]"), f"{dev.device} has no IPv4 address"
    assert show.get("IP4.GATEWAY") not in (None, "", "--"), f"{dev.device} has no gateway"
