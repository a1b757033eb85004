"""The board as a hotspot (networking doc, "Creating a Hotspot"): the doc's
`balena-hotspot` file applied through the boot partition; the lab's test client
joins with the psk, gets a DHCP address from the board's shared range and
reaches the board."""

from __future__ import annotations

import ipaddress
import shlex

import pytest
from netsupport import (
    BootCase,
    applied,
    connection_show,
    connection_up,
    iw_dev,
    links,
    read,
    unmasked,
)

from hil.board import Board
from hil.console import ShellSession
from hil.netconfig.builders import hotspot

#: every test applies a case through the boot partition (its undo reboot is batched)
pytestmark = pytest.mark.boot_case

LEASES = "/var/lib/NetworkManager/dnsmasq-{dev}.leases"


@pytest.mark.needs("hotspot")
@pytest.mark.faults("hotspot-dhcp-fails", "reboot-ignored")
@pytest.mark.parametrize("proto", ["rsn", "wpa"])
def test_hotspot_serves_a_client(board: Board, shell: ShellSession, proto: str) -> None:
    """WPA2 (`proto=rsn`, the doc's file) or WPA (`proto=`): a client with the psk
    gets an address from the board's 10.42.0.0/24 and reaches the board; a client
    with another psk does not get in."""
    assert board.config.hotspot is not None
    config = unmasked(board.config.hotspot)
    client = board.wifi_client()
    if client is None:
        pytest.skip(f"{board.name}: lab config names no hotspot.client_interface")
    keyfile = hotspot(config.ssid, config.psk, wpa2=proto == "rsn")
    with applied(board, shell, BootCase().connection("balena-hotspot", keyfile)):
        # the doc's file has autoconnect=false: the hotspot is brought up on demand
        r = connection_up(shell, "balena-hotspot")
        assert r.exit_code == 0, f"the hotspot did not start: {r.output.strip()}"
        wlan = iw_dev(shell).get("wlan0")
        assert wlan is not None and wlan.type == "AP", f"wlan0 is not an AP: {wlan}"
        assert wlan.ssid == config.ssid, f"the AP serves {wlan.ssid!r}, not {config.ssid!r}"
        assert wlan.channel is not None and 1 <= wlan.channel <= 14, (
            f"band=bg, but the AP is on channel {wlan.channel} ({wlan.mhz} MHz)"
        )
        security = connection_show(shell, "balena-hotspot")
        got_proto = security.get("802-11-wireless-security.proto", "")
        assert (got_proto == "rsn") == (proto == "rsn"), (
            f"the board's NetworkManager has proto {got_proto!r} for a proto={proto} file"
        )
        board_addr = [a for a in links(shell)["wlan0"].ipv4()]
        assert board_addr, "wlan0 has no address in shared mode"
        shared = board_addr[0].interface.network
        assert shared == ipaddress.IPv4Network("10.42.0.0/24"), f"shared range is {shared}"

        refused = client.join(config.ssid, config.psk[::-1] + "x")
        assert not refused.address, f"a client with a wrong psk got {refused.address}"

        joined = client.join(config.ssid, config.psk)
        assert joined.associated, f"the client did not associate: {joined.reason}"
        assert joined.address, f"the client got no DHCP address: {joined.reason}"
        assert joined.network == shared, f"client address {joined.address} not in {shared}"
        assert joined.reached_board, f"the client cannot reach the board: {joined.reason}"
        ip = joined.address.split("/")[0]
        leases = read(shell, f"cat {shlex.quote(LEASES.format(dev='wlan0'))}", timeout=10)
        assert ip in leases.output, f"the board's DHCP server has no lease for {ip}"
        stations = read(shell, "iw dev wlan0 station dump")
        assert "Station " in stations.output, "the board's AP lists no station"
