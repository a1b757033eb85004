"""The sim board keeps what a real one keeps of usb_modeswitch's runs, in the real
tool's words: the dispatcher's log for a modem of the database, the lab rule's
`-W` report for one it does not know; under `modeswitch-wrong-method`, the
setting that switched the modem another way. The settings a run prints are
compared with Debian's usb_modeswitch 2.6.1 run here on the same command line."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from hil.board.modeswitch import lab_rule, switch_problem
from hil.lab import load_lab
from hil.probes.usb_modeswitch import parse_report
from hil.sim.shell import Shell
from hil.sim.usb import usb_bus
from hil.sim.world import World
from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb
from tests.conftest import SIM_LAB

USB_MODESWITCH = "/usr/sbin/usb_modeswitch"
E3372_LOG = "/var/log/usb_modeswitch_1-1.3"
SIM7600_LOG = "/var/log/usb_modeswitch_1-1.4"

pytestmark = pytest.mark.skipif(
    not (CONFIG_PACK.is_file() and Path(USB_MODESWITCH).exists()),
    reason="usb-modeswitch and usb-modeswitch-data: scripts/setup.sh",
)


def pi4(*faults: str, with_rule: bool = False) -> World:
    """pi4-a after its modems switched (with the lab's rule for the SIM7600 installed)."""
    board = load_lab(SIM_LAB, env={}).board("pi4-a")
    world = World(board)
    for f in faults:
        world.set_fault(f, True)
    if with_rule:
        rule = lab_rule("pi4-a", board.modems[1])
        assert rule is not None
        config = json.loads(world.fs.read_text("/mnt/boot/config.json") or "{}")
        config.setdefault("os", {})["udevRules"] = {rule.name: rule.text}
        world.fs.write("/mnt/boot/config.json", json.dumps(config))
    world.boot()
    bus = usb_bus(world)
    deadline = time.monotonic() + 10
    wanted = ["e3372", "sim7600"] if with_rule else ["e3372"]
    while any(bus.modem(n).mode != "modem" for n in wanted):
        assert time.monotonic() < deadline, [bus.modem(n).mode for n in wanted]
        time.sleep(0.02)
        bus.advance()
    return world


def settings(text: str) -> list[str]:
    """A verbose report's lines up to its search for the device (what it was told)."""
    lines = [line.rstrip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith(("Read long", "Take all")))
    end = next(i for i, line in enumerate(lines) if line.startswith("Look for default devices"))
    return lines[start : end + 1]


def real(*args: str) -> str:
    return subprocess.run(
        [USB_MODESWITCH, *args], capture_output=True, text=True, timeout=30
    ).stdout


def test_the_dispatcher_logs_the_databases_switch_of_the_e3372() -> None:
    log = pi4().fs.read_text(E3372_LOG)
    report = parse_report(log)
    entry = ModeswitchDb.load().lookup("12d1", "1f01")
    assert entry is not None
    assert (report.config, report.override, report.method) == (
        "pack/12d1:1f01",
        False,
        "HuaweiNewMode",
    )
    assert report.procedures == ("HuaweiNewMode",) and report.messages_sent == 1
    assert report.result == "ok:busdev" and report.switched_to == "12d1:1506"
    assert switch_problem(report, entry, "usb-modeswitch-data's entry") == ""
    # the settings the dispatcher's call prints are the real program's for that call
    body = log.split("--------------------------------\n")[1]
    config = "\n".join(f"{k}={v}" for k, v in entry.keys.items())
    devnum = report_devnum(log)
    expected = real(
        "-W", "-D", "-u", "-1", "-b", "1", "-g", devnum, "-v", "12d1", "-p", "1f01", "-f", config
    )
    assert settings(body) == settings(expected)


def report_devnum(log: str) -> str:
    line = next(x for x in log.splitlines() if x.startswith("usb_modeswitch -W -D"))
    words = line.split()
    return words[words.index("-g") + 1]


def test_the_lab_rule_keeps_usb_modeswitch_s_own_report() -> None:
    world = pi4(with_rule=True)
    report_text = world.fs.read_text(SIM7600_LOG)
    report = parse_report(report_text)
    assert (report.default_id, report.method, report.target_products) == (
        "1e0e:9011",
        "StandardEject",
        ("9001",),
    )
    assert report.found_device and report.messages_sent == 2 and report.config is None
    assert settings(report_text) == settings(
        real("-W", "-v", "1e0e", "-p", "9011", "-V", "1e0e", "-P", "9001", "-K")
    )


def test_wrong_method_an_override_config_switches_the_e3372_the_old_way() -> None:
    world = pi4("modeswitch-wrong-method")
    assert usb_bus(world).modem("e3372").vid_pid == "12d1:1506"  # it still comes up
    assert "HuaweiMode=1" in world.fs.read_text("/etc/usb_modeswitch.d/12d1:1f01")
    report = parse_report(world.fs.read_text(E3372_LOG))
    assert (report.config, report.override) == ("/etc/usb_modeswitch.d/12d1:1f01", True)
    assert (report.method, report.procedures) == ("HuaweiMode", ("HuaweiMode",))
    entry = ModeswitchDb.load().lookup("12d1", "1f01")
    assert entry is not None
    problem = switch_problem(report, entry, "usb-modeswitch-data's entry")
    assert "by HuaweiMode" in problem and "entry says HuaweiNewMode" in problem, problem


def test_wrong_method_a_leftover_rule_switches_the_sim7600_first() -> None:
    world = pi4("modeswitch-wrong-method", with_rule=True)
    assert usb_bus(world).modem("sim7600").vid_pid == "1e0e:9001"
    leftover = world.fs.read_text("/etc/udev/rules.d/39-usb-modeswitch-leftover.rules")
    assert 'ATTR{idProduct}=="9011"' in leftover and " -J" in leftover
    report = parse_report(world.fs.read_text(SIM7600_LOG))
    assert report.method == "StandardEject" and not report.found_device
    entry = lab_rule("pi4-a", load_lab(SIM_LAB, env={}).board("pi4-a").modems[1])
    assert entry is not None and entry.entry is not None
    assert "found no device in default mode" in switch_problem(report, entry.entry, "the lab's")


def test_usb_modeswitch_by_hand_prints_what_the_real_one_prints() -> None:
    world = World(load_lab(SIM_LAB, env={}).board("pi4-a"))
    world.set_fault("modem-stuck-in-storage-mode", True)  # nothing switches it first
    world.boot()
    out = bytearray()
    Shell(world, out=out.extend).run_line("usb_modeswitch -W -v 12d1 -p 1f01 -V 12d1 -P 1506 -J")
    text = out.decode()
    assert settings(text) == settings(
        real("-W", "-v", "12d1", "-p", "1f01", "-V", "12d1", "-P", "1506", "-J")
    )
    report = parse_report(text)
    assert report.found_device and report.method == "HuaweiNewMode"
