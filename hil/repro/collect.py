"""`hil bundle collect`: a field bundle from a board, over its console.

Only a shell is needed on the board: files are read as base64 (so CRLF line
endings and trailing spaces arrive as they are), facts with the tools the
suites use (`/etc/os-release`, `nmcli -t`, `mmcli -K`), logs with
`journalctl` and `dmesg`. A tool the board lacks is skipped, never an error.

The console of a collection keeps no transcript: the files carry secrets, and
the bundle is where they go (redacted with `redact=True`). What the lab config
knows about the board's surroundings — its networks' passphrases, the APN its
SIMs need — goes into `device.yaml` too: that is what a repro on a simulated
board needs to tell a wrong passphrase from a right one.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from datetime import UTC, datetime
from typing import Protocol

from hil import __version__
from hil.errors import HarnessError
from hil.lab.models import BoardConfig
from hil.probes import parse_os_release
from hil.probes.mmcli import MmcliParseError, index_of, parse_modem, parse_modem_list
from hil.probes.nmcli import parse_terse, parse_wifi_list
from hil.repro.bundle import (
    CONFIG_JSON,
    CONNECTIONS,
    DISPATCHER,
    PROXY,
    Bundle,
    Collected,
    Device,
    Modem,
    Network,
)
from hil.repro.secrets import redact_bundle

BOOT = "/mnt/boot"
#: the OS's own template, in every boot partition: not the device's configuration
TEMPLATES = {"resin-sample.ignore"}
NMCLI = "nmcli --colors no -t"
JOURNAL_LINES = 5000


class Shell(Protocol):
    """What collection needs of a `hil.console.ShellSession`."""

    name: str

    def run(self, command: str, timeout: float = 30.0): ...


def collect(
    shell: Shell, board: BoardConfig, *, lab: str | None = None, redact: bool = False
) -> Bundle:
    """Read the board's boot-partition files, facts and logs into a bundle."""
    files = _boot_files(shell)
    release = parse_os_release(_out(shell, "cat /etc/os-release") or "")
    hostname = (_out(shell, "cat /etc/hostname") or "").strip() or None
    mmcli_text, modems = _modems(shell, board)
    device = Device(
        device_type=release.get("SLUG") or release.get("MACHINE") or board.device_type,
        os_release=release.get("VERSION") or release.get("VERSION_ID") or "unknown",
        hostname=hostname,
        modems=modems,
        networks=_networks(shell, board),
        ethernet=_ethernet(shell),
        collected=Collected(
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            board=board.name,
            lab=lab,
            by=f"hil {__version__}",
        ),
    )
    journal = _out(shell, f"journalctl --no-pager -b -n {JOURNAL_LINES} 2>&1", timeout=60)
    if journal:
        files["journal.log"] = journal.encode()
    dmesg = _out(shell, "dmesg 2>&1", timeout=30)
    if dmesg:
        files["dmesg.log"] = dmesg.encode()
    if mmcli_text:
        files["mmcli.txt"] = mmcli_text.encode()
    bundle = Bundle(f"{board.name}", device, files)
    return redact_bundle(bundle) if redact else bundle


def _out(shell: Shell, command: str, timeout: float = 30.0) -> str | None:
    """The output of `command`, or None when it failed (or the board lacks it)."""
    r = shell.run(command, timeout=timeout)
    return r.output if r.exit_code == 0 else None


# -- the boot partition ------------------------------------------------------------
def _boot_files(shell: Shell) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    wanted = [CONFIG_JSON]
    for directory in (CONNECTIONS, PROXY, DISPATCHER):
        listing = _out(shell, f"ls -1 {BOOT}/{directory} 2>/dev/null")
        names = [
            n
            for n in (listing or "").splitlines()
            if n and not n.startswith(".") and n not in TEMPLATES
        ]
        wanted += [f"{directory}/{n}" for n in names]
    for path in wanted:
        full = shlex.quote(f"{BOOT}/{path}")
        r = shell.run(f"[ -f {full} ] && base64 {full}", timeout=60)
        if r.exit_code != 0:
            continue  # a directory, or gone meanwhile
        try:
            files[path] = base64.b64decode("".join(r.output.split()), validate=True)
        except binascii.Error:
            raise HarnessError(
                f"{shell.name}: {BOOT}/{path} arrived garbled over the console (base64)"
            ) from None
    return files


# -- facts ---------------------------------------------------------------------------
_SECURITY_WORDS = ("WPA", "RSN", "SAE")


def security_of(scan_security: str) -> str:
    """nmcli's SECURITY column (`WPA2`, `WPA1 WPA2`, `WPA2 802.1X`, ``) in the lab's words."""
    if "802.1X" in scan_security:
        return "wpa-eap"
    if any(w in scan_security for w in _SECURITY_WORDS):
        return "wpa-psk"
    return "none"


def _networks(shell: Shell, board: BoardConfig) -> list[Network] | None:
    """The networks in range (a scan), with what the lab config knows of them."""
    r = shell.run(f"{NMCLI} -f IN-USE,BSSID,SSID,CHAN,SIGNAL,SECURITY device wifi list", 60)
    if r.exit_code != 0:
        return None
    try:
        scan = parse_wifi_list(r.output)
    except ValueError:
        return None
    known = {w.ssid: w for w in board.wifi}
    networks: dict[str, Network] = {}
    for n in scan:
        if not n.ssid or n.ssid in networks:
            continue
        lab = known.get(n.ssid)
        networks[n.ssid] = Network(
            ssid=n.ssid,
            security=security_of(n.security),
            channel=n.chan or None,
            signal=n.signal,
            psk=lab.psk if lab is not None and lab.security == "wpa-psk" else None,
        )
    for w in board.wifi:  # hidden networks answer no scan: the lab config knows them
        if w.hidden and w.ssid not in networks:
            networks[w.ssid] = Network(ssid=w.ssid, security=w.security, hidden=True, psk=w.psk)
    return list(networks.values())


def _ethernet(shell: Shell) -> bool:
    r = shell.run(f"{NMCLI} -f DEVICE,TYPE,STATE device", 30)
    if r.exit_code != 0:
        return True
    try:
        rows = parse_terse(r.output, ["DEVICE", "TYPE", "STATE"])
    except ValueError:
        return True
    return any(row["TYPE"] == "ethernet" and row["STATE"].startswith("connected") for row in rows)


def _modems(shell: Shell, board: BoardConfig) -> tuple[str, list[Modem]]:
    """`mmcli.txt`, and the modems: those on the USB bus (by physical port, with the
    VID:PID they enumerate as, storage mode included), with what ModemManager says
    of them (model, firmware, SIM, operator, signal) and what the lab config knows
    (the model at that port, the APN its SIM needs)."""
    text, mm = _mmcli(shell)
    usb = _usb_modems(shell)
    by_port = {m.usb_path: m for m in board.modems}
    modems: list[Modem] = []
    used: set[int] = set()
    for dev in usb:
        lab = by_port.get(dev.id_path or "")
        known = next(
            (
                i
                for i, (sysfs, _) in enumerate(mm)
                if i not in used and sysfs and sysfs.rstrip("/").endswith("/" + dev.sys_name)
            ),
            None,
        )
        if known is not None:
            used.add(known)
            modem = mm[known][1].model_copy(update={"vid_pid": dev.vid_pid})
        else:
            name = " ".join(x for x in (dev.manufacturer, dev.product) if x)
            modem = Modem(model=name or "unknown modem", vid_pid=dev.vid_pid)
        update: dict[str, object] = {"usb_path": dev.id_path}
        if lab is not None:
            update |= {"model": lab.model, "apn": lab.apn}
        modems.append(modem.model_copy(update=update))
    ids = [d.vid_pid for d in usb] or _usb_ids(shell)
    for i, (_, modem) in enumerate(mm):
        if i in used:
            continue
        if modem.vid_pid is None and len(ids) == 1:
            modem = modem.model_copy(update={"vid_pid": ids[0]})
        modems.append(modem)
    return text, modems


def _usb_modems(shell: Shell) -> list:
    """The board's USB modems (`hil.usb` over the console), by physical port."""
    from hil.usb.board import BoardUsb
    from hil.usb.inventory import inventory
    from hil.usb.modeswitch import ModeswitchDataMissing, ModeswitchDb

    def db() -> ModeswitchDb | None:
        try:
            return ModeswitchDb.load()
        except ModeswitchDataMissing:
            return None

    try:
        devices = BoardUsb(shell, shell.name).devices()
    except (HarnessError, ValueError):
        return []  # no udevadm on the board
    return [e.device for e in inventory(devices, db) if e.kind == "modem"]


def _mmcli(shell: Shell) -> tuple[str, list[tuple[str | None, Modem]]]:
    """`mmcli.txt` and ModemManager's modems: (sysfs device, modem) each."""
    listing = shell.run("mmcli -L -K", 30)
    if listing.exit_code == 127 or "not found" in listing.output[:200]:
        return "", []
    text = f"$ mmcli -L -K\n{listing.output}"
    try:
        paths = parse_modem_list(listing.output).paths if listing.exit_code == 0 else []
    except MmcliParseError:
        paths = []
    found = []
    for path in paths:
        index = index_of(path)
        r = shell.run(f"mmcli -m {index} -K", 30)
        text += f"\n$ mmcli -m {index} -K\n{r.output}"
        if r.exit_code != 0:
            continue
        modem = modem_from_mmcli(r.output)
        if modem is not None:
            try:
                sysfs = parse_modem(r.output).device
            except MmcliParseError:
                sysfs = None
            found.append((sysfs, modem))
    return text, found


def _usb_ids(shell: Shell) -> list[str]:
    """VID:PIDs on the board's USB bus (`lsusb`), if it has the tool."""
    r = shell.run("lsusb 2>/dev/null", 30)
    if r.exit_code != 0:
        return []
    ids = []
    for line in r.output.splitlines():
        words = line.split()
        if "ID" in words and words.index("ID") + 1 < len(words):
            ids.append(words[words.index("ID") + 1].lower())
    return ids


def modem_from_mmcli(text: str, usb_ids: list[str] | None = None) -> Modem | None:
    """A bundle's modem from `mmcli -m N -K`; VID:PID from the USB ids when one matches."""
    try:
        m = parse_modem(text)
    except MmcliParseError:
        return None
    vid_pid = None
    for candidate in usb_ids or []:
        if m.device and candidate.replace(":", "") in m.device.replace(":", "").lower():
            vid_pid = candidate
    if vid_pid is None and usb_ids:
        non_hub = [u for u in usb_ids if not u.startswith("1d6b:")]
        vid_pid = non_hub[0] if len(non_hub) == 1 else None
    model = " ".join(x for x in (m.manufacturer, m.model) if x) or "unknown modem"
    sim = None
    if m.failed_reason == "sim-missing":
        sim = "missing"
    elif m.unlock_required in ("sim-pin", "sim-puk"):
        sim = "locked"
    elif m.sim:
        sim = "ready"
    # a signal read before the modem registered is 0, not the field's signal
    registered = m.state in ("registered", "connecting", "connected", "disconnecting")
    return Modem(
        model=model,
        vid_pid=vid_pid,
        firmware=m.revision,
        sim=sim,
        operator=m.operator_name,
        signal=m.signal_quality if registered and m.signal_recent else None,
    )
