"""usb_modeswitch's reports parsed: real dispatcher logs and verbose runs
(fixtures/usb_modeswitch/SOURCES.md), and the real 2.6.1 binary run here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hil.probes.usb_modeswitch import ModeswitchReportError, parse_report
from hil.usb.modeswitch import ModeswitchDb

USB_MODESWITCH = "/usr/sbin/usb_modeswitch"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "usb_modeswitch"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_a_dispatcher_log_of_a_huawei_switch() -> None:
    r = parse_report(fixture("dispatcher-12d1-1520-huaweinewmode.log"))
    assert r.version == "2.5.0"
    assert r.default_id == "12d1:1520"
    assert (r.target_vendor, r.target_products) == ("12d1", ("1465",))
    assert r.method == "HuaweiNewMode" and r.modes == ("HuaweiNewMode",)
    assert r.procedures == ("HuaweiNewMode",)  # "Using standard Huawei switching message"
    assert r.message_contents == ()
    assert r.found_device and r.messages_sent == 1
    assert (r.config, r.override) == ("pack/12d1:1520", False)
    assert r.result == "ok:busdev" and r.switched_to == "12d1:1465"


def test_a_verbose_standard_eject_run() -> None:
    r = parse_report(fixture("verbose-0bda-1a2b-standardeject.txt"))
    assert r.version == "2.5.2" and r.default_id == "0bda:1a2b"
    assert r.method == "StandardEject" and r.procedures == ("StandardEject",)
    assert r.target_vendor is None and r.target_products == ()
    assert r.found_device and r.messages_sent == 2
    assert r.config is None and r.switched_to is None  # no dispatcher around it


def test_settings_printed_by_2_6_1_without_a_device() -> None:
    r = parse_report(fixture("verbose-12d1-1f01-no-device.txt"))
    assert r.version == "2.6.1" and r.default_id == "12d1:1f01"
    assert (r.target_vendor, r.target_products) == ("12d1", ("14db", "14dc"))
    assert r.method == "HuaweiNewMode" and r.procedures == ()
    assert not r.found_device and r.messages_sent == 0
    eject = parse_report(fixture("verbose-1e0e-9011-no-device.txt"))
    assert (eject.method, eject.target_vendor, eject.target_products) == (
        "StandardEject",
        "1e0e",
        ("9001",),
    )
    message = parse_report(fixture("verbose-12d1-1f01-messagecontent-no-device.txt"))
    assert message.method == "MessageContent"
    assert message.message_contents == (
        "55534243123456780000000000000011062000000101000100000000000000",
    )


def test_the_method_names_are_usb_modeswitch_datas() -> None:
    """The report's method for the database's E3372 entry is the entry's method."""
    entry = ModeswitchDb.load().lookup("12d1", "1f01")
    assert entry is not None
    assert parse_report(fixture("verbose-12d1-1f01-no-device.txt")).method == entry.method


@pytest.mark.skipif(not Path(USB_MODESWITCH).exists(), reason="usb-modeswitch not installed")
def test_the_installed_usb_modeswitch_prints_what_the_parser_reads() -> None:
    """Debian's usb_modeswitch (APT_PACKAGES), every method switch of a udev rule."""
    for flag, method in (("-J", "HuaweiNewMode"), ("-K", "StandardEject"), ("-H", "HuaweiMode")):
        out = subprocess.run(
            [USB_MODESWITCH, "-W", "-v", "12d1", "-p", "1f01", "-V", "12d1", "-P", "1506", flag],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        r = parse_report(out)
        assert (r.method, r.default_id, r.target_products) == (method, "12d1:1f01", ("1506",)), out


def test_not_a_report() -> None:
    with pytest.raises(ModeswitchReportError):
        parse_report("cat: /var/log/usb_modeswitch_1-1.3: No such file or directory\n")
