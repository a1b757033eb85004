"""Ethernet on the board (networking doc: "NetworkManager will always set up a
default ethernet connection", and "Setting a Static IP")."""

from __future__ import annotations

import pytest
from netsupport import (
    BootCase,
    applied,
    assert_static,
    device_of_type,
    device_show,
    static_ip,
    wait_startup,
)

from hil.board import Board
from hil.console import ShellSession
from hil.netconfig.builders import StaticIP, ethernet


@pytest.mark.needs("ethernet")
@pytest.mark.faults("dhcp-timeout")
def test_default_wired_connection_comes_up(shell: ShellSession) -> None:
    """With no ethernet file, the default wired connection gets an address by DHCP."""
    wait_startup(shell)
    dev = device_of_type(shell, "ethernet")
    assert dev.connected, f"{dev.device} is {dev.state}, not connected"
    show = device_show(shell, dev.device)
    assert show.get("IP4.ADDRESS[1]"), f"{dev.device} has no IPv4 address"
    assert show.get("IP4.GATEWAY") not in (None, "", "--"), f"{dev.device} has no gateway"


@pytest.mark.needs("ethernet")
@pytest.mark.faults("static-ip-conflict", "reboot-ignored")
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
