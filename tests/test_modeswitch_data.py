"""usb_modeswitch knowledge read from the installed usb-modeswitch-data package."""

from __future__ import annotations

import json
import subprocess

import pytest

from hil.probes.udevadm import parse_export_db
from hil.usb.model import UdevTree
from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb, parse_rules, stuck_in_storage

pytestmark = pytest.mark.skipif(
    not CONFIG_PACK.is_file(), reason="usb-modeswitch-data is installed by scripts/setup.sh"
)


@pytest.fixture(scope="module")
def db() -> ModeswitchDb:
    return ModeswitchDb.load()


def lookup(hil_cmd, *args):
    return subprocess.run(
        [*hil_cmd, "modeswitch", "lookup", *args], capture_output=True, text=True, timeout=60
    )


def test_lookup_json_is_exactly_the_contract(hil_cmd):
    r = lookup(hil_cmd, "12d1:1f01", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "vendor": "12d1",
        "product": "1f01",
        "target_vendor": "12d1",
        "target_products": ["14db", "14dc"],
        "method": "HuaweiNewMode",
        "message_content": None,
    }


def test_zte_standard_eject_carries_its_message_and_many_targets(hil_cmd):
    r = lookup(hil_cmd, "19D2:0x2000", "--json")
    entry = json.loads(r.stdout)
    assert entry["method"] == "StandardEject"
    assert (
        entry["message_content"] == "55534243123456702000000080000c85010101180101010101000000000000"
    )
    assert entry["target_vendor"] == "19d2"  # "TargetVendor= 0x19d2" in the file, with a space
    assert "0031" in entry["target_products"] and len(entry["target_products"]) == 27
    assert all(len(p) == 4 and p == p.lower() for p in entry["target_products"])


def test_a_message_only_entry_reports_messagecontent(db):
    only_message = [e for e in db.entries.values() if e.method == "MessageContent"]
    assert only_message, "the package has entries that only send a message"
    e = db.lookup("1bbb", "f052")  # Alcatel OT X220L
    assert (e.method, e.target_products) == ("MessageContent", ("0052",))


def test_human_output_names_the_model(hil_cmd):
    r = lookup(hil_cmd, "12d1:1f01")
    assert r.returncode == 0
    assert "device:          12d1:1f01 (Huawei E353 (3.se) and others)" in r.stdout
    assert "method:          HuaweiNewMode" in r.stdout


@pytest.mark.parametrize("vid_pid", ["2c7c:0125", "12d1:14dc"])
def test_a_device_already_in_modem_mode_is_not_switchable(hil_cmd, vid_pid):
    r = lookup(hil_cmd, vid_pid, "--json")
    assert r.returncode == 1 and r.stdout == ""
    assert f"{vid_pid}: not switchable" in r.stderr


def test_variants_are_named_when_there_is_no_plain_entry(hil_cmd):
    r = lookup(hil_cmd, "05c6:1000")
    assert r.returncode == 1
    assert "05c6:1000:uMa=Qualcomm" in r.stderr
    ok = lookup(hil_cmd, "05c6:1000:uMa=Qualcomm", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["product"] == "1000"


@pytest.mark.parametrize("bad", ["12d1", "12d1:", "xyz:1f01", "12d1:1f011"])
def test_bad_input_is_a_usage_error_in_one_line(hil_cmd, bad):
    r = lookup(hil_cmd, bad)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "VID:PID" in r.stderr


def test_udev_rules_hand_huawei_storage_interfaces_to_usb_modeswitch(db):
    huawei = parse_rules(
        'ATTRS{idVendor}=="12d1", ATTRS{manufacturer}!="Android", '
        'ATTR{bInterfaceNumber}=="00", ATTR{bInterfaceClass}=="08", '
        "RUN+=\"usb_modeswitch '%b/%k'\""
    )[0]
    assert huawei.applies("12d1", "1f01", 0x08, 0, "HUAWEI_MOBILE")
    assert not huawei.applies("12d1", "1f01", 0x08, 0, "Android")
    assert not huawei.applies("12d1", "14dc", 0x02, 0, "HUAWEI_MOBILE")
    assert len(db.rules) > 400  # the installed 40-usb_modeswitch.rules was read


STORAGE = """P: /devices/usb1/1-1/1-1.3
U: usb
T: usb_device
E: PRODUCT=12d1/1f01/102
E: ID_PATH=platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3
E: ID_VENDOR_ENC=HUAWEI_MOBILE

P: /devices/usb1/1-1/1-1.3/1-1.3:1.0
U: usb
T: usb_interface
V: usb-storage
E: INTERFACE=8/6/80
"""


def test_the_installed_rules_would_switch_an_e3372_in_storage_mode(db):
    (dev,) = UdevTree(parse_export_db(STORAGE)).usb_devices()
    assert db.triggered_by_udev(dev)
    problem = stuck_in_storage(dev, db)
    assert problem is not None and problem.entry.method == "HuaweiNewMode"
    modem = STORAGE.replace("12d1/1f01", "12d1/14dc").replace("usb-storage", "cdc_ether")
    modem = modem.replace("INTERFACE=8/6/80", "INTERFACE=2/6/0")
    (switched,) = UdevTree(parse_export_db(modem)).usb_devices()
    assert switched.mode == "modem" and stuck_in_storage(switched, db) is None
    assert db.is_target("12d1", "14dc")
