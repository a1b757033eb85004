"""The simulated NetworkManager: nmcli/ip formats, boot-time copy, activation, faults."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hil.lab import load_lab
from hil.probes.nmcli import parse_device_status, parse_terse, parse_terse_show, split_terse
from hil.sim.commands.nmcli import Opts, _table
from hil.sim.shell import Shell
from hil.sim.world import BOOT, OVERLAY_CONNECTIONS, World
from tests.conftest import SIM_LAB

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nmcli"

WIFI = """[connection]
id=balena-wifi
type=wifi

[wifi]
hidden=true
mode=infrastructure
ssid=hil-lab

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto

[wifi-security]
auth-alg=open
key-mgmt=wpa-psk
psk=hil-lab-passphrase
"""

ETH_NOT_DEFAULT = """[connection]
id=my-ethernet
type=ethernet
interface-name=eth0
permissions=
secondaries=

[ethernet]
mac-address-blacklist=

[ipv4]
never-default=true
route-metric=2000
dns-search=

ignore-auto-routes=true
method=auto

[ipv6]
addr-gen-mode=stable-privacy
dns-search=
method=auto
"""


def fixture_body(name: str) -> str:
    return "".join(
        line + "\n"
        for line in (FIXTURES / name).read_text().splitlines()
        if not line.startswith("#")
    )


class Board:
    def __init__(self, name: str = "pi4-a") -> None:
        lab = load_lab(SIM_LAB, env={})
        self.world = World(lab.board(name))
        self.world.boot()
        self.out = bytearray()
        self.shell = Shell(self.world, out=self.out.extend)
        self.shell.env["NO_COLOR"] = "1"

    def run(self, line: str) -> tuple[str, int]:
        self.out.clear()
        code = self.shell.run_line(line)
        return self.out.decode(), code

    def reboot(self) -> None:
        self.world.boot()

    def settle(self, world_seconds: float = 10) -> None:
        time.sleep(self.world.clock.real_seconds(world_seconds))

    def boot_file(self, name: str, text: str) -> None:
        self.world.fs.write(f"{BOOT}/system-connections/{name}", text)

    def devices(self):
        return {
            d.device: d
            for d in parse_device_status(
                self.run("nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device")[0]
            )
        }


@pytest.fixture
def nm_board() -> Board:
    return Board()


# -- formats against upstream output -------------------------------------------


def test_tabular_layout_reproduces_upstream_nmcli_byte_for_byte() -> None:
    expected = fixture_body("device-status.tabular.txt")
    lines = expected.splitlines()
    names = lines[0].split()
    rows = [dict(zip(names, ((v, None) for v in line.split()), strict=True)) for line in lines[1:]]
    out = bytearray()

    class P:
        def out(self, s: str) -> None:
            out.extend(s.encode())

    _table(P(), Opts(), names, rows)  # type: ignore[arg-type]
    assert out.decode() == expected


def test_terse_parser_on_upstream_output() -> None:
    rows = parse_terse(
        fixture_body("ap.tabular.terse.txt"),
        ["NAME", "IN-USE", "BSSID", "SSID", "MODE", "CHAN", "RATE", "SIGNAL", "BARS", "SECURITY"],
    )
    assert rows[0]["BSSID"] == "60:B3:25:25:E2:C8"
    assert rows[2]["SECURITY"] == "WPA1 WPA2"
    show = parse_terse_show(fixture_body("ap.multiline.terse.txt"))
    assert show["AP[1].BSSID"] == "60:B3:25:25:E2:C8"  # multiline terse is not escaped
    assert split_terse(r"a\:b:c\\d") == ["a:b", "c\\d"]


def test_sim_terse_output_escapes_like_nmcli(nm_board: Board) -> None:
    out, code = nm_board.run("nmcli -t -f BSSID,SSID device wifi list")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("02\\:00\\:")
    assert parse_terse(out, ["BSSID", "SSID"])[0]["BSSID"].count(":") == 5


def test_colours_on_a_terminal_unless_disabled(nm_board: Board) -> None:
    del nm_board.shell.env["NO_COLOR"]
    nm_board.shell.term_out = nm_board.out.extend
    out, _ = nm_board.run("nmcli -t device")
    assert "\x1b[" in out  # a serial console is a terminal: nmcli colours even with -t
    assert "\x1b[" not in nm_board.run("nmcli --colors no -t device")[0]
    assert "\x1b[" not in nm_board.run("nmcli -t device | cat")[0]


def test_not_running_and_unknown_connection(nm_board: Board) -> None:
    assert nm_board.run("nmcli connection up nope")[1] == 10
    nm_board.run("systemctl stop NetworkManager")
    out, code = nm_board.run("nmcli device")
    assert code == 8 and "NetworkManager is not running" in out
    assert nm_board.run("systemctl is-active NetworkManager") == ("inactive\n", 3)


# -- boot partition semantics (the networking doc) -----------------------------


def test_boot_connections_are_copied_without_deleting_and_ignore_skipped(nm_board: Board) -> None:
    nm_board.boot_file("balena-wifi", WIFI)
    nm_board.reboot()
    ls = nm_board.run(f"ls {OVERLAY_CONNECTIONS}")[0].split()
    assert "balena-wifi" in ls and "resin-sample.ignore" not in ls
    nm_board.world.fs.remove(f"{BOOT}/system-connections/balena-wifi")
    nm_board.reboot()
    assert "balena-wifi" in nm_board.run(f"ls {OVERLAY_CONNECTIONS}")[0].split()


def test_wifi_from_boot_partition_connects(nm_board: Board) -> None:
    nm_board.boot_file("balena-wifi", WIFI)
    nm_board.reboot()
    nm_board.settle()
    devs = nm_board.devices()
    assert devs["wlan0"].connected and devs["wlan0"].connection == "balena-wifi"
    routes = json.loads(nm_board.run("ip -j route")[0])
    default = [r for r in routes if r["dst"] == "default"]
    assert [r["dev"] for r in default] == ["eth0", "wlan0"]  # metric 100 beats 600


def test_doc_ethernet_file_makes_wifi_the_default_route(nm_board: Board) -> None:
    nm_board.boot_file("balena-wifi", WIFI)
    nm_board.boot_file("my-ethernet", ETH_NOT_DEFAULT)
    nm_board.reboot()
    nm_board.settle()
    routes = json.loads(nm_board.run("ip -j route")[0])
    assert [r["dev"] for r in routes if r["dst"] == "default"] == ["wlan0"]
    addrs = {
        link["ifname"]: link["addr_info"] for link in json.loads(nm_board.run("ip -j addr")[0])
    }
    assert addrs["eth0"], "ethernet keeps its address"


def test_a_file_networkmanager_rejects_does_not_connect(nm_board: Board) -> None:
    nm_board.boot_file("balena-wifi", WIFI.replace("psk=hil-lab-passphrase", "psk=short"))
    nm_board.reboot()
    nm_board.settle()
    assert not nm_board.devices()["wlan0"].connected
    assert "balena-wifi" not in nm_board.run("nmcli -t -f NAME connection show")[0]


def test_runtime_add_lives_only_in_the_overlay(nm_board: Board) -> None:
    out, code = nm_board.run(
        "nmcli connection add type wifi con-name rt-wifi ssid hil-lab "
        "wifi-sec.key-mgmt wpa-psk wifi-sec.psk hil-lab-passphrase"
    )
    assert code == 0 and "successfully added" in out
    assert nm_board.run(f"ls {OVERLAY_CONNECTIONS}")[0].split() == ["rt-wifi.nmconnection"]
    assert "rt-wifi" not in nm_board.run(f"ls {BOOT}/system-connections")[0]
    nm_board.settle()
    assert nm_board.devices()["wlan0"].connection == "rt-wifi"
    nm_board.run("systemctl restart NetworkManager")
    nm_board.settle()
    assert nm_board.devices()["wlan0"].connection == "rt-wifi"
    shown = parse_terse_show(nm_board.run("nmcli -t connection show rt-wifi")[0])
    assert shown["802-11-wireless-security.psk"] == "<hidden>"


def test_connection_up_reports_wrong_psk_with_nms_words(nm_board: Board) -> None:
    nm_board.boot_file("balena-wifi", WIFI.replace("hil-lab-passphrase", "not-the-passphrase"))
    nm_board.reboot()
    out, code = nm_board.run("nmcli connection up balena-wifi")
    assert code == 4
    assert "Secrets were required, but not provided" in out


# -- faults --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("wrong-psk", "Secrets were required"),
        ("ap-down", "could not be found"),
        ("dhcp-timeout", "IP configuration could not be reserved"),
    ],
)
def test_wifi_faults_fail_activation(nm_board: Board, fault: str, words: str) -> None:
    nm_board.boot_file("balena-wifi", WIFI)
    nm_board.world.set_fault(fault, True)
    nm_board.reboot()
    out, code = nm_board.run("nmcli connection up balena-wifi")
    assert code == 4 and words in out


def test_ap_down_drops_the_link_and_autoconnect_fails_over(nm_board: Board) -> None:
    nm_board.boot_file(
        "a-open",
        "[connection]\nid=a-open\ntype=wifi\nautoconnect-priority=1\n"
        "[wifi]\nssid=hil-open\n[ipv4]\nmethod=auto\n",
    )
    nm_board.boot_file("b-lab", WIFI.replace("id=balena-wifi", "id=b-lab\nautoconnect-priority=10"))
    nm_board.reboot()
    nm_board.settle()
    assert nm_board.devices()["wlan0"].connection == "b-lab"
    nm_board.world.spec.networks = [n for n in nm_board.world.spec.networks if n.ssid != "hil-lab"]
    nm_board.run("nmcli device")  # NetworkManager notices the AP is gone
    nm_board.settle()
    assert nm_board.devices()["wlan0"].connection == "a-open"
    nm_board.world.set_fault("ap-down", True)
    nm_board.run("nmcli device")
    nm_board.settle()
    assert not nm_board.devices()["wlan0"].connected


def test_dhcp_timeout_keeps_static_ip_working(nm_board: Board) -> None:
    static = ETH_NOT_DEFAULT.replace("never-default=true\nroute-metric=2000\n", "").replace(
        "method=auto\n\n[ipv6]",
        "method=manual\naddress1=192.168.1.111/24,192.168.1.1\ndns=8.8.8.8;8.8.4.4;\n\n[ipv6]",
        1,
    )
    nm_board.boot_file("my-ethernet", static)
    nm_board.world.set_fault("dhcp-timeout", True)
    nm_board.reboot()
    nm_board.settle()
    show = parse_terse_show(nm_board.run("nmcli -t device show eth0")[0])
    assert show["IP4.ADDRESS[1]"] == "192.168.1.111/24"
    assert show["IP4.GATEWAY"] == "192.168.1.1"
    assert (show["IP4.DNS[1]"], show["IP4.DNS[2]"]) == ("8.8.8.8", "8.8.4.4")


def test_doc_example_with_legacy_key_loads_and_malformed_dns_does_not(nm_board: Board) -> None:
    doc = Path(__file__).resolve().parent.parent / "fixtures" / "keyfiles" / "doc"
    eap = doc / "wpa2-enterprise"  # carries the legacy security= key: a warning only
    nm_board.boot_file("eap", eap.read_text())
    bad_dns = WIFI.replace("[ipv4]\nmethod=auto", "[ipv4]\nmethod=auto\ndns=8.8.8.888;")
    nm_board.boot_file("bad-dns", bad_dns.replace("id=balena-wifi", "id=bad-dns"))
    nm_board.reboot()
    names = nm_board.run("nmcli -t -f NAME connection show")[0].split("\n")
    assert "bad-dns" not in names  # libnm would drop the entry: the board would not get it
    assert "balena-wifi" in names, names  # the doc example (id from its placeholder)
    assert "/etc/NetworkManager/system-connections/bad-dns" in nm_board.world.nm.load_errors
