"""The virtual rig's modem: the guest's AT responder on a real pty, the modem's
description for the guest, and its lab config.

The responder (`hil/vrig/guest/hil-vrig-modem-at`) runs as the guest runs it,
a process on a serial line; here the line is a pty and the test types what
ModemManager types (its commands as ModemManager 1.20's simtech plugin sent
them to this responder in the guest, from its debug log). That ModemManager
and NetworkManager accept it end to end is the slow test in test_vrig.py.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.errors import ConfigError
from hil.lab import load_lab
from hil.vrig.build import build
from hil.vrig.modem import FW_CFG_NAME, guest_description, luhn_digit
from hil.vrig.options import QemuModem, qemu_options
from hil.vrig.vm import qemu_command

REPO = Path(__file__).resolve().parents[1]
RESPONDER = REPO / "hil" / "vrig" / "guest" / "hil-vrig-modem-at"
LAB = REPO / "lab-config" / "vrig.yaml"
PIN = "73914682"


class ModemLine:
    """The board's end of the modem's serial line (a pty's master)."""

    def __init__(self, fd: int, state: Path) -> None:
        self.fd = fd
        self.state = state

    def read_until(self, pattern: str, timeout: float = 10.0) -> str:
        out = ""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, out):
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} from the modem; it said {out!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                out += os.read(self.fd, 4096).decode()
        return out

    def at(self, command: str) -> tuple[list[str], str]:
        """One command line: its information lines and its final result."""
        os.write(self.fd, f"{command}\r".encode())
        out = self.read_until(r"\r\n(OK|ERROR|\+CME ERROR: \d+|NO CARRIER|CONNECT[^\r]*)\r\n")
        lines = [x for x in out.split("\r\n") if x.strip() and x.strip() != command]
        return lines[:-1], lines[-1]

    def fault(self, *names: str) -> None:
        (self.state / "faults").write_text("".join(f"{n}\n" for n in names))


def config(tmp_path: Path, tty: str, **changes: object) -> Path:
    modem = QemuModem(name="sim7600", pin=PIN, apn="internet", **changes)  # type: ignore[arg-type]
    description = guest_description(modem, "vrig-a") | {"tty": tty}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(description))
    return path


@pytest.fixture
def modem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModemLine]:
    """The responder on a pty, as `hil-vrig-modem start` runs it in the guest."""
    master, slave = os.openpty()
    tty.setraw(slave)  # as the responder sets it: what is typed before it runs arrives as typed
    changes = getattr(request, "param", {})
    path = config(tmp_path, os.ttyname(slave), **changes)
    proc = subprocess.Popen([sys.executable, str(RESPONDER), str(path)], stderr=subprocess.PIPE)
    line = ModemLine(master, tmp_path)
    try:
        assert line.at("ATE0") == ([], "OK")
        yield line
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


def test_identity_and_setup_as_modemmanager_asks(modem: ModemLine) -> None:
    assert modem.at("ATE0 V1") == ([], "OK")
    assert modem.at("AT+CMEE=1") == ([], "OK")
    assert modem.at("AT+CGMI") == (["SIMCOM INCORPORATED"], "OK")
    assert modem.at("AT+CGMM") == (["SIMCOM_SIM7600E-H"], "OK")
    assert modem.at("AT+CGMR") == (["+CGMR: LE20B04SIM7600M22"], "OK")
    imei, final = modem.at("AT+CGSN")
    assert final == "OK" and re.fullmatch(r"\d{15}", imei[0])
    assert luhn_digit(imei[0][:14]) == imei[0][14]
    assert modem.at("AT+GCAP") == (["+GCAP: +CGSM"], "OK")
    # what a real modem does with a command it does not have
    assert modem.at("AT+CPCMREG=?") == ([], "ERROR")
    # several commands on one line stop at the first error
    assert modem.at("AT+COPS=3,2;+COPS?") == (['+COPS: 0,2,"23410",7'], "OK")


@pytest.mark.parametrize("modem", [{"sim": "locked"}], indirect=True)
def test_locked_sim_asks_for_the_pin_and_counts_tries(modem: ModemLine) -> None:
    modem.at("AT+CMEE=1")
    assert modem.at("AT+CPIN?") == (["+CPIN: SIM PIN"], "OK")
    assert modem.at('AT+CSIM=10,"0020000100"') == (['+CSIM: 4,"63C3"'], "OK")
    assert modem.at("AT+CREG?") == (["+CREG: 0,0"], "OK")  # no network before the PIN
    assert modem.at('AT+CPIN="0000"') == ([], "+CME ERROR: 16")  # incorrect password
    assert modem.at('AT+CSIM=10,"0020000100"') == (['+CSIM: 4,"63C2"'], "OK")
    assert modem.at(f'AT+CPIN="{PIN}"') == ([], "OK")
    assert modem.at("AT+CPIN?") == (["+CPIN: READY"], "OK")
    assert modem.at("AT+CREG=2") == ([], "OK")
    assert modem.at("AT+CREG?") == (['+CREG: 2,1,"1A2B","01C2D3E4",7'], "OK")
    log = (modem.state / "at.log").read_text()
    assert PIN not in log and "AT+CPIN=****" in log  # the SIM's PIN never reaches a log


def test_sim_faults(modem: ModemLine) -> None:
    modem.at("AT+CMEE=1")
    modem.fault("sim-missing")
    assert modem.at("AT+CPIN?") == ([], "+CME ERROR: 10")  # SIM not inserted
    assert modem.at("AT+CIMI") == ([], "+CME ERROR: 10")
    modem.fault("sim-locked")  # a PIN the lab does not know
    assert modem.at("AT+CPIN?") == (["+CPIN: SIM PIN"], "OK")
    assert modem.at(f'AT+CPIN="{PIN}"') == ([], "+CME ERROR: 16")
    modem.fault()
    assert modem.at("AT+CPIN?") == (["+CPIN: READY"], "OK")


def test_registration_signal_and_their_faults(modem: ModemLine) -> None:
    for cmd in ("AT+CREG=2", "AT+CGREG=2", "AT+CEREG=2", "AT+CMER=3,0,0,1", "AT+AUTOCSQ=1,1"):
        assert modem.at(cmd) == ([], "OK")
    assert modem.at("AT+CEREG?") == (['+CEREG: 2,1,"1A2B","01C2D3E4",7'], "OK")
    assert modem.at("AT+COPS=3,0;+COPS?") == (['+COPS: 0,0,"giffgaff",7'], "OK")
    assert modem.at("AT+CSQ") == (["+CSQ: 22,99"], "OK")  # 70 %
    assert modem.at("AT+CNSMOD?") == (["+CNSMOD: 0,8"], "OK")  # LTE
    modem.fault("weak-signal")
    assert modem.at("AT+CSQ") == (["+CSQ: 1,99"], "OK")
    # out of coverage: searching, no signal, no operator — and said unsolicited
    modem.fault("no-registration")
    urcs = modem.read_until(r"\+CIEV: 3,0\r\n", timeout=5)
    assert "+CREG: 2,2" in urcs and "+CEREG: 2,2" in urcs and "+CIEV: 2,0" in urcs
    assert "+CSQ: 99,99" in urcs  # SIMCom's +AUTOCSQ report, which ModemManager's plugin asks for
    assert modem.at("AT+CSQ") == (["+CSQ: 99,99"], "OK")
    assert modem.at("AT+COPS?") == (["+COPS: 0"], "OK")
    assert modem.at("ATD*99***1#") == ([], "NO CARRIER")
    modem.fault()
    assert "+CEREG: 2,1" in modem.read_until(r"\+CIEV: 3,1\r\n", timeout=5)


def test_dial_refuses_an_apn_the_carrier_does_not_know(modem: ModemLine) -> None:
    modem.at("AT+CMEE=1")
    assert modem.at("AT+CGDCONT=?")[0][0].startswith('+CGDCONT: (1-24),"IP"')
    assert modem.at('AT+CGDCONT=1,"IPV4V6","nowhere"') == ([], "OK")
    assert modem.at("AT+CGDCONT?") == (
        ['+CGDCONT: 1,"IPV4V6","nowhere","0.0.0.0",0,0,0,0'],
        "OK",
    )
    assert modem.at("ATD*99***1#") == ([], "+CME ERROR: 127")  # missing or unknown APN
    modem.at('AT+CGDCONT=1,"IP","internet"')
    modem.fault("wrong-apn")  # the carrier refuses every APN
    assert modem.at("ATD*99***1#") == ([], "+CME ERROR: 127")


def test_description_for_the_guest() -> None:
    described = guest_description(QemuModem(name="m", pin=PIN, operator_code="23410"), "b")
    assert described["usb"]["vid"] == "0x1e0e" and described["usb"]["pid"] == "0x9001"
    assert len(described["iccid"]) == 20 and described["imsi"].startswith("23410")
    assert described == guest_description(QemuModem(name="m", pin=PIN), "b")  # stable
    assert described["imei"] != guest_description(QemuModem(name="m"), "other")["imei"]


def test_lab_modem_joins_the_board_modem_and_reaches_qemu(tmp_path: Path) -> None:
    board = load_lab(LAB).boards[0]
    opts = qemu_options(board)
    [plugged] = opts.modems
    assert (plugged.sim, plugged.pin, plugged.apn) == ("locked", board.modems[0].pin, "internet")
    fw_cfg = {FW_CFG_NAME: tmp_path / "m"}
    cmd = qemu_command(build(), opts, 4321, tmp_path / "boot.img", fw_cfg=fw_cfg)
    assert cmd[cmd.index("-fw_cfg") + 1] == f"name={FW_CFG_NAME},file={tmp_path / 'm'}"
    assert not any(PIN in arg for arg in cmd)  # the PIN is in the file, not on a command line
    wrong = board.model_copy(update={"qemu": {"modems": [{"name": "e3372"}]}})
    with pytest.raises(ConfigError) as e:
        qemu_options(wrong, "lab.yaml")
    assert str(e.value) == (
        "lab.yaml: boards (vrig-a).qemu.modems.0.name: no modem 'e3372' in the board's "
        "modems (has: sim7600)"
    )
