"""`mmcli` of ModemManager 1.20, answered from the simulated ModemManager.

Machine output as the real tool prints it (checked against recordings of the
real mmcli 1.20.4 in `fixtures/mmcli/`): `-K` with the keys in mmcli's order,
padded to the longest key, `--` for none and lists as `.length`/`.value[N]`
(an empty list as `key : --`); `-J` as one line of nested objects with sorted
keys, every value a string. Errors are mmcli's `error: ...` lines with
ModemManager's D-Bus error names, exit status 1. The human output is coloured
on a terminal, as the real one is.
"""

from __future__ import annotations

import json
import time

from hil.sim.commands import command
from hil.sim.modem.catalog import ModemHardware
from hil.sim.modem.model import Bearer, MMError, ModemManager, ModemUnit
from hil.sim.shell.interp import CommandError, Proc

MODEM_PATH = "/org/freedesktop/ModemManager1/Modem/"
BEARER_PATH = "/org/freedesktop/ModemManager1/Bearer/"
SIM_PATH = "/org/freedesktop/ModemManager1/SIM/"
Value = str | list[str] | None


class MmcliError(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}", 1)


def _mm(p: Proc) -> ModemManager:
    mm: ModemManager | None = p.world.subsystems.get("modems")  # type: ignore[assignment]
    if mm is None or not mm.running:
        raise MmcliError("couldn't find the ModemManager process in the bus")
    mm.world.nm.tick()  # ModemManager's model catches up first (a tick hook)
    return mm


# -- option parsing ---------------------------------------------------------------


def _options(args: list[str]) -> dict[str, str | None]:
    """mmcli's GLib options: `--name=value`, `--name value`, `-x value`, flags."""
    takes_value = {"-m": "modem", "-b": "bearer", "-i": "sim", "--timeout": "timeout"}
    long_values = {"modem", "bearer", "sim", "pin", "simple-connect", "timeout", "puk"}
    short_flags = {
        "-L": "list-modems",
        "-K": "output-keyvalue",
        "-J": "output-json",
        "-e": "enable",
        "-d": "disable",
        "-r": "reset",
        "-B": "get-daemon-version",
        "-S": "scan-modems",
        "-V": "version",
    }
    opts: dict[str, str | None] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if not eq and name in long_values and i + 1 < len(args):
                value, i = args[i + 1], i + 1
            opts[name] = value if (eq or name in long_values) else None
        elif a in takes_value:
            if i + 1 >= len(args):
                raise MmcliError(f"missing argument for {a}")
            opts[takes_value[a]], i = args[i + 1], i + 1
        elif a in short_flags:
            opts[short_flags[a]] = None
        else:
            raise CommandError(f"Unknown option {a}", 1)
        i += 1
    return opts


def _find_modem(mm: ModemManager, which: str) -> ModemUnit:
    exported = mm.exported()
    if which == "any" and exported:
        return exported[0]
    key = which.removeprefix(MODEM_PATH)
    if key.isdigit():
        unit = mm.by_index(int(key))
        if unit is not None:
            return unit
    raise MmcliError("couldn't find modem")


# -- output -----------------------------------------------------------------------


def _keyvalue(p: Proc, pairs: list[tuple[str, Value]]) -> None:
    lines: list[tuple[str, str]] = []
    for key, value in pairs:
        if isinstance(value, list):
            if not value:
                lines.append((key, "--"))
                continue
            lines.append((f"{key}.length", str(len(value))))
            lines += [(f"{key}.value[{i}]", v) for i, v in enumerate(value, 1)]
        else:
            lines.append((key, "--" if value is None else value))
    width = max(len(k) for k, _ in lines)
    p.out("".join(f"{k:<{width}} : {v}\n" for k, v in lines))


def _json(p: Proc, pairs: list[tuple[str, Value]]) -> None:
    root: dict = {}
    for key, value in pairs:
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value if isinstance(value, list) else ("--" if value is None else value)
    p.out(json.dumps(root, sort_keys=True, separators=(",", ":")) + "\n")


def _emit(p: Proc, opts: dict, pairs: list[tuple[str, Value]], human) -> None:
    if "output-json" in opts:
        _json(p, pairs)
    elif "output-keyvalue" in opts:
        _keyvalue(p, pairs)
    else:
        human()


def _tty(p: Proc) -> bool:
    return p.shell.term_out is p._out


# -- objects ----------------------------------------------------------------------


def modem_pairs(mm: ModemManager, unit: ModemUnit) -> list[tuple[str, Value]]:
    """`mmcli -m N -K` keys in the real tool's order, with the model's values."""
    hw = unit.hardware
    state = mm.state(unit)
    operator_code, operator_name = mm.operator(unit)
    registration = mm.registration(unit)
    now = mm.now()
    retries = []
    if mm.sim_locked(unit):
        sim = unit.sim
        retries = [f"sim-pin ({sim.pin_tries})", f"sim-puk ({sim.puk_tries})"]
        retries += ["sim-pin2 (3)", "sim-puk2 (10)"]
    access = list(hw.access_technologies) if registration == "home" else []
    sim_path = None if mm.sim_missing(unit) else f"{SIM_PATH}{unit.sim.index}"
    imei = None if state in ("failed", "locked") else mm.imei(unit)
    return [
        ("modem.dbus-path", f"{MODEM_PATH}{unit.index}"),
        ("modem.generic.device-identifier", mm.device_identifier(unit)),
        ("modem.generic.manufacturer", hw.manufacturer),
        ("modem.generic.model", hw.mm_model),
        ("modem.generic.revision", unit.spec.firmware or hw.revision),
        ("modem.generic.carrier-configuration", None),
        ("modem.generic.carrier-configuration-revision", None),
        ("modem.generic.hardware-revision", None),
        ("modem.generic.supported-capabilities", [hw.capabilities]),
        ("modem.generic.current-capabilities", [hw.capabilities]),
        ("modem.generic.equipment-identifier", mm.imei(unit)),
        ("modem.generic.device", _sysfs(unit)),
        ("modem.generic.drivers", list(hw.drivers)),
        ("modem.generic.plugin", hw.plugin),
        ("modem.generic.primary-port", hw.primary_port),
        ("modem.generic.ports", [f"{n} ({t})" for n, t in hw.ports]),
        ("modem.generic.own-numbers", []),
        ("modem.generic.unlock-required", mm.unlock_required(unit)),
        ("modem.generic.unlock-retries", retries),
        ("modem.generic.state", state),
        ("modem.generic.state-failed-reason", "sim-missing" if state == "failed" else None),
        ("modem.generic.power-state", "on"),
        ("modem.generic.access-technologies", access),
        ("modem.generic.signal-quality.value", str(mm.signal(unit))),
        ("modem.generic.signal-quality.recent", "yes"),
        ("modem.generic.supported-modes", ["allowed: 2g, 3g, 4g; preferred: 4g"]),
        ("modem.generic.current-modes", "allowed: 2g, 3g, 4g; preferred: 4g"),
        ("modem.generic.supported-bands", []),
        ("modem.generic.current-bands", []),
        ("modem.generic.supported-ip-families", ["ipv4", "ipv6", "ipv4v6"]),
        ("modem.3gpp.imei", imei),
        ("modem.3gpp.enabled-locks", ["sim"] if unit.sim.state == "locked" else []),
        ("modem.3gpp.operator-code", operator_code),
        ("modem.3gpp.operator-name", operator_name),
        ("modem.3gpp.registration-state", registration),
        ("modem.3gpp.packet-service-state", _packet_service(registration)),
        ("modem.3gpp.pco", None),
        ("modem.3gpp.eps.ue-mode-operation", None),
        ("modem.3gpp.eps.initial-bearer.dbus-path", None),
        ("modem.3gpp.eps.initial-bearer.settings.apn", None),
        ("modem.3gpp.eps.initial-bearer.settings.ip-type", None),
        ("modem.3gpp.eps.initial-bearer.settings.user", None),
        ("modem.3gpp.eps.initial-bearer.settings.password", None),
        ("modem.3gpp.5gnr.registration-settings.mico-mode", None),
        ("modem.3gpp.5gnr.registration-settings.drx-cycle", None),
        ("modem.cdma.meid", None),
        ("modem.cdma.esn", None),
        ("modem.cdma.sid", None),
        ("modem.cdma.nid", None),
        ("modem.cdma.cdma1x-registration-state", None),
        ("modem.cdma.evdo-registration-state", None),
        ("modem.cdma.activation-state", None),
        ("modem.generic.sim", sim_path),
        ("modem.generic.primary-sim-slot", None),
        ("modem.generic.sim-slots", []),
        ("modem.generic.bearers", [f"{BEARER_PATH}{b.index}" for b in _visible(unit, now)]),
    ]


def _visible(unit: ModemUnit, now: float) -> list[Bearer]:
    return [b for b in unit.bearers if not b.disconnected or b.failed(now)]


def _packet_service(registration: str | None) -> str | None:
    if registration is None:
        return None
    return "attached" if registration == "home" else "detached"


def _sysfs(unit: ModemUnit) -> str:
    """The USB device's sysfs path, as udev and the bus have it."""
    return f"/sys{unit.usb.devpath}"


def _data_port(hardware: ModemHardware) -> str:
    return hardware.primary_port if hardware.ip_method == "ppp" else hardware.net_port


def bearer_pairs(mm: ModemManager, b: Bearer) -> list[tuple[str, Value]]:
    now = mm.now()
    connected = b.connected(now)
    error = b.error if b.failed(now) else None
    ip = b.ip if connected else None
    method = b.unit.hardware.ip_method if connected else None
    pairs: list[tuple[str, Value]] = [
        ("bearer.dbus-path", f"{BEARER_PATH}{b.index}"),
        ("bearer.type", "default"),
        ("bearer.status.connected", "yes" if connected else "no"),
        ("bearer.status.connection-error.name", error[0] if error else None),
        ("bearer.status.connection-error.message", error[1] if error else None),
        ("bearer.status.suspended", "no"),
        ("bearer.status.multiplexed", "no"),
        # PPP: ModemManager names the serial port it dialled on (pppd makes ppp0)
        ("bearer.status.interface", _data_port(b.unit.hardware) if connected else None),
        ("bearer.status.ip-timeout", "20"),
        ("bearer.status.profile-id", "1" if connected else None),
        ("bearer.properties.apn", b.apn or None),
        ("bearer.properties.apn-type", None),
        ("bearer.properties.roaming", "allowed"),
        ("bearer.properties.ip-type", None),
        ("bearer.properties.allowed-auth", []),
        ("bearer.properties.user", b.user),
        ("bearer.properties.password", b.password),
        ("bearer.properties.profile-id", None),
        ("bearer.properties.rm-protocol", None),
        ("bearer.properties.access-type-preference", None),
        ("bearer.properties.roaming-allowance", None),
        ("bearer.ipv4-config.method", method),
        ("bearer.ipv4-config.address", ip.address if ip and method != "dhcp" else None),
        ("bearer.ipv4-config.prefix", str(ip.prefix) if ip and method != "dhcp" else None),
        ("bearer.ipv4-config.gateway", ip.gateway if ip and method == "static" else None),
        ("bearer.ipv4-config.dns", list(ip.dns) if ip and method != "dhcp" else []),
        ("bearer.ipv4-config.mtu", str(ip.mtu) if ip and method == "static" else None),
    ]
    pairs += [(f"bearer.ipv6-config.{k}", None) for k in ("method", "address", "prefix")]
    pairs += [("bearer.ipv6-config.gateway", None), ("bearer.ipv6-config.dns", [])]
    pairs += [("bearer.ipv6-config.mtu", None)]
    if connected:
        started = int(time.time() - mm.world.clock.real_seconds(now - b.ready_at))
        pairs.append(("bearer.stats.start-date", str(started)))
    pairs += [
        ("bearer.stats.duration", None),
        ("bearer.stats.uplink-speed", None),
        ("bearer.stats.downlink-speed", None),
        ("bearer.stats.bytes-rx", None),
        ("bearer.stats.bytes-tx", None),
        ("bearer.stats.attempts", "1"),
        ("bearer.stats.failed-attempts", "1" if error else None),
        ("bearer.stats.total-duration", None),
        ("bearer.stats.total-bytes-rx", None),
        ("bearer.stats.total-bytes-tx", None),
    ]
    return pairs


def sim_pairs(mm: ModemManager, unit: ModemUnit) -> list[tuple[str, Value]]:
    code, name = "23410", unit.spec.operator
    locked = mm.sim_locked(unit)
    seed = sum(map(ord, unit.usb_path)) % 10**8
    return [
        ("sim.dbus-path", f"{SIM_PATH}{unit.sim.index}"),
        ("sim.properties.active", "yes"),
        ("sim.properties.imsi", None if locked else f"2341000{seed:08d}"),
        ("sim.properties.iccid", f"894410{seed:012d}00"),
        ("sim.properties.eid", None),
        ("sim.properties.operator-code", None if locked else code),
        ("sim.properties.operator-name", None if locked else name),
        ("sim.properties.emergency-numbers", []),
        ("sim.properties.gid1", None),
        ("sim.properties.gid2", None),
        ("sim.properties.sim-type", None),
        ("sim.properties.esim-status", None),
        ("sim.properties.removability", None),
    ]


def _human(p: Proc, title_pairs: list[tuple[str, Value]]) -> None:
    """A readable rendering (the real one groups by section; parse -K/-J instead)."""
    colour = _tty(p) and "NO_COLOR" not in p.shell.env
    p.out("  " + "-" * 34 + "\n")
    for key, value in title_pairs:
        text = ", ".join(value) if isinstance(value, list) else (value or "--")
        if colour and key.endswith(".state"):
            good = text in ("registered", "connected")
            text = f"\x1b[{32 if good else 31}m{text}\x1b[0m"
        p.out(f"  {key.split('.', 1)[-1]:>40} | {text}\n")


# -- mmcli ------------------------------------------------------------------------


@command("mmcli")
def mmcli(p: Proc) -> int:
    try:
        opts = _options(p.args[1:])
        if "version" in opts:
            p.out("mmcli 1.20.4\n")
            return 0
        mm = _mm(p)
        if "get-daemon-version" in opts:
            p.out("ModemManager daemon 1.20.4 running\n")
            return 0
        if "list-modems" in opts:
            return _list(p, mm, opts)
        if "scan-modems" in opts:
            p.out("successfully requested to scan devices\n")
            return 0
        if "bearer" in opts:
            return _bearer(p, mm, opts)
        if "sim" in opts:
            return _sim(p, mm, opts)
        if "modem" in opts:
            return _modem(p, mm, opts)
        raise MmcliError("no actions specified")
    except MMError as e:
        p.err(f"error: {e.action}: 'GDBus.Error:{e.name}: {e.message}'\n")
        return 1
    except CommandError as e:
        p.err(f"{e}\n")
        return e.status


def _fail(action: str, e: MMError) -> MMError:
    e.action = action
    return e


def _list(p: Proc, mm: ModemManager, opts: dict) -> int:
    units = mm.exported()
    paths = [f"{MODEM_PATH}{u.index}" for u in units]
    if "output-json" in opts:
        p.out(json.dumps({"modem-list": paths}, separators=(",", ":")) + "\n")
    elif "output-keyvalue" in opts:
        if not paths:
            p.out("modem-list : 0\n")  # what mmcli 1.20 prints for none
        else:
            _keyvalue(p, [("modem-list", paths)])
    elif not units:
        p.out("No modems were found\n")
    else:
        for u in units:
            p.out(f"    {MODEM_PATH}{u.index} [{u.hardware.manufacturer}] {u.hardware.mm_model}\n")
    return 0


def _modem(p: Proc, mm: ModemManager, opts: dict) -> int:
    unit = _find_modem(mm, opts["modem"] or "")
    try:
        if "enable" in opts:
            mm.enable(unit)
            p.out("successfully enabled the modem\n")
        elif "disable" in opts:
            mm.disable(unit)
            p.out("successfully disabled the modem\n")
        elif "reset" in opts:
            mm.reset(unit)
            p.out("successfully reset the modem\n")
        elif "simple-connect" in opts:
            return _simple_connect(p, mm, unit, opts["simple-connect"] or "")
        elif "simple-disconnect" in opts:
            mm.disconnect_all(unit)
            p.out("successfully disconnected all bearers in the modem\n")
        else:
            pairs = modem_pairs(mm, unit)
            _emit(p, opts, pairs, lambda: _human(p, pairs))
    except MMError as e:
        if not e.action:
            verb = next((k for k in ("enable", "disable", "reset") if k in opts), "use")
            e.action = f"couldn't {verb} the modem"
        raise
    return 0


def _simple_connect(p: Proc, mm: ModemManager, unit: ModemUnit, spec: str) -> int:
    props = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    try:
        if "pin" in props and mm.sim_locked(unit):
            mm.send_pin(unit, props["pin"])
        bearer = mm.connect(unit, props.get("apn", ""), props.get("user"), props.get("password"))
    except MMError as e:
        raise _fail("couldn't connect the modem", e) from None
    p.sleep(mm.world.clock.real_seconds(max(0.0, bearer.ready_at - mm.now())))
    mm.tick()
    if bearer.error is not None:
        raise _fail("couldn't connect the modem", MMError(*bearer.error))
    p.out("successfully connected the modem\n")
    return 0


def _bearer(p: Proc, mm: ModemManager, opts: dict) -> int:
    key = (opts["bearer"] or "").removeprefix(BEARER_PATH)
    b = mm.bearer(int(key)) if key.isdigit() else None
    if b is None:
        raise MmcliError(f"couldn't find bearer at '{BEARER_PATH}{key}': 'not found in any modem'")
    pairs = bearer_pairs(mm, b)
    _emit(p, opts, pairs, lambda: _human(p, pairs))
    return 0


def _sim(p: Proc, mm: ModemManager, opts: dict) -> int:
    key = (opts["sim"] or "").removeprefix(SIM_PATH)
    unit = next(
        (
            u
            for u in mm.exported()
            if not mm.sim_missing(u) and key.isdigit() and u.sim.index == int(key)
        ),
        None,
    )
    if unit is None:
        raise MmcliError("couldn't find SIM")
    if "pin" in opts:
        try:
            mm.send_pin(unit, opts["pin"] or "")
        except MMError as e:
            raise _fail("couldn't send PIN code to the SIM", e) from None
        p.out("successfully sent PIN code to the SIM\n")
        return 0
    pairs = sim_pairs(mm, unit)
    _emit(p, opts, pairs, lambda: _human(p, pairs))
    return 0
