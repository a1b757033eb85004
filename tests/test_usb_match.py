"""Matching by udev properties, `@` ancestor keys and usb_path — and explaining misses.

The tree is systemd's own `udevadm info --export-db` of a umockdev testbed of
the recorded devices (a Raspberry Pi 4 with a console adapter, an E3372 and an
EC25), i.e. what a board would print.
"""

from __future__ import annotations

import pytest

from hil.probes.udevadm import parse_export_db
from hil.usb.match import AmbiguousMatch, Match, NoMatch, match_usb
from hil.usb.model import UdevTree
from tests.usb_umockdev import PORT, needs_umockdev, umockdev_run

pytestmark = [pytest.mark.real, needs_umockdev]


@pytest.fixture(scope="module")
def tree() -> UdevTree:
    r = umockdev_run(
        [
            "pi4-usb-hub.umockdev",
            "ch340-console.umockdev",
            "e3372h-hilink.umockdev",
            "ec25-qmi.umockdev",
        ],
        "udevadm",
        "info",
        "--export-db",
    )
    assert r.returncode == 0, r.stderr
    return UdevTree(parse_export_db(r.stdout))


def test_usb_path_is_the_device_at_that_port_whatever_its_ids(tree):
    dev = match_usb(tree, Match.of(PORT.format("1.3"))).one()
    assert dev.vid_pid == "12d1:14dc" and dev.sys_name == "1-1.3"


def test_an_ancestor_key_finds_a_modem_by_the_port_its_tty_hangs_off(tree):
    m = Match.of(
        {"@ID_PATH": PORT.format("1.4"), "SUBSYSTEM": "tty", "ID_MM_PORT_TYPE_AT_PRIMARY": "1"}
    )
    dev = match_usb(tree, m).one()
    assert dev.vid_pid == "2c7c:0125" and "/dev/ttyUSB2" in dev.ttys


def test_globs_and_pseudo_keys(tree):
    assert match_usb(tree, Match.of({"sys_name": "wwan*"})).one().vid_pid == "2c7c:0125"
    assert match_usb(tree, Match.of({"driver": "ch341"})).one().vid_pid == "1a86:7523"


def test_no_match_names_the_failed_key_on_each_near_candidate(tree):
    with pytest.raises(NoMatch) as e:
        match_usb(tree, Match.of(PORT.format("1.2")), source="board pi4-a").one()
    lines = str(e.value).splitlines()
    assert lines[0].startswith(
        f"no USB device in board pi4-a matches usb_path {PORT.format('1.2')} ("
    )
    # the devices at the neighbouring ports come first, each with what ID_PATH it has
    assert lines[1].startswith(
        f"  1-1.1 (usb_device 1a86/7523/264): ID_PATH is '{PORT.format('1.1')}', "
        f"expected '{PORT.format('1.2')}'"
    )
    assert any(x.startswith("  1-1.4 (usb_device 2c7c/125/318): ID_PATH is") for x in lines)


def test_an_ancestor_miss_lists_what_the_ancestors_have(tree):
    m = Match.of({"@ID_PATH": PORT.format("1.2"), "SUBSYSTEM": "net"})
    report = match_usb(tree, m)
    assert not report.found
    text = report.explain()
    assert f"eth1 (net): @ID_PATH: no ancestor has ID_PATH '{PORT.format('1.2')}'" in text
    assert f"'{PORT.format('1.3')}'" in text  # eth1's real port is named


def test_a_missing_property_is_said_to_be_missing(tree):
    text = match_usb(tree, Match.of({"ID_SERIAL_SHORT": "A105GKV2", "subsystem": "usb"})).explain()
    assert "ID_SERIAL_SHORT not set (expected 'A105GKV2')" in text


def test_several_devices_where_one_is_expected(tree):
    with pytest.raises(AmbiguousMatch, match="matches 2 USB devices"):
        match_usb(tree, Match.of({"SUBSYSTEM": "net", "sys_name": "*[0-9]"})).one()


def test_an_empty_match_is_refused():
    with pytest.raises(ValueError):
        Match.of({})
