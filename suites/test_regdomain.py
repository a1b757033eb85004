"""The WiFi regulatory domain (networking doc, "Regulatory Domain"): `country`
in config.json sets the domain at boot, and channels 12/13 are usable with GB
and not with US."""

from __future__ import annotations

import pytest
from netsupport import (
    BootCase,
    applied,
    connection_up,
    device_of_type,
    iw_link,
    network,
    pytest_generate_tests,  # noqa: F401  (parameterises `<kind>_net`)
    read,
)

from hil.board import Board
from hil.console import ShellSession
from hil.netconfig.builders import wifi
from hil.probes.iw import frequency, global_domain, parse_channels

#: every test applies a case through the boot partition (its undo reboot is batched)
pytestmark = pytest.mark.boot_case


def reg_country(shell: ShellSession) -> str:
    r = read(shell, "iw reg get", timeout=10)
    assert r.exit_code == 0, f"iw reg get failed: {r.output}"
    return global_domain(r.output).country


def channels(shell: ShellSession):
    r = read(shell, "iw list | grep 'MHz \\['", timeout=10)
    assert r.exit_code == 0, f"iw list failed: {r.output}"
    return parse_channels(r.output)


@pytest.mark.needs("wifi")
@pytest.mark.faults("regdomain-unset", "reboot-ignored")
@pytest.mark.parametrize("country", ["GB", "US"])
def test_country_sets_the_regulatory_domain(
    board: Board, shell: ShellSession, country: str
) -> None:
    """`"country": "XX"` in config.json → `iw reg get` shows country XX after boot."""
    with applied(board, shell, BootCase(config={"country": country})):
        got = reg_country(shell)
        assert got == country, f"iw reg get: country {got}, config.json says {country}"


@pytest.mark.needs("wifi")
@pytest.mark.faults("regdomain-unset", "ap-down", "wrong-psk", "dhcp-timeout", "reboot-ignored")
def test_channels_12_13_usable_with_gb(
    board: Board, shell: ShellSession, regdomain_net: str
) -> None:
    """With GB, channels 12 and 13 are enabled and the board joins the lab's AP there."""
    net = network(board, regdomain_net, "regdomain")
    case = BootCase(config={"country": "GB"}).connection(
        "resin-wifi", wifi(net.ssid, net.psk, id="balena-wifi")
    )
    with applied(board, shell, case):
        assert reg_country(shell) == "GB", "config.json's country GB is not in force"
        chans = channels(shell)
        for ch in (12, 13):
            assert ch in chans and chans[ch].usable, f"channel {ch} is not usable with GB"
        wlan = device_of_type(shell, "wifi")
        if not (wlan.connected and wlan.connection == "balena-wifi"):
            r = connection_up(shell, "balena-wifi")
            raise AssertionError(
                f"not connected to {net.ssid} on channel {net.channel}: {r.output}"
            )
        link = iw_link(shell, wlan.device)
        assert link.mhz == frequency(net.channel or 13), f"associated on {link.mhz} MHz"


@pytest.mark.needs("wifi")
@pytest.mark.faults("regdomain-unset", "reboot-ignored")
def test_channels_12_13_not_usable_with_us(
    board: Board, shell: ShellSession, regdomain_net: str
) -> None:
    """With US, channels 12 and 13 are disabled: the AP there cannot be joined."""
    net = network(board, regdomain_net, "regdomain")
    case = BootCase(config={"country": "US"}).connection(
        "resin-wifi", wifi(net.ssid, net.psk, id="balena-wifi")
    )
    with applied(board, shell, case):
        assert reg_country(shell) == "US", "config.json's country US is not in force"
        chans = channels(shell)
        for ch in (12, 13):
            assert ch in chans and chans[ch].disabled, f"channel {ch} is usable with US"
        wlan = device_of_type(shell, "wifi")
        assert not (wlan.connected and wlan.connection == "balena-wifi"), (
            f"joined {net.ssid} on channel {net.channel} with US"
        )
        r = connection_up(shell, "balena-wifi")
        assert r.exit_code != 0, f"connection up to channel {net.channel} succeeded with US"
