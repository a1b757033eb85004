"""The simulated ModemManager: mmcli formats against the real mmcli's recordings,
the modem's life (storage mode, probing, SIM, registration, bearers) and its faults."""

from __future__ import annotations

import time

import pytest

from hil.lab import load_lab
from hil.probes.mmcli import (
    parse_bearer,
    parse_error,
    parse_keyvalue,
    parse_modem,
    parse_modem_list,
)
from hil.sim.modem.catalog import CATALOG, find
from hil.sim.shell import Shell
from hil.sim.world import World
from tests.conftest import SIM_LAB
from tests.test_probes_mmcli import fixture


class Board:
    def __init__(self, name: str = "pi4-a", faults: tuple[str, ...] = ()) -> None:
        self.world = World(load_lab(SIM_LAB, env={}).board(name))
        for f in faults:
            self.world.set_fault(f, True)
        self.world.boot()
        self.out = bytearray()
        self.shell = Shell(self.world, out=self.out.extend)

    def run(self, line: str) -> tuple[int, str]:
        self.out.clear()
        status = self.shell.run_line(line)
        return status, self.out.decode()

    def wait(self, world_seconds: float) -> None:
        time.sleep(self.world.clock.real_seconds(world_seconds))


def keys(text: str) -> list[str]:
    """-K keys in order, a list's `.length`/`.value[N]` lines folded into its name."""
    out: list[str] = []
    for line in text.splitlines():
        if " : " not in line or line.startswith("#"):
            continue
        key = line.split(" : ")[0].rstrip()
        key = key.removesuffix(".length").split(".value[")[0]
        if not out or out[-1] != key:
            out.append(key)
    return out


def test_keyvalue_keys_order_and_padding_as_the_real_mmcli() -> None:
    b = Board()
    b.wait(6)
    status, text = b.run("mmcli -m 0 -K")
    assert status == 0
    assert keys(text) == keys(fixture("modem-disabled.K"))
    widths = {len(line.split(" : ")[0]) for line in text.splitlines()}
    real = {len(line.split(" : ")[0]) for line in fixture("modem-disabled.K").splitlines()}
    assert widths == real  # padded to the longest key, as mmcli does
    b.run("mmcli -m 0 -e")
    b.wait(6)
    _, k = b.run("mmcli -m 0 -K")
    _, j = b.run("mmcli -m 0 -J")
    assert parse_modem(k) == parse_modem(j)
    assert sorted(parse_keyvalue(j if False else k)) == sorted(
        parse_keyvalue(fixture("modem-registered.K"))
    )


def test_bearer_and_sim_keys_as_the_real_mmcli() -> None:
    b = Board()
    b.wait(6)
    assert b.run("mmcli -m 0 --simple-connect=apn=internet")[0] == 0
    _, text = b.run("mmcli -b 0 -K")
    assert keys(text) == keys(fixture("bearer-connected.K"))
    assert parse_bearer(text).connected
    _, sim = b.run("mmcli -i 0 -K")
    assert keys(sim) == keys(fixture("sim.K"))


def test_storage_mode_then_probe_then_listed() -> None:
    b = Board()
    assert parse_modem_list(b.run("mmcli -L -K")[1]).indices == []
    assert b.run("mmcli -L")[1] == "No modems were found\n"
    b.wait(6)
    # pi4-a's two modems: the E3372 and the SIM7600 (switched by the lab's rule)
    assert parse_modem_list(b.run("mmcli -L -K")[1]).indices == [0, 1]


def test_stuck_in_storage_mode_is_never_listed() -> None:
    b = Board(faults=("modem-stuck-in-storage-mode",))
    b.wait(20)
    assert parse_modem_list(b.run("mmcli -L -K")[1]).indices == []
    mm = b.world.subsystems["modems"]
    assert mm.vid_pid(mm.units[0]) == "12d1:1f01"


def test_sim_missing_and_locked_in_modemmanager_words() -> None:
    b = Board(faults=("sim-missing",))
    b.wait(6)
    m = parse_modem(b.run("mmcli -m 0 -K")[1])
    assert m.describe_state() == "failed (sim-missing)" and m.sim is None
    status, out = b.run("mmcli -m 0 -e")
    assert status == 1 and out.strip() == fixture("error-enable-failed").strip()
    b = Board(faults=("sim-locked",))
    b.wait(6)
    m = parse_modem(b.run("mmcli -m 0 -K")[1])
    assert m.describe_state() == "locked (sim-pin required, 3 tries left)"
    status, out = b.run("mmcli -i 0 --pin=0000")
    assert status == 1 and out.strip() == fixture("error-pin-incorrect").strip()
    assert parse_modem(b.run("mmcli -m 0 -K")[1]).unlock_retries["sim-pin"] == 2


def test_wrong_apn_error_as_the_real_mmcli() -> None:
    b = Board(faults=("wrong-apn",))
    b.wait(6)
    status, out = b.run("mmcli -m 0 --simple-connect=apn=internet")
    assert status == 1
    err = parse_error(out)
    real = parse_error(fixture("error-connect-wrong-apn"))
    assert err == real


def test_errors_as_the_real_mmcli() -> None:
    b = Board()
    b.wait(6)
    for args, name in [("-m 7 -K", "error-no-modem"), ("-i 4 -K", "error-no-sim")]:
        status, out = b.run(f"mmcli {args}")
        assert status == 1 and out.strip() == fixture(name).strip()
    status, out = b.run("mmcli -b 9 -K")
    assert out.strip() == fixture("error-no-bearer").strip()


def test_reset_reenumerates_with_a_new_index_at_the_same_port() -> None:
    b = Board()
    b.wait(6)
    before = parse_modem(b.run("mmcli -m 0 -K")[1])
    assert b.run("mmcli -m 0 --reset")[0] == 0
    assert 0 not in parse_modem_list(b.run("mmcli -L -K")[1]).indices
    b.wait(12)
    # the next index after pi4-a's two modems, at the same port
    indices = parse_modem_list(b.run("mmcli -L -K")[1]).indices
    after = parse_modem(b.run(f"mmcli -m {max(indices)} -K")[1])
    assert after.index == 2 and after.device == before.device


def test_gsm_device_in_networkmanager_and_weak_signal() -> None:
    b = Board(faults=("weak-signal",))
    b.wait(6)
    _, out = b.run("nmcli --colors no -t -f DEVICE,TYPE device")
    assert "cdc-wdm0:gsm" in out
    b.run("mmcli -m 0 -e")
    b.wait(6)
    assert parse_modem(b.run("mmcli -m 0 -K")[1]).signal_quality == 3


def test_vcgencmd_throttled_and_config() -> None:
    b = Board()
    assert b.run("vcgencmd get_throttled") == (0, "throttled=0x0\n")
    assert b.run("vcgencmd get_config max_usb_current") == (0, "max_usb_current=0\n")
    b.world.set_fault("undervoltage", True)
    assert b.run("vcgencmd get_throttled") == (0, "throttled=0x50005\n")


@pytest.mark.parametrize("hw", CATALOG, ids=[h.model for h in CATALOG])
def test_catalog_entries_are_consistent(hw) -> None:
    assert hw.primary_port in [name for name, _ in hw.ports]
    assert find(hw.vid_pid, hw.model) == hw
    if hw.ip_method != "ppp":
        assert any(kind == "net" for _, kind in hw.ports)


def test_traffic_bound_to_the_modem_needs_its_bearer_and_its_own_route() -> None:
    """`curl --interface wwan0` goes only where wwan0's own routes go: nowhere before a
    bearer, nowhere with an address but no default route (never-default), through it
    once it has both — whatever the other interfaces' routes are."""
    b = Board()
    b.wait(6)
    url = "https://api.balena-cloud.com/ping"
    curl = f"curl -sS -o /dev/null -w '%{{http_code}}' --interface wwan0 {url}"
    status, out = b.run(curl)
    assert status == 45 and "bind failed" in out, out  # wwan0 exists, no address yet
    assert b.run(f"curl -sS -o /dev/null -w '%{{http_code}}' {url}") == (0, "200")  # via eth0
    add = "nmcli --colors no connection add type gsm con-name cell ifname '*' apn internet"
    assert b.run(f"{add} ipv4.never-default true")[0] == 0
    status, out = b.run("nmcli --colors no connection up cell")
    assert status == 0, out
    status, out = b.run(curl)
    assert status == 7 and "Couldn't connect to server" in out, out
    assert b.run("nmcli --colors no connection modify cell ipv4.never-default false")[0] == 0
    assert b.run("nmcli --colors no connection up cell")[0] == 0
    assert b.run(curl) == (0, "200")
    # the carrier's DNS server: ethernet's default route (metric 100) beats the modem's
    # (700) until ethernet is out of the way
    status, out = b.run("ip route get 10.177.0.34")
    assert status == 0 and " dev eth0 " in out, out
    assert b.run("nmcli --colors no device disconnect eth0")[0] == 0
    status, out = b.run("ip route get 10.177.0.34")
    assert status == 0 and " dev wwan0 " in out, out
