"""Ethernet on the board (networking doc: "NetworkManager will always set up a
default ethernet connection", and "Setting a Static IP")."""

from __future__ import annotations

import pytest
from netsupport import (
    NMCLI,
    OVERLAY_CONNECTIONS,
    BootCase,
    applied,
    assert_static,
    device_of_type,
    device_show,
    read,
    static_ip,
    wait_startup,
)

from hil.board import Board
from hil.console import ShellSession
from hil.netconfig.builders import StaticIP, ethernet
from hil.probes.nmcli import parse_terse


@pytest.mark.needs("ethernet")
@pytest.mark.faults("dhcp-timeout")
def test_default_wired_connection_comes_up(shell: ShellSession) -> None:
    """With no ethernet file, the default wired connection gets an address by DHCP."""
    wait_startup(shell)
    dev = device_of_type(shell, "ethernet")
    assert dev.connected, f"{dev.device} is {dev.state}, not connected"
    # NetworkManager's own default connection, not one a connection file brought
    r = read(shell, f"{NMCLI} -f NAME,DEVICE,FILENAME connection show --active")
    assert r.exit_code == 0, f"nmcli connection show --active failed: {r.output}"
    rows = parse_terse(r.output, ["NAME", "DEVICE", "FILENAME"])
    mine = [row for row in rows if row["DEVICE"] == dev.device]
    assert mine, f"no active connection on {dev.device}: {r.output.strip()}"
    assert not mine[0]["FILENAME"].startswith(OVERLAY_CONNECTIONS), (
        f"{dev.device} is up with {mine[0]['NAME']!r} from {mine[0]['FILENAME']}: a "
        "connection file, not NetworkManager's default wired connection"
    )
    show = device_show(shell, dev.device)
    assert show.get("IP4.ADDRESS[1]"), f"{dev.device} has no IPv4 address"
    assert show.get("IP4.GATEWAY") not in (None, "", "--"), f"{dev.device} has no gateway"


@pytest.mark.needs("ethernet")
@pytest.mark.faults("static-ip-conflict", "resolvconf-not-updated", "reboot-ignored")
@pytest.mark.boot_case
def test_static_ip_on_ethernet(board: Board, shell: ShellSession) -> None:
    """The doc's static ethernet file: address, gateway, routes and DNS exactly as it says."""
    address, gateway, dns = static_ip(board.config.ethernet_static, "192.168.1.111/24")
    keyfile = ethernet(static=StaticIP(address, gateway, dns))
    with applied(board, shell, BootCase().connection("my-ethernet", keyfile)):
        dev = device_of_type(shell, "ethernet")
        assert dev.connected and dev.connection == "my-ethernet", (
            f"{dev.device} is {dev.state} with {dev.connection or 'no connection'}"
        )
        assert_static(shell, dev.device, "my-ethernet", address, gateway, dns)
