"""Parsers of `iw` and `ip -j` output, on real captures (fixtures/iw, fixtures/ip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.probes.ip import default_route, parse_addr, parse_route
from hil.probes.iw import (
    frequency,
    global_domain,
    parse_channels,
    parse_iw_dev,
    parse_iw_link,
    parse_reg_get,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_reg_get_world_domain_and_a_self_managed_phy() -> None:
    blocks = parse_reg_get(fixture("iw/reg-get.world.txt"))
    assert [(b.scope, b.country) for b in blocks] == [("global", "00"), ("phy#0", "EU")]
    world = blocks[0]
    assert world.is_world and world.dfs_region == "DFS-UNSET"
    assert len(world.rules) == 8
    ch13 = [r for r in world.rules if r.covers(frequency(13))]
    assert ch13 and "PASSIVE-SCAN" in ch13[0].flags
    assert blocks[1].self_managed and "IR-CONCURRENT" in blocks[1].rules[3].flags
    assert global_domain(fixture("iw/reg-get.world.txt")).country == "00"


def test_reg_get_gb() -> None:
    gb = global_domain(fixture("iw/reg-get.gb.txt"))
    assert (gb.country, gb.dfs_region) == ("GB", "DFS-ETSI")
    first = gb.rules[0]
    assert (first.start_mhz, first.end_mhz, first.max_bw_mhz, first.max_eirp_dbm) == (
        2402,
        2482,
        40,
        20,
    )
    assert first.covers(frequency(13)) and not first.covers(frequency(14))
    assert gb.rules[2].flags == ("DFS", "AUTO-BW")


def test_reg_get_without_a_country_is_an_error() -> None:
    with pytest.raises(ValueError, match="no `country XX:` line"):
        parse_reg_get("command failed: No such file or directory (-2)\n")


def test_iw_list_channels() -> None:
    text = fixture("iw/list-frequencies.txt")
    chans = parse_channels(text)
    assert chans[11].usable and chans[11].max_dbm == 20.0
    assert chans[12].disabled and chans[13].disabled and chans[14].disabled
    five = parse_channels(text, band="5")
    assert five[36].no_ir and not five[36].radar
    assert five[52].no_ir and five[52].radar and five[52].max_dbm == 23.0
    assert five[40].mhz == frequency(40) == 5200.0
    assert 36 not in chans and 11 not in five


def test_iw_list_channel_numbers_repeat_across_bands() -> None:
    """A 6.1 kernel's mac80211_hwsim in the US domain lists 2.4, 5, 6 and 60 GHz and
    S1G: 2.4 GHz channels 12/13 are disabled while 6 GHz's channel 13 (6015 MHz) is
    not; the regulatory-domain suite asks about 2.4 GHz's."""
    text = fixture("iw/list-frequencies-hwsim-us.txt")
    chans = parse_channels(text)
    assert chans[12].disabled and chans[13].disabled and chans[13].mhz == 2472.0
    assert sorted(chans) == list(range(1, 15))
    six = parse_channels(text, band="6")
    assert six[13].mhz == 6015.0 and six[13].usable and six[13].no_ir
    assert parse_channels(text, band="5")[36].mhz == 5180.0


def test_iw_dev_ap_and_station() -> None:
    ifaces = parse_iw_dev(fixture("iw/dev.txt"))
    assert set(ifaces) == {"wlan0", "wlan1"}  # the P2P device has no netdev
    ap = ifaces["wlan0"]
    assert (ap.phy, ap.type, ap.ssid, ap.channel, ap.mhz) == ("phy#0", "AP", "OpenWrt", 1, 2412.0)
    assert ifaces["wlan1"].type == "managed" and ifaces["wlan1"].addr == "02:00:00:00:01:00"


def test_iw_link() -> None:
    link = parse_iw_link(fixture("iw/link.txt"))
    assert link.connected
    assert (link.bssid, link.ssid, link.mhz, link.signal_dbm) == (
        "80:2A:A8:5A:05:36",
        "ubnt-ms",
        2462.0,
        -58,
    )
    assert not parse_iw_link("Not connected.\n").connected


def test_ip_addr_and_route_from_iproute2() -> None:
    links = parse_addr(fixture("ip/addr.json"))
    eth, wlan = links["eth0"], links["wlan0"]
    assert [a.cidr for a in eth.ipv4()] == ["192.168.88.57/24"] and eth.ipv4()[0].dynamic
    assert [a.cidr for a in wlan.ipv4()] == ["192.168.1.127/24"] and not wlan.ipv4()[0].dynamic
    assert wlan.up and wlan.address == "dc:a6:32:01:02:04"
    routes = parse_route(fixture("ip/route.json"))
    best = default_route(routes)
    assert best is not None and (best.dev, best.gateway, best.metric) == (
        "wlan0",
        "192.168.1.1",
        600,
    )
    assert {r.metric for r in routes if r.dev == "eth0"} == {2000}
    (picked,) = parse_route(fixture("ip/route-get.json"))  # `ip -j route get ADDRESS`
    assert (picked.dst, picked.dev, picked.gateway) == ("1.1.1.1", "eth0", "192.0.2.1")


def test_ip_json_that_is_not_json_says_so() -> None:
    with pytest.raises(ValueError, match="ip -j route: not JSON"):
        parse_route('[{"dst":"default",')
