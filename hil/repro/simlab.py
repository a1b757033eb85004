"""A simulated board built from a bundle: the field device on a laptop.

The board's world is the device's surroundings from `device.yaml` (same OS
release label, same modems by model and VID:PID, same networks in range); the
board's lab config (`wifi:`, `modems:` — what the suites use) is what the
bundle's connection files configure. So a connection file that does not fit
the surroundings (a wrong passphrase, an APN the network refuses, an SSID not
in range) fails on the simulated board as it failed in the field.

What `device.yaml` does not know is taken from the files: with no `networks:`
list, the configured networks are assumed in range with the configured
credentials; a network without a `psk` takes the connection file's; a modem
without an `apn` accepts the configured APN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from hil.lab.models import (
    BoardConfig,
    ConsoleConfig,
    LabConfig,
    ModemConfig,
    PowerConfig,
    SimModem,
    SimNetwork,
    SimWorld,
    WifiConfig,
)
from hil.lab.secrets import is_secret_key
from hil.repro.bundle import REDACTED, Bundle
from hil.repro.configured import Connection, connections

_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: where a modem sits when device.yaml does not say (a Raspberry Pi 4's first port)
DEFAULT_USB_PATH = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.{n}"


@dataclass
class SimLab:
    """The lab config of a repro on the simulator, and what it assumed."""

    lab: LabConfig
    assumptions: list[str] = field(default_factory=list)

    @property
    def board(self) -> BoardConfig:
        return self.lab.boards[0]

    def to_yaml(self) -> tuple[str, dict[str, str]]:
        """The lab as YAML with every secret as `${env:NAME}`, and those variables."""
        env: dict[str, str] = {}
        data = _with_env_refs(self.lab.model_dump(mode="json", exclude_none=True), env)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), env


def board_name(bundle: Bundle) -> str:
    name = _NAME_SAFE.sub("-", bundle.device.hostname or bundle.name).strip("-.")
    return name or "field"


def build_sim_lab(bundle: Bundle, faults: list[str] | None = None) -> SimLab:
    """The simulated lab that stands for the field device of `bundle`, with the lab
    `faults` its surroundings showed (the logs' signatures) on from boot."""
    device = bundle.device
    conns = connections(bundle)
    name = board_name(bundle)
    notes: list[str] = []
    wifi = _wifi_configs(conns)
    modems, sim_modems = _modems(bundle, conns, notes)
    networks = _networks(bundle, conns, notes)
    board = BoardConfig(
        name=name,
        device_type=device.device_type,
        console=ConsoleConfig(url=f"sim://{name}"),
        power=PowerConfig(driver="sim"),
        modems=modems,
        wifi=wifi,
        faults=list(faults or []),
        sim=SimWorld(
            os_release=device.os_release,
            hostname=device.hostname,
            modems=sim_modems,
            networks=networks,
            ethernet=device.ethernet,
        ),
    )
    if faults:
        notes.append(
            f"lab fault(s) {', '.join(faults)} on from boot: the logs show the field's "
            "surroundings did that"
        )
    return SimLab(LabConfig(name=f"repro-{name}", boards=[board]), notes)


def _wifi_configs(conns: list[Connection]) -> list[WifiConfig]:
    """The WiFi networks the device is configured for, as the suites' lab config."""
    out = []
    for c in conns:
        if c.type != "wifi" or c.is_hotspot or not c.ssid:
            continue
        psk = c.get("wifi-security", "psk")
        security = c.security
        if security == "wpa-psk" and not psk:
            continue  # the check reports it; the suites cannot use it
        eap = (c.get("802-1x", "eap") or "").split(";")[0] or None
        if security == "wpa-eap" and not (
            eap in ("peap", "ttls", "tls") and c.get("802-1x", "identity")
        ):
            continue
        out.append(
            WifiConfig(
                name=_NAME_SAFE.sub("-", c.file),
                ssid=c.ssid,
                security=security,  # type: ignore[arg-type]
                psk=psk if security == "wpa-psk" else None,
                hidden=c.hidden,
                eap=eap if security == "wpa-eap" else None,  # type: ignore[arg-type]
                identity=c.get("802-1x", "identity"),
                password=c.get("802-1x", "password"),
                phase2_auth=c.get("802-1x", "phase2-auth") or "mschapv2",
            )
        )
    return out


def _networks(bundle: Bundle, conns: list[Connection], notes: list[str]) -> list[SimNetwork]:
    configured = {c.ssid: c for c in conns if c.type == "wifi" and c.ssid and not c.is_hotspot}
    known = bundle.device.networks
    if known is None:
        notes.append("device.yaml lists no networks: the configured ones are assumed in range")
        known_list = []
        for c in configured.values():
            known_list.append(
                SimNetwork(
                    ssid=c.ssid or "",
                    security=c.security,  # type: ignore[arg-type]
                    psk=c.get("wifi-security", "psk") if c.security == "wpa-psk" else None,
                    hidden=c.hidden,
                    **_eap_of(c),
                )
            )
        return known_list
    out = []
    for i, n in enumerate(known):
        c = configured.get(n.ssid)
        psk = n.psk
        if n.security == "wpa-psk" and not psk:
            file_psk = c.get("wifi-security", "psk") if c else None
            psk = file_psk if file_psk and file_psk != REDACTED else "hil-unknown-passphrase"
            if c is not None:
                notes.append(
                    f"the passphrase of {n.ssid!r} is not in device.yaml: assumed to be the "
                    f"one in {c.path}"
                )
        extra = _eap_of(c) if c is not None and n.security == "wpa-eap" else {}
        if n.security == "wpa-eap" and not extra:
            extra = {"eap": "peap", "identity": "unknown", "password": "unknown"}
        out.append(
            SimNetwork(
                ssid=n.ssid,
                security=n.security,
                psk=psk if n.security == "wpa-psk" else None,
                hidden=n.hidden,
                channel=n.channel or (1 + 5 * (i % 3)),
                signal=n.signal if n.signal is not None else 70,
                **extra,
            )
        )
    return out


def _eap_of(c: Connection) -> dict[str, object]:
    if c.security != "wpa-eap":
        return {}
    eap = (c.get("802-1x", "eap") or "peap").split(";")[0]
    return {
        "eap": eap if eap in ("peap", "ttls", "tls") else "peap",
        "identity": c.get("802-1x", "identity"),
        "password": c.get("802-1x", "password"),
    }


def _modems(
    bundle: Bundle, conns: list[Connection], notes: list[str]
) -> tuple[list[ModemConfig], list[SimModem]]:
    gsm = [c for c in conns if c.type == "gsm"]
    configs, sims = [], []
    for i, m in enumerate(bundle.device.modems):
        name = f"modem{i}"
        if m.vid_pid is None:
            notes.append(f"modem {m.model}: VID:PID unknown, not simulated")
            continue
        usb_path = m.usb_path or DEFAULT_USB_PATH.format(n=i + 3)
        conn = gsm[i] if i < len(gsm) else None
        configured_apn = conn.get("gsm", "apn") if conn else None
        accepted = m.apn or configured_apn
        if m.apn is None and configured_apn:
            notes.append(
                f"modem {m.model}: the APN the network accepts is not in device.yaml: "
                f"assumed to be {configured_apn!r} from {conn.path if conn else '?'}"
            )
        configs.append(
            ModemConfig(
                name=name,
                model=m.model,
                usb_path=usb_path,
                apn=configured_apn if conn else m.apn,
                username=conn.get("gsm", "username") if conn else None,
                password=conn.get("gsm", "password") if conn else None,
                pin=conn.get("gsm", "pin") if conn else None,
            )
        )
        sims.append(
            SimModem(
                name=name,
                vid_pid=m.vid_pid,
                sim=m.sim or "ready",
                operator=m.operator or "hil-net",
                signal=m.signal if m.signal is not None else 70,
                apn=accepted,
                firmware=m.firmware,
                usb_path=usb_path,
                pin=conn.get("gsm", "pin") if conn and m.sim == "locked" else None,
            )
        )
    return configs, sims


def _with_env_refs(node: object, env: dict[str, str], key: str = "") -> object:
    """Replace every value under a secret key by `${env:HIL_REPRO_SECRET_N}`."""
    if isinstance(node, dict):
        return {k: _with_env_refs(v, env, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_env_refs(v, env, key) for v in node]
    if isinstance(node, str) and is_secret_key(key):
        name = f"HIL_REPRO_SECRET_{len(env) + 1}"
        env[name] = node
        return f"${{env:{name}}}"
    return node
