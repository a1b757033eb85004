"""Parsers of ModemManager's machine output: `mmcli -K` (key-value) and `mmcli -J` (JSON).

`-K` prints `key : value`, the keys padded to one width, `--` for none, and
lists as `key.length : N` plus `key.value[i] : ...` (an empty list is `key : --`).
`-J` prints the same keys as nested objects, every value a string (`"--"` for
none, lists as arrays). Both are flattened to one form — dotted keys, `None`
for none, lists as lists — and the typed models below are built from that, so
a suite gets the same `Modem` whichever format a board's mmcli printed. The
human output is coloured and meant for people: never parse it.

Tested on outputs of the real mmcli 1.20.4 in `fixtures/mmcli/` (each file
names how it was recorded).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

Flat = dict[str, "str | list[str] | None"]

_KV = re.compile(
    r"^(?P<key>[a-z0-9][a-z0-9.\-]*?)(?P<array>\.length|\.value\[(?P<i>\d+)\])?"
    r"\s+:\s?(?P<value>.*)$"
)
#: lists that mmcli < 1.18 printed on one line, comma-separated (their items never hold ", ")
_OLD_STYLE_LISTS = {"modem.generic.ports", "modem.generic.drivers", "modem.generic.bearers"}
MODEM_PATH = "/org/freedesktop/ModemManager1/Modem/"
BEARER_PATH = "/org/freedesktop/ModemManager1/Bearer/"
SIM_PATH = "/org/freedesktop/ModemManager1/SIM/"


class MmcliParseError(ValueError):
    """The text is not mmcli machine output of the expected object."""


def _none(value: str) -> str | None:
    value = value.strip()
    return None if value in ("--", "") else value


def parse_keyvalue(text: str) -> Flat:
    """`mmcli -K` output → {dotted key: value | None | [values]}. Other lines are skipped."""
    flat: Flat = {}
    lists: dict[str, dict[int, str]] = {}
    for raw in text.replace("\r", "").splitlines():
        m = _KV.match(raw.strip())
        if not m:
            continue
        key, value = m["key"], m["value"]
        if m["array"] == ".length":
            lists.setdefault(key, {})
        elif m["i"] is not None:
            lists.setdefault(key, {})[int(m["i"])] = value.strip()
        else:
            flat[key] = _none(value)
    for key, items in lists.items():
        flat[key] = [items[i] for i in sorted(items)]
    for key in _OLD_STYLE_LISTS:
        value = flat.get(key)
        if isinstance(value, str):
            flat[key] = [v.strip() for v in value.split(",") if v.strip()]
    return flat


def parse_json(text: str) -> Flat:
    """`mmcli -J` output → the same flat form as `parse_keyvalue`."""
    start = text.find("{")
    if start < 0:
        raise MmcliParseError("no JSON object in mmcli output")
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as e:
        raise MmcliParseError(f"mmcli -J output is not JSON: {e}") from None
    flat: Flat = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(node, list):
            flat[prefix] = [str(v) for v in node]
        else:
            flat[prefix] = _none(str(node))

    walk("", data)
    return flat


def parse(text: str) -> Flat:
    """Either format: JSON when the output is an object, key-value otherwise."""
    return parse_json(text) if text.lstrip().startswith("{") else parse_keyvalue(text)


# -- typed models ---------------------------------------------------------------


def _str(flat: Flat, key: str) -> str | None:
    value = flat.get(key)
    if isinstance(value, list):
        return ", ".join(value) or None
    return value


def _list(flat: Flat, key: str) -> list[str]:
    value = flat.get(key)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(flat: Flat, key: str) -> int | None:
    value = _str(flat, key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _yes(flat: Flat, key: str) -> bool:
    return _str(flat, key) == "yes"


def index_of(path: str | None) -> int | None:
    """The number at the end of a ModemManager object path (`.../Modem/3` → 3)."""
    if not path:
        return None
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class Port:
    name: str
    type: str  # at, qmi, mbim, net, gps, ignored, ...

    @classmethod
    def parse(cls, text: str) -> Port:
        m = re.match(r"^(?P<name>\S+)\s*\((?P<type>[^)]*)\)$", text.strip())
        return cls(m["name"], m["type"]) if m else cls(text.strip(), "unknown")


@dataclass(frozen=True)
class ModemList:
    paths: list[str]

    @property
    def indices(self) -> list[int]:
        return [i for p in self.paths if (i := index_of(p)) is not None]


def parse_modem_list(text: str) -> ModemList:
    """`mmcli -L -K` / `-J` (`modem-list`); `mmcli -L` human lines are accepted too."""
    flat = parse(text)
    if "modem-list" in flat:
        paths = _list(flat, "modem-list")
        # with no modem, mmcli 1.20 prints `modem-list : 0` (a count, not a path)
        return ModemList([p for p in paths if p.startswith(MODEM_PATH)])
    return ModemList(re.findall(r"(/org/freedesktop/ModemManager1/Modem/\d+)", text))


#: modem states in which the modem is registered with a network
REGISTERED_STATES = {"registered", "connecting", "connected", "disconnecting"}


@dataclass(frozen=True)
class Modem:
    """One modem as `mmcli -m N -K` / `-J` describes it."""

    path: str
    manufacturer: str | None
    model: str | None
    revision: str | None
    equipment_id: str | None
    device: str | None
    drivers: list[str]
    plugin: str | None
    primary_port: str | None
    ports: list[Port]
    state: str | None
    failed_reason: str | None
    power_state: str | None
    unlock_required: str | None
    unlock_retries: dict[str, int]
    access_technologies: list[str]
    signal_quality: int | None
    signal_recent: bool
    imei: str | None
    operator_code: str | None
    operator_name: str | None
    registration_state: str | None
    packet_service_state: str | None
    sim: str | None
    bearers: list[str] = field(default_factory=list)
    #: ModemManager's device identifier (what NetworkManager's `gsm.device-id` matches)
    device_identifier: str | None = None

    @property
    def index(self) -> int | None:
        return index_of(self.path)

    @property
    def registered(self) -> bool:
        return self.state in REGISTERED_STATES

    @property
    def net_ports(self) -> list[str]:
        return [p.name for p in self.ports if p.type == "net"]

    @property
    def sim_index(self) -> int | None:
        return index_of(self.sim)

    @property
    def bearer_indices(self) -> list[int]:
        return [i for b in self.bearers if (i := index_of(b)) is not None]

    def describe_state(self) -> str:
        """The state in ModemManager's words, with the reason when there is one."""
        words = self.state or "unknown"
        if self.state == "failed" and self.failed_reason:
            words += f" ({self.failed_reason})"
        if self.state == "locked" and self.unlock_required:
            retries = self.unlock_retries.get(self.unlock_required)
            words += f" ({self.unlock_required} required"
            words += f", {retries} tries left)" if retries is not None else ")"
        return words


def _retries(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        m = re.match(r"^(\S+)\s*\((\d+)\)$", item.strip())
        if m:
            out[m[1]] = int(m[2])
    return out


def parse_modem(text: str) -> Modem:
    """`mmcli -m N -K` or `mmcli -m N -J`."""
    f = parse(text)
    path = _str(f, "modem.dbus-path")
    if not path:
        raise MmcliParseError("no modem.dbus-path in mmcli output (not `mmcli -m N -K`?)")
    return Modem(
        path=path,
        manufacturer=_str(f, "modem.generic.manufacturer"),
        model=_str(f, "modem.generic.model"),
        revision=_str(f, "modem.generic.revision"),
        equipment_id=_str(f, "modem.generic.equipment-identifier"),
        device_identifier=_str(f, "modem.generic.device-identifier"),
        device=_str(f, "modem.generic.device"),
        drivers=_list(f, "modem.generic.drivers"),
        plugin=_str(f, "modem.generic.plugin"),
        primary_port=_str(f, "modem.generic.primary-port"),
        ports=[Port.parse(p) for p in _list(f, "modem.generic.ports")],
        state=_str(f, "modem.generic.state"),
        failed_reason=_str(f, "modem.generic.state-failed-reason"),
        power_state=_str(f, "modem.generic.power-state"),
        unlock_required=_str(f, "modem.generic.unlock-required"),
        unlock_retries=_retries(_list(f, "modem.generic.unlock-retries")),
        access_technologies=_list(f, "modem.generic.access-technologies"),
        signal_quality=_int(f, "modem.generic.signal-quality.value"),
        signal_recent=_yes(f, "modem.generic.signal-quality.recent"),
        imei=_str(f, "modem.3gpp.imei"),
        operator_code=_str(f, "modem.3gpp.operator-code"),
        operator_name=_str(f, "modem.3gpp.operator-name"),
        registration_state=_str(f, "modem.3gpp.registration-state"),
        packet_service_state=_str(f, "modem.3gpp.packet-service-state"),
        sim=_str(f, "modem.generic.sim"),
        bearers=_list(f, "modem.generic.bearers"),
    )


@dataclass(frozen=True)
class BearerIp:
    method: str | None  # static, dhcp, ppp
    address: str | None
    prefix: int | None
    gateway: str | None
    dns: list[str]
    mtu: int | None


@dataclass(frozen=True)
class Bearer:
    """One bearer as `mmcli -b N -K` / `-J` describes it."""

    path: str
    connected: bool
    suspended: bool
    interface: str | None
    ip_timeout: int | None
    error_name: str | None
    error_message: str | None
    apn: str | None
    user: str | None
    ip_type: str | None
    roaming: str | None
    ipv4: BearerIp
    attempts: int | None
    failed_attempts: int | None

    @property
    def index(self) -> int | None:
        return index_of(self.path)

    @property
    def error(self) -> str | None:
        """The connection error in ModemManager's words (`Missing or unknown APN`)."""
        if not (self.error_name or self.error_message):
            return None
        short = (self.error_name or "").rsplit(".", 1)[-1]
        return f"{self.error_message} ({short})" if short else self.error_message


def parse_bearer(text: str) -> Bearer:
    """`mmcli -b N -K` or `mmcli -b N -J`."""
    f = parse(text)
    path = _str(f, "bearer.dbus-path")
    if not path:
        raise MmcliParseError("no bearer.dbus-path in mmcli output (not `mmcli -b N -K`?)")
    return Bearer(
        path=path,
        connected=_yes(f, "bearer.status.connected"),
        suspended=_yes(f, "bearer.status.suspended"),
        interface=_str(f, "bearer.status.interface"),
        ip_timeout=_int(f, "bearer.status.ip-timeout"),
        error_name=_str(f, "bearer.status.connection-error.name"),
        error_message=_str(f, "bearer.status.connection-error.message"),
        apn=_str(f, "bearer.properties.apn"),
        user=_str(f, "bearer.properties.user"),
        ip_type=_str(f, "bearer.properties.ip-type"),
        roaming=_str(f, "bearer.properties.roaming"),
        ipv4=BearerIp(
            method=_str(f, "bearer.ipv4-config.method"),
            address=_str(f, "bearer.ipv4-config.address"),
            prefix=_int(f, "bearer.ipv4-config.prefix"),
            gateway=_str(f, "bearer.ipv4-config.gateway"),
            dns=_list(f, "bearer.ipv4-config.dns"),
            mtu=_int(f, "bearer.ipv4-config.mtu"),
        ),
        attempts=_int(f, "bearer.stats.attempts"),
        failed_attempts=_int(f, "bearer.stats.failed-attempts"),
    )


@dataclass(frozen=True)
class Sim:
    """One SIM as `mmcli -i N -K` / `-J` describes it."""

    path: str
    active: bool
    imsi: str | None
    iccid: str | None
    operator_code: str | None
    operator_name: str | None

    @property
    def index(self) -> int | None:
        return index_of(self.path)


def parse_sim(text: str) -> Sim:
    """`mmcli -i N -K` or `mmcli -i N -J`."""
    f = parse(text)
    path = _str(f, "sim.dbus-path")
    if not path:
        raise MmcliParseError("no sim.dbus-path in mmcli output (not `mmcli -i N -K`?)")
    return Sim(
        path=path,
        active=_yes(f, "sim.properties.active"),
        imsi=_str(f, "sim.properties.imsi"),
        iccid=_str(f, "sim.properties.iccid"),
        operator_code=_str(f, "sim.properties.operator-code"),
        operator_name=_str(f, "sim.properties.operator-name"),
    )


@dataclass(frozen=True)
class MmcliError:
    """mmcli's `error: ...` line, split into what failed and ModemManager's reason."""

    action: str  # "couldn't connect the modem"
    dbus_error: str | None  # org.freedesktop.ModemManager1.Error.MobileEquipment.IncorrectPassword
    message: str  # "Incorrect password"

    @property
    def short(self) -> str:
        """The D-Bus error's last part (`IncorrectPassword`), or '' when there is none."""
        return (self.dbus_error or "").rsplit(".", 1)[-1]

    def __str__(self) -> str:
        return f"{self.action}: {self.message}" if self.message else self.action


_ERROR = re.compile(r"error: (?P<action>.+?)(?::\s*'(?P<detail>.*)')?\s*$")
_GDBUS = re.compile(r"^GDBus\.Error:(?P<name>[\w.]+):\s*(?P<message>.*)$")


def parse_error(text: str) -> MmcliError | None:
    """The last `error: ...` line of mmcli's output, or None when there is none."""
    found = None
    for line in text.replace("\r", "").splitlines():
        m = _ERROR.search(line.strip())
        if m:
            found = m
    if found is None:
        return None
    detail = found["detail"] or ""
    g = _GDBUS.match(detail)
    if g:
        return MmcliError(found["action"].strip(), g["name"], g["message"].strip())
    return MmcliError(found["action"].strip(), None, detail.strip())
