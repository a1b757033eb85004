"""Network requirements (networking doc, "Network Requirements"): outbound TCP
443, NTP on UDP 123 against the configured pools, DNS on UDP 53 with 8.8.8.8
by default, the config.json `dnsServers`/`ntpServers` overrides, and DHCP's
DNS servers used in addition to the defaults."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from _net import config_json, curl, lookup, read, sh, wait_network

from hil.board import Board
from hil.console import ShellSession
from hil.probes.chronyc import parse_sources_csv, parse_timedatectl_show, parse_tracking_csv
from hil.probes.nmcli import parse_device_status, parse_terse_show
from hil.probes.resolver import parse_resolv_conf, parse_servers_file

DEFAULT_POOLS = [f"{n}.resinio.pool.ntp.org" for n in range(4)]
NMCLI = "nmcli --colors no -t"


def wait_sync(shell: ShellSession, tries: int = 30) -> bool:
    """chronyc's own wait: up to `tries` checks 2 s apart (bounded)."""
    r = shell.run(f"chronyc waitsync {tries} 0 0 2", timeout=tries * 2 + 30)
    return r.exit_code == 0


@pytest.mark.faults("port-443-blocked", "dns-blocked", "dhcp-timeout")
def test_outbound_tcp_443(board: Board, shell: ShellSession) -> None:
    """The most fundamental requirement: an HTTPS endpoint answers over TCP 443."""
    wait_network(shell)
    url = board.network.https_url
    result = curl(shell, url)
    assert result.connected, f"{url}: curl exit {result.exit_code}: {result.error}"
    assert result.remote_port == 443, f"{url}: connected to port {result.remote_port}"


@pytest.mark.faults("ntp-blocked", "dns-blocked", "dhcp-timeout")
def test_clock_syncs_with_default_pools(shell: ShellSession) -> None:
    """Without ntpServers, chrony uses 0-3.resinio.pool.ntp.org and the clock syncs."""
    wait_network(shell)
    synced = wait_sync(shell)
    sources = parse_sources_csv(read(shell, "chronyc -c -N sources"))
    names = [s.name for s in sources]
    assert names, "chrony has no usable source (none of the default pools resolved)"
    assert set(names) <= set(DEFAULT_POOLS), f"chrony's sources are {names}, not the pools"
    tracking = parse_tracking_csv(sh(shell, "chronyc -c tracking"))
    assert synced and tracking.synchronised, (
        f"clock not synchronised: leap status {tracking.leap_status!r}, "
        f"reachable sources: {[s.name for s in sources if s.reachable] or 'none'}"
    )
    show = parse_timedatectl_show(read(shell, "timedatectl show"))
    assert show.get("NTPSynchronized") == "yes", f"timedatectl: {show}"


@pytest.mark.needs("ntp-servers")
@pytest.mark.faults("ntp-blocked", "dhcp-timeout")
def test_clock_syncs_with_config_json_ntp_servers(board: Board, shell: ShellSession) -> None:
    """config.json `ntpServers` (space separated) replaces the default pools."""
    wait_network(shell)
    servers = board.network.ntp_servers
    with config_json(shell, {"ntpServers": " ".join(servers)}):
        sources = parse_sources_csv(read(shell, "chronyc -c -N sources"))
        assert sorted(s.name for s in sources) == sorted(servers), (
            f"chrony's sources are {[s.name for s in sources]}, config.json says {servers}"
        )
        assert wait_sync(shell), "clock not synchronised with the config.json ntpServers"
        tracking = parse_tracking_csv(sh(shell, "chronyc -c tracking"))
        assert tracking.synchronised, f"leap status {tracking.leap_status!r}"


@pytest.mark.faults("dns-blocked", "dhcp-timeout")
def test_dns_default_resolver_is_google(board: Board, shell: ShellSession) -> None:
    """Without dnsServers, dnsmasq's upstream list is 8.8.8.8, and names resolve."""
    wait_network(shell)
    servers = parse_servers_file(read(shell, "cat /run/dnsmasq.servers"))
    assert servers == ["8.8.8.8"], f"/run/dnsmasq.servers lists {servers}, expected 8.8.8.8"
    assert parse_resolv_conf(read(shell, "cat /etc/resolv.conf")) == ["127.0.0.2"]
    result = lookup(shell, board.network.lookup_name)
    assert result.ok, f"{board.network.lookup_name} does not resolve: {result.error}"


@pytest.mark.needs("dns-servers")
@pytest.mark.faults("dns-blocked", "dhcp-timeout")
def test_dns_servers_from_config_json(board: Board, shell: ShellSession) -> None:
    """config.json `dnsServers` (space separated) replaces 8.8.8.8; each answers."""
    wait_network(shell)
    wanted = board.network.dns_servers
    with config_json(shell, {"dnsServers": " ".join(wanted)}):
        servers = parse_servers_file(read(shell, "cat /run/dnsmasq.servers"))
        assert servers == wanted, f"/run/dnsmasq.servers lists {servers}, config.json {wanted}"
        for server in wanted:
            result = lookup(shell, board.network.lookup_name, server)
            assert result.ok, f"DNS server {server} does not answer: {result.error}"
        result = lookup(shell, board.network.lookup_name)
        assert result.ok, f"the board's resolver fails: {result.error}"


@pytest.mark.faults("dns-blocked", "dhcp-timeout", "resolvconf-not-updated")
def test_dns_servers_null_leaves_only_dhcp(board: Board, shell: ShellSession) -> None:
    """`"dnsServers": "null"` removes 8.8.8.8; names still resolve through DHCP's servers."""
    wait_network(shell)
    with config_json(shell, {"dnsServers": "null"}):
        servers = parse_servers_file(read(shell, "cat /run/dnsmasq.servers"))
        assert servers == [], f"/run/dnsmasq.servers still lists {servers}"
        result = lookup(shell, board.network.lookup_name)
        assert result.ok, f"no resolution through the DHCP servers: {result.error}"
    restored = parse_servers_file(read(shell, "cat /run/dnsmasq.servers"))
    assert restored == ["8.8.8.8"], f"the default did not come back: {restored}"


@pytest.mark.faults("dhcp-timeout", "dns-blocked", "resolvconf-not-updated")
def test_dhcp_dns_servers_used_in_addition(board: Board, shell: ShellSession) -> None:
    """The DNS servers a DHCP lease brings are used in addition to 8.8.8.8."""
    wait_network(shell)
    devices = parse_device_status(read(shell, f"{NMCLI} -f DEVICE,TYPE,STATE,CONNECTION device"))
    eth = next((d for d in devices if d.type == "ethernet" and d.connected), None)
    assert eth is not None, "no ethernet device is connected (no DHCP lease)"
    show = parse_terse_show(read(shell, f"{NMCLI} device show {eth.device}"))
    dhcp_dns = [v for k, v in show.items() if k.startswith("IP4.DNS")]
    assert dhcp_dns, f"{eth.device}'s lease brought no DNS server"
    upstream = parse_resolv_conf(read(shell, "cat /etc/resolv.dnsmasq"))
    defaults = parse_servers_file(read(shell, "cat /run/dnsmasq.servers"))
    missing = [s for s in dhcp_dns if s not in upstream]
    assert not missing, f"DHCP's DNS {missing} is not among dnsmasq's upstreams {upstream}"
    assert defaults == ["8.8.8.8"], f"8.8.8.8 is not kept next to DHCP's: {defaults}"
    host = urlsplit(board.network.https_url).hostname or board.network.lookup_name
    for server in dhcp_dns:
        result = lookup(shell, host, server)
        assert result.ok, f"the DHCP DNS server {server} does not answer: {result.error}"
