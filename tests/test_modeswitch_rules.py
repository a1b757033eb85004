"""A lab's usb_modeswitch configuration as a udev rule (`hil.usb.modeswitch`,
`hil.board.modeswitch`), and the simulated board that honours config.json's
`os.udevRules` for a stick the database does not know."""

from __future__ import annotations

import json
import time

import pytest

from hil.board.modeswitch import lab_rule
from hil.errors import ConfigError
from hil.lab import load_lab
from hil.lab.models import BoardConfig
from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb, parse_config, parse_rules, udev_rule_for
from tests.conftest import SIM_LAB

SIM7600 = """\
# a dongle whose CD-ROM id usb-modeswitch-data does not list
DefaultVendor=0x1e0e
DefaultProduct=0x9011
TargetVendor=0x1e0e
TargetProduct=0x9001
StandardEject=1
"""


def test_a_configuration_becomes_one_rule_running_usb_modeswitch_with_it() -> None:
    entry = parse_config(SIM7600)
    assert (entry.vid_pid, entry.target_vendor, entry.target_products, entry.method) == (
        "1e0e:9011",
        "1e0e",
        ("9001",),
        "StandardEject",
    )
    rule = udev_rule_for(entry)
    assert rule == (
        'ACTION=="add", SUBSYSTEM=="usb", ATTR{idVendor}=="1e0e", ATTR{idProduct}=="9011", '
        "RUN+=\"/bin/sh -c '/usr/sbin/usb_modeswitch -W -v 1e0e -p 9011 -V 1e0e -P 9001 -K "
        ">/var/log/usb_modeswitch_%k 2>&1'\""
    )
    # the parser of usb-modeswitch-data's own rules file reads it the same way
    (parsed,) = parse_rules(rule)
    assert parsed.applies("1e0e", "9011", 8, 0, None)
    assert not parsed.applies("1e0e", "9001", 255, 0, None)


def test_a_message_is_passed_as_it_is() -> None:
    text = "DefaultVendor=0x12d1\nDefaultProduct=0x1f01\nTargetVendor=0x12d1\n"
    text += 'MessageContent="55534243123456780000000000000011063000000100010000000000000000"\n'
    rule = udev_rule_for(parse_config(text))
    assert rule.endswith(
        "-v 12d1 -p 1f01 -V 12d1 -M 55534243123456780000000000000011063000000100010000000000000000"
        " >/var/log/usb_modeswitch_%k 2>&1'\""
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("DefaultProduct=0x9011\nStandardEject=1\n", "no DefaultVendor= line"),
        ("DefaultVendor=0x1e0e\nDefaultProduct=0x9011\n", "no mode keyword"),
        ("DefaultVendor=0x1e0e\nDefaultProduct=0x9011\nGCTMode=1\n", "give the udev rule"),
    ],
)
def test_an_unusable_configuration_names_board_modem_and_key(text: str, problem: str) -> None:
    modem = load_lab(SIM_LAB, env={}).board("pi4-a").modems[1]
    with pytest.raises(ConfigError) as e:
        lab_rule("pi4-a", modem.model_copy(update={"modeswitch_config": text}))
    assert str(e.value).startswith("pi4-a: modems.sim7600.modeswitch_config: ")
    assert problem in str(e.value)


def test_the_labs_own_rule_is_taken_as_written() -> None:
    modem = load_lab(SIM_LAB, env={}).board("pi4-a").modems[1]
    rule = lab_rule("pi4-a", modem.model_copy(update={"udev_rule": " RULE TEXT \n"}))
    assert rule is not None and (rule.text, rule.entry) == ("RULE TEXT", None)
    assert rule.path == "/etc/udev/rules.d/hil-modeswitch-sim7600.rules"


@pytest.mark.skipif(not CONFIG_PACK.is_file(), reason="usb-modeswitch-data: scripts/setup.sh")
def test_the_sim_switches_an_unknown_stick_only_with_the_boards_rule() -> None:
    from hil.sim.usb import usb_bus
    from hil.sim.world import World

    db = ModeswitchDb.load()
    assert not db.switchable("1e0e", "9011")  # the premise: the database does not know it
    config = BoardConfig.model_validate(
        {
            "name": "b",
            "device_type": "raspberrypi4-64",
            "console": {"url": "sim://b"},
            "sim": {"modems": [{"name": "d", "vid_pid": "1e0e:9011", "switches_to": "1e0e:9001"}]},
        }
    )
    world = World(config)
    world.boot()
    bus = usb_bus(world)
    time.sleep(bus.real_seconds(8))  # well past when udev would have switched it
    bus.advance()
    assert (bus.modem("d").mode, bus.modem("d").vid_pid) == ("storage", "1e0e:9011")
    config_json = json.loads(world.fs.read_text("/mnt/boot/config.json"))
    rule = udev_rule_for(parse_config(SIM7600))
    config_json.setdefault("os", {})["udevRules"] = {"hil-d": rule}
    world.fs.write("/mnt/boot/config.json", json.dumps(config_json))
    world.boot()
    assert world.fs.read_text("/etc/udev/rules.d/hil-d.rules") == rule + "\n"
    deadline = time.monotonic() + 5
    while bus.modem("d").mode != "modem":
        assert time.monotonic() < deadline, f"still {bus.modem('d').mode}"
        time.sleep(0.02)
        bus.advance()
    assert bus.modem("d").vid_pid == "1e0e:9001"
