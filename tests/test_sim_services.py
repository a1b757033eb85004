"""The simulated board's services: config.json → dnsmasq/chrony/NetworkManager,
the proxy path, the lab faults, busctl AddConnection, and redsocks.conf
parsing checked against the real redsocks (`redsocks -t`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from hil.lab import load_lab
from hil.sim.services.redsocks_conf import RedsocksConfError, parse_redsocks_conf
from hil.sim.shell import Shell
from hil.sim.world import World
from tests.conftest import SIM_LAB

DOC_CONF = """\
base {
log_debug = off;
log_info = on;
log = "syslog:local7";
daemon = off;
redirector = iptables;
}

redsocks {
type = socks5;
ip = 192.168.88.2;
port = 8123;
local_ip = 127.0.0.1;
local_port = 12345;
}
"""


def world(faults: tuple[str, ...] = ()) -> World:
    lab = load_lab(str(SIM_LAB))
    cfg = lab.boards[0].model_copy(
        update={"network": lab.network_of(lab.boards[0]), "faults": list(faults)}
    )
    w = World(cfg)
    w.boot()
    time.sleep(w.clock.real_seconds(12))
    return w


def run(w: World, line: str) -> tuple[int, str]:
    out = bytearray()
    status = Shell(w, out=out.extend).run_line(line)
    return status, out.decode()


def set_config(w: World, **keys: object) -> None:
    data = json.loads(w.fs.read_text("/mnt/boot/config.json"))
    data.update(keys)
    w.fs.write("/mnt/boot/.c.tmp", json.dumps(data))
    w.fs.rename("/mnt/boot/.c.tmp", "/mnt/boot/config.json")  # config-json.path fires


def test_dns_servers_from_config_json() -> None:
    w = world()
    assert w.fs.read_text("/run/dnsmasq.servers") == "\nserver=8.8.8.8\n"
    set_config(w, dnsServers="1.1.1.1 9.9.9.9")
    assert w.fs.read_text("/run/dnsmasq.servers") == "\nserver=1.1.1.1\nserver=9.9.9.9\n"
    set_config(w, dnsServers="null")  # the string switches the default off
    assert w.fs.read_text("/run/dnsmasq.servers") == "\n"
    set_config(w, dnsServers=None)  # JSON null: jq's `//` gives the default again
    assert w.fs.read_text("/run/dnsmasq.servers") == "\nserver=8.8.8.8\n"
    assert "nameserver 192.168.88.1" in w.fs.read_text("/etc/resolv.dnsmasq")  # DHCP's


def test_ntp_sources_and_faults() -> None:
    w = world()
    _status, out = run(w, "chronyc -c -N sources")
    assert [line.split(",")[2] for line in out.splitlines()] == [
        f"{n}.resinio.pool.ntp.org" for n in range(4)
    ]
    assert run(w, "timedatectl show -p NTPSynchronized --value")[1] == "yes\n"
    set_config(w, ntpServers="192.168.88.1")
    assert "pool 192.168.88.1 iburst" in w.fs.read_text("/run/chrony/added_config.sources")
    blocked = world(("ntp-blocked",))
    assert run(blocked, "chronyc waitsync 3 0 0 1")[0] == 1
    assert "Not synchronised" in run(blocked, "chronyc tracking")[1]
    no_dns = world(("dns-blocked",))
    assert run(no_dns, "chronyc -c sources")[1] == ""  # no pool name resolves


def test_curl_exit_codes_follow_the_faults() -> None:
    w = world()
    url = "https://api.balena-cloud.com/ping"
    assert run(w, f"curl -s -o /dev/null -w '%{{http_code}}' {url}") == (0, "200")
    assert run(world(("port-443-blocked",)), f"curl -s --max-time 5 {url}")[0] == 28
    assert run(world(("dns-blocked",)), f"curl -s {url}")[0] == 6
    assert run(w, "curl -s --interface wwan9 http://api.balena-cloud.com/")[0] == 45


def test_proxy_relays_logs_and_respects_no_proxy() -> None:
    w = world()
    services = w.subsystems["services"]
    w.fs.write("/mnt/boot/system-proxy/redsocks.conf", DOC_CONF)
    run(w, "systemctl restart balena-proxy-config redsocks")
    assert run(w, "systemctl is-active redsocks")[1] == "active\n"
    assert run(w, "curl -s -o /dev/null https://api.balena-cloud.com/ping")[0] == 0
    assert [(e.host, e.port) for e in services.lab.proxy_log] == [
        (services.lab.names["api.balena-cloud.com"], 443)
    ]
    address = services.lab.names["api.balena-cloud.com"]
    w.fs.write("/mnt/boot/system-proxy/no_proxy", f"{address}/32\n")
    run(w, "systemctl restart balena-proxy-config redsocks")
    assert f"-A REDSOCKS -d {address}/32 -j RETURN" in run(w, "iptables -t nat -S REDSOCKS")[1]
    run(w, "curl -s -o /dev/null https://api.balena-cloud.com/ping")
    assert len(services.lab.proxy_log) == 1  # went direct


def test_proxy_down_and_broken_conf() -> None:
    w = world(("proxy-down",))
    w.fs.write("/mnt/boot/system-proxy/redsocks.conf", DOC_CONF)
    run(w, "systemctl restart balena-proxy-config redsocks")
    assert run(w, "curl -s https://api.balena-cloud.com/ping")[0] == 35
    w = world()
    w.fs.write(
        "/mnt/boot/system-proxy/redsocks.conf", DOC_CONF.replace("port = 8123;", "port = 8123")
    )
    run(w, "systemctl restart balena-proxy-config redsocks")
    assert run(w, "systemctl is-active redsocks")[1] == "failed\n"
    assert "file parsing error at line 13" in run(w, "journalctl -u redsocks -o cat")[1]
    assert run(w, "curl -s -o /dev/null https://api.balena-cloud.com/ping")[0] == 0  # direct


def test_connectivity_states() -> None:
    w = world()
    assert run(w, "nmcli networking connectivity check")[1] == "full\n"
    set_config(
        w,
        os={
            "network": {
                "connectivity": {
                    "uri": "http://connectivity.hil.lab/check",
                    "interval": 30,
                    "response": "hil lab online",
                }
            }
        },
    )
    assert "interval=30" in run(w, "NetworkManager --print-config")[1]
    assert run(w, "nmcli networking connectivity check")[1] == "full\n"
    w.set_fault("connectivity-check-fails", True)
    assert run(w, "nmcli networking connectivity check")[1] == "portal\n"
    w.set_fault("dns-blocked", True)
    assert run(w, "nmcli networking connectivity check")[1] == "limited\n"
    set_config(
        w,
        os={
            "network": {"connectivity": {"uri": "http://connectivity.hil.lab/check", "interval": 0}}
        },
    )
    assert run(w, "nmcli networking connectivity check")[1] == "full\n"


def test_busctl_add_connection_saves_in_the_overlay_only() -> None:
    w = world()
    ssid = " ".join(str(b) for b in b"hil-lab")
    status, out = run(
        w,
        "busctl call org.freedesktop.NetworkManager /org/freedesktop/NetworkManager/Settings "
        "org.freedesktop.NetworkManager.Settings AddConnection 'a{sa{sv}}' 3 "
        "connection 2 id s dbus-net type s 802-11-wireless "
        f"802-11-wireless 2 ssid ay 7 {ssid} mode s infrastructure "
        "802-11-wireless-security 2 key-mgmt s wpa-psk psk s hil-lab-passphrase",
    )
    assert status == 0 and out.startswith('o "/org/freedesktop/NetworkManager/Settings/'), out
    assert w.fs.isfile("/etc/NetworkManager/system-connections/dbus-net.nmconnection")
    assert not any("dbus-net" in p for p in w.fs.files_under("/mnt/boot"))
    lost = world(("state-not-persistent",))
    lost.fs.write("/etc/NetworkManager/system-connections/x.nmconnection", "[connection]\n")
    lost.boot()
    assert not lost.fs.isfile("/etc/NetworkManager/system-connections/x.nmconnection")


CASES = {
    "doc": DOC_CONF,
    "missing-semicolon": DOC_CONF.replace("port = 8123;", "port = 8123"),
    "bad-type": DOC_CONF.replace("socks5", "socks6"),
    "unknown-key": DOC_CONF.replace("log_info", "log_inf"),
    "port-range": DOC_CONF.replace("8123", "70000"),
    "port-word": DOC_CONF.replace("port = 8123", "port = abc"),
    "bad-bool": DOC_CONF.replace("daemon = off", "daemon = maybe"),
    "unknown-section": DOC_CONF.replace("redsocks {", "redsock {"),
    "stray-semicolon": DOC_CONF.replace("}\n\nredsocks", "};\n\nredsocks"),
    "no-type": DOC_CONF.replace("type = socks5;\n", ""),
    "comments": "// a comment\nbase {\n log_info = on; /* inline */ daemon = off;\n"
    "/* two\n lines */ redirector = iptables;\n}\n",
    "unclosed": DOC_CONF.rstrip().rstrip("}"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_redsocks_conf_verdicts_match_the_real_redsocks(tmp_path: Path, name: str) -> None:
    """Valid or not, and the line of the first error, as `redsocks -t` says."""
    if shutil.which("redsocks") is None:
        pytest.fail("redsocks is not installed (scripts/setup.sh installs it)")
    conf = tmp_path / "redsocks.conf"
    conf.write_text(CASES[name])
    real = subprocess.run(["redsocks", "-t", "-c", str(conf)], capture_output=True, text=True)
    first = (real.stderr.splitlines() or [""])[0]
    try:
        parse_redsocks_conf(CASES[name])
        ours = ""
    except RedsocksConfError as e:
        ours = str(e)
    if real.returncode == 0 and not first:
        assert ours == "", f"redsocks accepts it, we say: {ours}"
    else:
        assert ours == first, f"redsocks: {first!r}, we: {ours!r}"
