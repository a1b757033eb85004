"""The virtual board's USB modem, as the guest builds it (`hil-vrig-modem`).

Inside the guest a configfs gadget on `dummy_hcd` enumerates on the board's
USB bus with the descriptors of a SIMCom SIM7600E (1e0e:9001: ModemManager's
simtech plugin, whose udev rules make interface 2 the primary AT port), and an
AT responder on the gadget side plays the modem and its carrier, down to a PPP
data call into the lab's network namespace. This module writes what the
guest needs to know — identity, SIM, carrier, PPP addresses — as JSON that
QEMU hands to the guest through fw_cfg (`opt/hil/modem.json`): not on the
kernel command line, which the console prints, and not on the boot partition,
which is the board's (the SIM's PIN is the lab's secret).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from hil.vrig.options import QemuModem

FW_CFG_NAME = "opt/hil/modem.json"

#: what the gadget enumerates as and what the responder answers to ATI/+CGMx
SIM7600E = {
    "usb": {
        "vid": "0x1e0e",
        "pid": "0x9001",
        "bcd_device": "0x0318",
        "manufacturer": "SimTech, Incorporated",
        "product": "SimTech, Incorporated",
        "serial": "0123456789ABCDEF",
    },
    "manufacturer": "SIMCOM INCORPORATED",
    "model": "SIMCOM_SIM7600E-H",
    "revision": "LE20B04SIM7600M22",
}
#: the modem's USB port on the board (ID_PATH of the gadget's device on dummy_hcd)
USB_PATH = "platform-dummy_hcd.0-usb-0:1"
#: the carrier's end of the PPP link, the address it gives the board, its DNS server
#: (a lab address that answers DNS, see hil-vrig-lab)
PPP_GATEWAY = "10.64.0.1"
PPP_ADDRESS = "10.64.0.2"
CARRIER_DNS = ("8.8.8.8",)


def luhn_digit(digits: str) -> str:
    """The check digit an IMEI or ICCID ends with."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _serial_digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:n]


def guest_description(modem: QemuModem, board: str) -> dict:
    """What `hil-vrig-modem` and its responder read: one modem and its carrier."""
    serial = _serial_digits(f"{board}/{modem.name}", 12)
    imei = "862636" + "05" + serial[:6]
    iccid = "89" + "44" + "10" + serial + "0"
    return {
        **SIM7600E,
        "name": modem.name,
        "imei": imei + luhn_digit(imei),
        "imsi": (modem.operator_code + serial + "000")[:15],
        "iccid": iccid + luhn_digit(iccid),
        "sim": modem.sim,
        "pin": modem.pin,
        "operator": modem.operator,
        "operator_code": modem.operator_code,
        "signal": modem.signal,
        "apn": modem.apn,
        "username": modem.username,
        "password": modem.password,
        "gateway": PPP_GATEWAY,
        "address": PPP_ADDRESS,
        "dns": list(CARRIER_DNS),
    }


def write_description(path: Path, modem: QemuModem, board: str) -> Path:
    """The description as a file only this user reads (QEMU loads it at start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(guest_description(modem, board), f)
    return path
