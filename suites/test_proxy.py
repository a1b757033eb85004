"""Connecting behind a proxy (networking doc, "Connecting Behind a Proxy"):
`system-proxy/redsocks.conf` (+ `no_proxy`) in the boot partition → the proxy
service runs and TCP goes through the lab's proxy (its log shows it), except
to destinations in `no_proxy`; a broken redsocks.conf is reported with the
reason and does not cut the device off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from _net import curl, lookup, put_boot_file, read, remove_boot_file, sh, wait_network

from hil.board import Board
from hil.console import ShellSession
from hil.lab.models import LabProxy

APPLY = "systemctl restart balena-proxy-config redsocks"


def redsocks_conf(proxy: LabProxy) -> str:
    """The doc's redsocks.conf, pointed at the lab's proxy."""
    credentials = ""
    if proxy.login:
        credentials = f'login = "{proxy.login}";\npassword = "{proxy.password or ""}";\n'
    return (
        'base {\nlog_debug = off;\nlog_info = on;\nlog = "syslog:local7";\n'
        "daemon = off;\nredirector = iptables;\n}\n\n"
        f"redsocks {{\ntype = {proxy.type};\nip = {proxy.ip};\nport = {proxy.port};\n"
        f"{credentials}local_ip = 127.0.0.1;\nlocal_port = 12345;\n}}\n"
    )


@contextlib.contextmanager
def proxy_files(shell: ShellSession, conf: str, no_proxy: str | None = None) -> Iterator[None]:
    """The proxy files in the boot partition for the block, applied; removed after."""
    put_boot_file(shell, "system-proxy/redsocks.conf", conf)
    if no_proxy is not None:
        put_boot_file(shell, "system-proxy/no_proxy", no_proxy)
    shell.run(APPLY, timeout=30)
    try:
        yield
    finally:
        remove_boot_file(shell, "system-proxy/redsocks.conf")
        remove_boot_file(shell, "system-proxy/no_proxy")
        shell.run(APPLY, timeout=30)


def destination(board: Board, shell: ShellSession) -> str:
    """The address of the lab's HTTPS destination, as the board resolves it."""
    host = urlsplit(board.network.https_url).hostname or ""
    result = lookup(shell, host)
    assert result.ok, f"{host} does not resolve on the board: {result.error}"
    return result.addresses[0]


@pytest.mark.needs("proxy")
@pytest.mark.faults("proxy-down", "dns-blocked", "dhcp-timeout")
def test_traffic_goes_through_the_proxy(board: Board, shell: ShellSession) -> None:
    """With redsocks.conf, redsocks runs and HTTPS to the lab's destination goes
    through the lab's proxy."""
    proxy = board.network.proxy
    assert proxy is not None
    wait_network(shell)
    address = destination(board, shell)
    log = board.proxy_log()
    with proxy_files(shell, redsocks_conf(proxy)):
        state = shell.run("systemctl is-active redsocks", timeout=20).output.strip()
        assert state == "active", f"redsocks is {state}: {sh(shell, 'journalctl -u redsocks -n 5')}"
        rules = read(shell, "iptables -t nat -S REDSOCKS")
        assert "DNAT" in rules, f"no redirect to redsocks in the nat table:\n{rules}"
        mark = log.mark()
        result = curl(shell, board.network.https_url)
        assert result.connected, f"through the proxy: curl exit {result.exit_code}: {result.error}"
        relayed = [c for c in log.since(mark) if c.host == address and c.port == 443]
        assert relayed, f"the lab's proxy relayed no connection to {address}:443"


@pytest.mark.needs("proxy")
@pytest.mark.faults("port-443-blocked", "dns-blocked", "dhcp-timeout")
def test_no_proxy_destination_bypasses_the_proxy(board: Board, shell: ShellSession) -> None:
    """A destination listed in `no_proxy` is reached directly, not through the proxy."""
    proxy = board.network.proxy
    assert proxy is not None
    wait_network(shell)
    address = destination(board, shell)
    log = board.proxy_log()
    with proxy_files(shell, redsocks_conf(proxy), no_proxy=f"{address}/32\n"):
        rules = read(shell, "iptables -t nat -S REDSOCKS")
        assert f"-d {address}/32 -j RETURN" in rules, f"no_proxy not in the chain:\n{rules}"
        mark = log.mark()
        result = curl(shell, board.network.https_url)
        assert result.connected, (
            f"direct to {address}: curl exit {result.exit_code}: {result.error}"
        )
        relayed = [c for c in log.since(mark) if c.host == address]
        assert not relayed, f"{address} is in no_proxy but went through the proxy: {relayed}"


@pytest.mark.needs("proxy")
@pytest.mark.faults("port-443-blocked", "dns-blocked", "dhcp-timeout")
def test_broken_redsocks_conf_is_reported(board: Board, shell: ShellSession) -> None:
    """A redsocks.conf redsocks cannot parse: the service fails with the line and
    the reason in its journal, and the device keeps its direct connectivity."""
    proxy = board.network.proxy
    assert proxy is not None
    wait_network(shell)
    broken = redsocks_conf(proxy).replace(f"port = {proxy.port};", f"port = {proxy.port}")
    log = board.proxy_log()
    with proxy_files(shell, broken):
        state = shell.run("systemctl is-active redsocks", timeout=20).output.strip()
        assert state == "failed", f"redsocks is {state!r} with a broken redsocks.conf"
        journal = read(shell, "journalctl -u redsocks -b --no-pager -n 20")
        assert "file parsing error at line" in journal, f"no parse error reported:\n{journal}"
        mark = log.mark()
        result = curl(shell, board.network.https_url)
        assert result.connected, (
            f"no direct connection with redsocks down: curl exit {result.exit_code}: {result.error}"
        )
        assert not log.since(mark), "traffic went to the proxy though redsocks is not running"
