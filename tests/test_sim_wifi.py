"""The sim's WiFi side: regulatory domains from the real wireless-regdb, `iw`,
channels 12/13 by country, hotspot with a simulated station, the WiFi faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hil.board.wifi_client import HostWifiClient
from hil.lab import load_lab
from hil.lab.loader import ConfigError
from hil.netconfig.builders import hotspot, wifi, wpa2_enterprise
from hil.probes.ip import default_route, parse_addr, parse_route
from hil.probes.iw import global_domain, parse_channels, parse_iw_dev, parse_iw_link
from hil.probes.nmcli import parse_device_status
from hil.sim import regdb
from hil.sim.shell import Shell
from hil.sim.wifi import air_of
from hil.sim.world import BOOT, World
from tests.conftest import SIM_LAB

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class SimBoard:
    """A sim world and a shell on it, in process."""

    def __init__(self, name: str = "pi4-a", faults: tuple[str, ...] = ()) -> None:
        lab = load_lab(SIM_LAB, env={})
        self.world = World(lab.board(name))
        self.world.faults |= set(faults)
        self.world.boot()
        self.out = bytearray()
        self.shell = Shell(self.world, out=self.out.extend)
        self.shell.env["NO_COLOR"] = "1"

    def run(self, line: str) -> tuple[str, int]:
        self.out.clear()
        code = self.shell.run_line(line)
        return self.out.decode(), code

    def connection(self, name: str, text: str) -> None:
        self.world.fs.write(f"{BOOT}/system-connections/{name}", text, mode=0o600)

    def country(self, code: str) -> None:
        config = json.loads(self.world.fs.read_text(f"{BOOT}/config.json"))
        self.world.fs.write(f"{BOOT}/config.json", json.dumps({**config, "country": code}))

    def boot(self) -> None:
        self.world.boot()
        self.settle()

    def settle(self, world_seconds: float = 60) -> None:
        self.run(f"nm-online -s -q -t {int(world_seconds)}")

    def wlan(self):
        out, _ = self.run("nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device")
        return next(d for d in parse_device_status(out) if d.type == "wifi")


# -- the regulatory database ---------------------------------------------------


def test_regdb_reads_the_installed_database_as_the_kernel_does() -> None:
    db = regdb.load()
    assert {"00", "GB", "US", "DE", "JP"} <= set(db)
    gb, us = db["GB"], db["US"]
    assert gb.dfs_name == "DFS-ETSI" and us.dfs_name == "DFS-FCC"
    assert gb.rule_for(2472) is not None, "GB allows channel 13"
    assert us.rule_for(2472) is None and us.rule_for(2467) is None, "US stops at channel 11"
    assert us.rule_for(2462) is not None


def test_world_domain_renders_as_iw_prints_it() -> None:
    """Every rule line of a real `iw reg get` capture of the world domain appears,
    byte for byte, in ours (newer regdbs add an S1G rule, which we print too)."""
    ours = regdb.render_reg_get(regdb.load()["00"]).splitlines()
    captured = (FIXTURES / "iw/reg-get.world.txt").read_text().split("\n\n")[0].splitlines()
    assert ours[:2] == captured[:2] == ["global", "country 00: DFS-UNSET"]
    missing = [line for line in captured[2:] if line not in ours]
    assert not missing, missing


def test_regdb_rejects_what_is_not_a_regulatory_db() -> None:
    with pytest.raises(regdb.RegdbError, match="expected RGDB v20"):
        regdb.parse(b"XXXX\0\0\0\x14" + b"\0" * 8)


# -- country from config.json ---------------------------------------------------


@pytest.mark.parametrize(
    ("country", "ch12", "ch13"), [("GB", "usable", "usable"), ("US", "disabled", "disabled")]
)
def test_country_sets_the_domain_and_channels_12_13(country: str, ch12: str, ch13: str) -> None:
    b = SimBoard("pi3-b")
    out, _ = b.run("iw reg get")
    assert global_domain(out).country == "00", "no country before config.json says one"
    b.country(country)
    b.boot()
    out, code = b.run("iw reg get")
    assert code == 0 and global_domain(out).country == country
    chans = parse_channels(b.run("iw list")[0])
    got = ["usable" if chans[c].usable else "disabled" for c in (12, 13)]
    assert got == [ch12, ch13]


def test_world_domain_makes_12_13_passive() -> None:
    chans = parse_channels(SimBoard("pi3-b").run("iw list")[0])
    assert chans[13].usable and chans[13].no_ir and not chans[11].no_ir


def test_iw_list_has_6ghz_whose_channel_numbers_repeat_2_4ghz_ones() -> None:
    """As a 6.1 kernel's radio lists it (fixtures/iw/list-frequencies-hwsim-us.txt):
    with US, 2.4 GHz's channel 13 is disabled and 6 GHz's channel 13 is not."""
    b = SimBoard("pi3-b")
    b.country("US")
    b.boot()
    out = b.run("iw list")[0]
    assert "\t\t\t* 6015 MHz [13] " in out, out
    assert parse_channels(out)[13].disabled
    assert parse_channels(out, band="6")[13].usable


def test_regdomain_unset_fault_keeps_the_world_domain() -> None:
    b = SimBoard("pi3-b", faults=("regdomain-unset",))
    b.country("GB")
    b.boot()
    assert global_domain(b.run("iw reg get")[0]).country == "00"


def test_an_unknown_country_leaves_the_world_domain() -> None:
    b = SimBoard("pi3-b")
    b.country("XX")
    b.boot()
    assert global_domain(b.run("iw reg get")[0]).country == "00"


@pytest.mark.parametrize(("country", "joins"), [("GB", True), ("US", False)])
def test_channel_13_ap_is_joinable_with_gb_not_us(country: str, joins: bool) -> None:
    b = SimBoard("pi3-b")
    b.country(country)
    b.connection("resin-wifi", wifi("hil-gb13", "hil-gb13-passphrase", id="gb13").dump())
    b.boot()
    wlan = b.wlan()
    assert (wlan.connected and wlan.connection == "gb13") is joins
    out, code = b.run("nmcli --colors no connection up gb13")
    if joins:
        assert code == 0
        link = parse_iw_link(b.run("iw dev wlan0 link")[0])
        assert (link.ssid, link.mhz) == ("hil-gb13", 2472.0)
    else:
        assert code == 4 and "could not be found" in out
        assert "hil-gb13" not in b.run("nmcli -t -f SSID device wifi list")[0]


# -- iw dev / link -----------------------------------------------------------------


def test_iw_dev_and_link_follow_the_association() -> None:
    b = SimBoard()
    assert parse_iw_dev(b.run("iw dev")[0])["wlan0"].type == "managed"
    assert not parse_iw_link(b.run("iw dev wlan0 link")[0]).connected
    b.connection("w", wifi("hil-lab", "hil-lab-passphrase", id="w").dump())
    b.boot()
    iface = parse_iw_dev(b.run("iw dev")[0])["wlan0"]
    assert (iface.ssid, iface.channel, iface.mhz) == ("hil-lab", 6, 2437.0)
    link = parse_iw_link(b.run("iw wlan0 link")[0])
    assert link.bssid == "02:00:5E:10:00:06"
    out, code = b.run("iw dev wlan9 link")
    assert code != 0 and "No such device" in out


# -- hotspot ------------------------------------------------------------------------


def hotspot_board(*faults: str) -> SimBoard:
    b = SimBoard(faults=faults)
    b.connection("balena-hotspot", hotspot("hil-hotspot-pi4", "hil-hotspot-pass").dump())
    b.boot()
    out, code = b.run("nmcli --colors no connection up balena-hotspot")
    assert code == 0, out
    return b


def test_hotspot_station_gets_a_lease_from_the_shared_range() -> None:
    b = hotspot_board()
    iface = parse_iw_dev(b.run("iw dev")[0])["wlan0"]
    assert (iface.type, iface.ssid, iface.channel) == ("AP", "hil-hotspot-pi4", 1)
    assert [a.cidr for a in parse_addr(b.run("ip -j addr")[0])["wlan0"].ipv4()] == ["10.42.0.1/24"]
    station = air_of(b.world).client
    refused = station.join(b.world, "hil-hotspot-pi4", "not-the-passphrase")
    assert not refused.associated and "4-way handshake" in refused.reason
    joined = station.join(b.world, "hil-hotspot-pi4", "hil-hotspot-pass")
    assert joined.associated and joined.reached_board and joined.gateway == "10.42.0.1"
    assert joined.address and joined.address.startswith("10.42.0.")
    ip = joined.address.split("/")[0]
    assert ip in b.run("cat /var/lib/NetworkManager/dnsmasq-wlan0.leases")[0]
    assert station.mac in b.run("iw dev wlan0 station dump")[0]


def test_hotspot_dhcp_fault_associates_without_a_lease() -> None:
    b = hotspot_board("hotspot-dhcp-fails")
    joined = air_of(b.world).client.join(b.world, "hil-hotspot-pi4", "hil-hotspot-pass")
    assert joined.associated and joined.address is None and "DHCPOFFER" in joined.reason


def test_no_hotspot_no_station() -> None:
    b = SimBoard()
    joined = air_of(b.world).client.join(b.world, "hil-hotspot-pi4", "hil-hotspot-pass")
    assert not joined.associated and "no access point" in joined.reason


# -- faults and the enterprise CA -------------------------------------------------------


def test_preferred_ap_down_takes_only_the_preferred_network_away() -> None:
    b = SimBoard()
    for name, ssid, psk, prio in (
        ("hi", "hil-prio-hi", "hil-prio-hi-pass", 20),
        ("lo", "hil-prio-lo", "hil-prio-lo-pass", 10),
    ):
        b.connection(name, wifi(ssid, psk, id=name, priority=prio).dump())
    b.boot()
    assert b.wlan().connection == "hi"
    b.world.set_fault("preferred-ap-down", True)
    deadline = time.monotonic() + 5
    while not (b.wlan().connected and b.wlan().connection == "lo"):
        assert time.monotonic() < deadline, f"the backup did not take over: {b.wlan()}"
        time.sleep(0.05)
    assert b.wlan().connected and b.wlan().connection == "lo"
    ssids = b.run("nmcli -t -f SSID device wifi list")[0].split()
    assert "hil-prio-hi" not in ssids and "hil-lab" in ssids


@pytest.mark.parametrize(
    ("ca", "fault", "connects"),
    [
        ("hil-lab-ca.pem", None, True),
        ("other-ca.pem", None, False),
        ("hil-lab-ca.pem", "ca-cert-mismatch", False),
        (None, "ca-cert-mismatch", True),  # no ca-cert: nothing is checked
    ],
)
def test_eduroam_ca_cert(ca: str | None, fault: str | None, connects: bool) -> None:
    b = SimBoard(faults=(fault,) if fault else ())
    ca_path = None
    if ca:
        ca_path = f"{BOOT}/hil-certs/ca.pem"
        b.world.fs.write(ca_path, (FIXTURES / "wifi" / ca).read_text())
    kf = wpa2_enterprise(
        "hil-eduroam", "hil-user@hil.example", "hil-eduroam-pass", id="eduroam", ca_cert=ca_path
    )
    b.connection("eduroam", kf.dump())
    b.boot()
    wlan = b.wlan()
    assert (wlan.connected and wlan.connection == "eduroam") is connects
    if not connects:
        out, code = b.run("nmcli --colors no connection up eduroam")
        assert code == 4 and "802.1X supplicant failed" in out


def test_static_ip_conflict_fails_activation_with_nms_reason() -> None:
    b = SimBoard(faults=("static-ip-conflict",))
    from hil.netconfig.builders import StaticIP, ethernet

    kf = ethernet(static=StaticIP("192.168.1.111/24", "192.168.1.1", ["8.8.8.8"]))
    b.connection("my-ethernet", kf.dump())
    b.boot()
    out, code = b.run("nmcli --colors no connection up my-ethernet")
    assert code == 4 and "IP configuration could not be reserved" in out


def test_dhcp_no_router_gives_wifi_no_default_route() -> None:
    b = SimBoard(faults=("dhcp-no-router",))
    b.connection("w", wifi("hil-lab", "hil-lab-passphrase", id="w").dump())
    b.boot()
    assert b.wlan().connected
    assert parse_addr(b.run("ip -j addr")[0])["wlan0"].ipv4()
    routes = parse_route(b.run("ip -j route")[0])
    assert not [r for r in routes if r.default and r.dev == "wlan0"]
    best = default_route(routes)
    assert best is not None and best.dev == "eth0", "ethernet keeps the default route"


# -- the lab host's WiFi client ------------------------------------------------------------


class FakeHost:
    """Records commands instead of running them on the lab host."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.passwd: str = ""

    def __call__(self, argv, **kw):
        import subprocess

        self.calls.append(argv)
        if "passwd-file" in argv:
            self.passwd = Path(argv[argv.index("passwd-file") + 1]).read_text()
        out = ""
        if argv[:2] == ["ip", "-j"]:
            out = json.dumps(
                [
                    {
                        "ifname": "wlan1",
                        "addr_info": [{"family": "inet", "local": "10.42.0.77", "prefixlen": 24}],
                    }
                ]
            )
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_host_client_keeps_the_psk_off_the_command_line() -> None:
    host = FakeHost()
    result = HostWifiClient("wlan1", run=host).join("hil-hotspot", "s3cret-psk!", timeout=30)
    assert result.associated and result.address == "10.42.0.77/24" and result.reached_board
    assert all("s3cret-psk!" not in arg for argv in host.calls for arg in argv)
    assert host.passwd == "802-11-wireless-security.psk:s3cret-psk!\n"
    assert ["ping", "-c", "1", "-W", "3", "-I", "wlan1", "10.42.0.1"] in host.calls
    assert host.calls[-1][-3:] == ["connection", "delete", "hil-hotspot-client"]


# -- lab config ----------------------------------------------------------------------


def test_lab_config_rejects_a_bad_bssid(tmp_path: Path) -> None:
    base = (SIM_LAB).read_text()
    bad = base.replace(
        'bssid: "02:00:5E:10:00:06", channel: 6}', 'bssid: "02:00:5E", channel: 6}', 1
    )
    path = tmp_path / "lab.yaml"
    path.write_text(bad)
    with pytest.raises(
        ConfigError, match=r"pi4-a\)\.wifi\[0\] \(lab-wpa2\)\.bssid: expected a MAC"
    ):
        load_lab(path, env={})
