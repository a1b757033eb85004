"""WiFi on the board (networking doc, "WiFi Setup"): every WiFi example applied
through the boot partition and checked on the board, for each lab network."""

from __future__ import annotations

import time

import pytest
from netsupport import (
    AUTH_FAILURES,
    NMCLI,
    BootCase,
    a_wrong_password,
    applied,
    assert_static,
    ca_cert_text,
    connection_show,
    connection_up,
    device_of_type,
    iw_link,
    links,
    network,
    networks,
    pytest_generate_tests,  # noqa: F401  (parameterises `<kind>_net`)
    read,
    routes,
    static_ip,
)

from hil.board import Board
from hil.console import ShellSession
from hil.lab.models import WifiConfig
from hil.netconfig.builders import StaticIP, ethernet, wifi, wpa2_enterprise
from hil.probes.ip import default_route
from hil.probes.iw import frequency
from hil.probes.nmcli import WifiNetwork, parse_wifi_list

#: every test applies a case through the boot partition (its undo reboot is batched)
pytestmark = pytest.mark.boot_case

CA_DIR = "hil-certs"  # under the boot partition: /mnt/boot/hil-certs/


def assert_connected(shell: ShellSession, connection: str) -> str:
    """The WiFi device is connected with `connection`; else NetworkManager's reason."""
    wlan = device_of_type(shell, "wifi")
    if wlan.connected and wlan.connection == connection:
        return wlan.device
    # ask NetworkManager why: activating again reports the reason of the failure
    r = connection_up(shell, connection)
    raise AssertionError(
        f"{wlan.device} is {wlan.state} with {wlan.connection or 'no connection'}, "
        f"not with {connection!r}: {r.output.strip()}"
    )


def assert_dhcp_address(shell: ShellSession, ifname: str) -> None:
    addrs = links(shell)[ifname].ipv4()
    assert addrs, f"{ifname} has no IPv4 address"
    assert any(a.dynamic for a in addrs), f"{ifname}: {addrs} is not a DHCP lease"


def assert_on_the_right_ap(shell: ShellSession, ifname: str, net: WifiConfig) -> None:
    """SSID, BSSID and frequency: what the radio is associated with, as iw and
    NetworkManager's scan see it (and the lab config, when it names them)."""
    link = iw_link(shell, ifname)
    assert link.connected, f"{ifname}: iw says not associated"
    assert link.ssid == net.ssid, f"{ifname}: associated with {link.ssid!r}, not {net.ssid!r}"
    r = read(
        shell,
        f"{NMCLI} -f IN-USE,BSSID,SSID,CHAN,SIGNAL,SECURITY device wifi list ifname {ifname}",
        timeout=15,
    )
    in_use = [n for n in parse_wifi_list(r.output) if n.in_use]
    if not net.hidden:
        assert in_use, f"NetworkManager's scan has no network in use: {r.output}"
        assert in_use[0].bssid.upper() == link.bssid, (
            f"BSSID: iw {link.bssid}, NetworkManager {in_use[0].bssid}"
        )
        assert frequency(in_use[0].chan) == link.mhz, (
            f"frequency: iw {link.mhz} MHz, NetworkManager channel {in_use[0].chan}"
        )
    if net.bssid:
        assert link.bssid == net.bssid, f"BSSID {link.bssid}, the lab's AP is {net.bssid}"
    if net.channel:
        assert link.mhz == frequency(net.channel), (
            f"{link.mhz} MHz, the lab's AP is on channel {net.channel}"
        )


def resin_wifi(net: WifiConfig, **kw) -> BootCase:
    """The doc's `resin-wifi` file (hidden=true as in the doc) for a lab network."""
    return BootCase().connection(
        "resin-wifi", wifi(net.ssid, net.psk, id="balena-wifi", hidden=True, **kw)
    )


# -- WPA-PSK, hidden, open -----------------------------------------------------------


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "wrong-psk", "dhcp-timeout", "reboot-ignored")
def test_wpa_psk_connects(board: Board, shell: ShellSession, psk_net: str) -> None:
    """The doc's resin-wifi: connects, gets a DHCP address, on the right SSID/BSSID/frequency."""
    net = network(board, psk_net, "psk")
    with applied(board, shell, resin_wifi(net)):
        ifname = assert_connected(shell, "balena-wifi")
        assert_dhcp_address(shell, ifname)
        assert_on_the_right_ap(shell, ifname, net)


@pytest.mark.needs("wifi")
@pytest.mark.faults(
    "ap-down", "wrong-psk", "hidden-ssid-not-broadcast", "dhcp-timeout", "reboot-ignored"
)
def test_hidden_network_connects(board: Board, shell: ShellSession, hidden_net: str) -> None:
    """`hidden=true`: the network connects although its SSID is not broadcast."""
    net = network(board, hidden_net, "hidden")
    with applied(board, shell, resin_wifi(net)):
        r = read(shell, f"{NMCLI} -f IN-USE,BSSID,SSID,CHAN,SIGNAL,SECURITY device wifi list", 15)
        if broadcast(parse_wifi_list(r.output), net.ssid):
            pytest.skip(f"{net.ssid} is broadcast: the lab config calls it hidden, the AP is not")
        ifname = assert_connected(shell, "balena-wifi")
        assert_dhcp_address(shell, ifname)
        assert_on_the_right_ap(shell, ifname, net)


def broadcast(scan: list[WifiNetwork], ssid: str) -> bool:
    """Whether the AP of `ssid` names it in its beacons. A board that probed for a hidden
    network (NetworkManager does, for `hidden=true`) lists its probe response under the
    SSID too, beside the beacon's entry without one for the same BSSID."""
    named = {n.bssid for n in scan if n.ssid == ssid}
    unnamed = {n.bssid for n in scan if n.ssid in ("", "--")}
    return bool(named) and not named & unnamed


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "dhcp-timeout", "reboot-ignored")
def test_open_network_connects(board: Board, shell: ShellSession, open_net: str) -> None:
    """An unsecured network: the doc's file without its [wifi-security] section."""
    net = network(board, open_net, "open")
    case = BootCase().connection("open-wifi", wifi(net.ssid, None, id="open-wifi"))
    assert "[wifi-security]" not in case.connections["open-wifi"]
    with applied(board, shell, case):
        ifname = assert_connected(shell, "open-wifi")
        assert_dhcp_address(shell, ifname)
        assert_on_the_right_ap(shell, ifname, net)


# -- WPA2-Enterprise ---------------------------------------------------------------


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "enterprise-auth-fails", "dhcp-timeout", "reboot-ignored")
def test_enterprise_peap_mschapv2_connects(board: Board, shell: ShellSession, eap_net: str) -> None:
    """The doc's WPA2-Enterprise example: PEAP with MSCHAPv2 inside."""
    net = network(board, eap_net, "eap")
    keyfile = wpa2_enterprise(
        net.ssid, net.identity or "", net.password or "", eap=net.eap or "peap",
        phase2_auth=net.phase2_auth or "mschapv2",
    )  # fmt: skip
    with applied(board, shell, BootCase().connection("balena-wifi", keyfile)):
        ifname = assert_connected(shell, "balena-wifi")
        assert_dhcp_address(shell, ifname)
        assert_on_the_right_ap(shell, ifname, net)


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "reboot-ignored")
def test_enterprise_wrong_secret_is_refused_with_supplicant_reason(
    board: Board, shell: ShellSession, eap_net: str
) -> None:
    """A wrong password: the connection fails, and NetworkManager says the supplicant refused."""
    net = network(board, eap_net, "eap")
    keyfile = wpa2_enterprise(
        net.ssid, net.identity or "", a_wrong_password(net.password), eap=net.eap or "peap",
        phase2_auth=net.phase2_auth or "mschapv2",
    )  # fmt: skip
    with applied(board, shell, BootCase().connection("balena-wifi", keyfile)):
        assert_refused_by_the_supplicant(shell, "balena-wifi")


def assert_refused_by_the_supplicant(shell: ShellSession, connection: str) -> None:
    wlan = device_of_type(shell, "wifi")
    assert not (wlan.connected and wlan.connection == connection), "connected with a wrong password"
    r = connection_up(shell, connection)
    assert r.exit_code != 0, "connection up succeeded with a wrong password"
    assert any(reason in r.output for reason in AUTH_FAILURES), (
        f"not the supplicant's refusal: {r.output.strip()}"
    )


@pytest.mark.needs("wifi")
@pytest.mark.faults(
    "ap-down", "enterprise-auth-fails", "ca-cert-mismatch", "dhcp-timeout", "reboot-ignored"
)
def test_eduroam_with_ca_cert_connects(
    board: Board, shell: ShellSession, eduroam_net: str, pytestconfig: pytest.Config
) -> None:
    """The doc's eduroam example: PEAP/MSCHAPv2 checking the server against `ca-cert`."""
    net = network(board, eduroam_net, "eduroam")
    with applied(board, shell, eduroam_case(net, net.password or "", pytestconfig)):
        ifname = assert_connected(shell, "eduroam")
        assert_dhcp_address(shell, ifname)
        ca_path = f"{CA_DIR}/{net.name}-ca.pem"
        assert connection_show(shell, "eduroam").get("802-1x.ca-cert", "").endswith(ca_path)


def eduroam_case(net: WifiConfig, password: str, pytestconfig: pytest.Config) -> BootCase:
    """The doc's eduroam file for a lab network, and its RADIUS CA in the boot partition."""
    ca_path = f"{CA_DIR}/{net.name}-ca.pem"
    keyfile = wpa2_enterprise(
        net.ssid, net.identity or "", password, id="eduroam", ca_cert=f"/mnt/boot/{ca_path}"
    )
    case = BootCase().connection("eduroam", keyfile)
    case.files[ca_path] = ca_cert_text(pytestconfig.getoption("--lab"), net)
    return case


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "reboot-ignored")
def test_eduroam_wrong_secret_is_refused_with_supplicant_reason(
    board: Board, shell: ShellSession, eduroam_net: str, pytestconfig: pytest.Config
) -> None:
    """The eduroam file with the right CA and a wrong password: the server is trusted,
    the credentials are not — the supplicant refuses."""
    net = network(board, eduroam_net, "eduroam")
    case = eduroam_case(net, a_wrong_password(net.password), pytestconfig)
    with applied(board, shell, case):
        assert_refused_by_the_supplicant(shell, "eduroam")


# -- priorities and routes -----------------------------------------------------------


@pytest.mark.needs("wifi")
@pytest.mark.faults("ap-down", "preferred-ap-down", "wrong-psk", "dhcp-timeout", "reboot-ignored")
def test_priority_failover(board: Board, shell: ShellSession) -> None:
    """Two networks with `autoconnect-priority`: the higher wins; when its AP goes
    away, the lower one takes over."""
    pair = sorted(networks(board, "failover"), key=lambda w: -(w.priority or 0))
    if len(pair) < 2:
        pytest.skip(f"{board.name}: lab config gives this board no two networks with a priority")
    case = BootCase()
    for w in pair:
        case.connection(
            f"wifi-{w.name}", wifi(w.ssid, w.psk, id=f"wifi-{w.name}", priority=w.priority)
        )
    preferred, backup = pair[0], pair[1]
    with applied(board, shell, case):
        ifname = assert_connected(shell, f"wifi-{preferred.name}")
        with board.lab.fault("preferred-ap-down"):
            took_over = wait_for_connection(shell, f"wifi-{backup.name}", seconds=120)
            assert took_over, (
                f"{backup.ssid} did not take over when {preferred.ssid} went away: "
                f"{device_of_type(shell, 'wifi')}"
            )
        assert_dhcp_address(shell, ifname)


def wait_for_connection(shell: ShellSession, connection: str, seconds: float) -> bool:
    """Poll (short interval, bounded) until the WiFi device is connected with `connection`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wlan = device_of_type(shell, "wifi")
        if wlan.connected and wlan.connection == connection:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.needs("wifi", "ethernet")
@pytest.mark.faults("ap-down", "wrong-psk", "dhcp-timeout", "dhcp-no-router", "reboot-ignored")
def test_wifi_is_default_route_when_ethernet_is_never_default(
    board: Board, shell: ShellSession, psk_net: str
) -> None:
    """The doc's my-ethernet (never-default, route-metric 2000) with resin-wifi:
    the default route goes via WiFi, ethernet keeps its address."""
    net = network(board, psk_net, "psk")
    case = resin_wifi(net).connection("my-ethernet", ethernet(never_default=True))
    with applied(board, shell, case):
        ifname = assert_connected(shell, "balena-wifi")
        eth = device_of_type(shell, "ethernet")
        table = routes(shell)
        best = default_route(table)
        assert best is not None, f"no default route at all: {table}"
        assert best.dev == ifname, f"the default route goes via {best.dev}, not {ifname}"
        assert not [r for r in table if r.default and r.dev == eth.device], (
            f"{eth.device} has a default route although never-default=true"
        )
        assert links(shell)[eth.device].ipv4(), f"{eth.device} lost its address"


@pytest.mark.needs("wifi")
@pytest.mark.faults(
    "ap-down", "wrong-psk", "static-ip-conflict", "resolvconf-not-updated", "reboot-ignored"
)
def test_static_ip_on_wifi(board: Board, shell: ShellSession, psk_net: str) -> None:
    """The doc's static WiFi example: address, gateway, routes and DNS exactly as the file says."""
    net = network(board, psk_net, "psk")
    address, gateway, dns = static_ip(net.static, "192.168.1.127/24")
    case = resin_wifi(net, static=StaticIP(address, gateway, dns))
    with applied(board, shell, case):
        ifname = assert_connected(shell, "balena-wifi")
        assert_static(shell, ifname, "balena-wifi", address, gateway, dns)
