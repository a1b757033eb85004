"""`nmcli` of NetworkManager 1.42, answered from the simulated NetworkManager.

Output formats follow the real tool: tabular with padded columns, `-t`
terse with `:` separators and `\\:`/`\\\\` escaping, `-f`/`-g` field
selection, `-m multiline` for `show`, colours when the console is a
terminal (unless `--colors no` or NO_COLOR), nmcli's messages and exit codes
(2 bad input, 4 activation failed, 8 NetworkManager not running, 10 no such
connection or device).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.sim.commands import command
from hil.sim.nm import NetworkManager, Profile, ProfileError, State
from hil.sim.nm.devices import WifiDevice
from hil.sim.nm.profiles import NMCLI_TYPES
from hil.sim.shell.interp import CommandError, Proc

COLORS = {"green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "gray": "\x1b[2m"}
RESET = "\x1b[0m"
SETTING_ALIASES = {
    "wifi-sec": "wifi-security",
    "802-11-wireless-security": "wifi-security",
    "802-11-wireless": "wifi",
    "802-3-ethernet": "ethernet",
    "con": "connection",
    "ip4": "ipv4",
    "ip6": "ipv6",
}
#: `nmcli connection add` shorthand options → (setting, property)
ADD_ALIASES = {
    "con-name": ("connection", "id"),
    "ifname": ("connection", "interface-name"),
    "autoconnect": ("connection", "autoconnect"),
    "ssid": ("wifi", "ssid"),
    "apn": ("gsm", "apn"),
    "ip4": ("ipv4", "address1"),
    "gw4": ("ipv4", "gateway"),
    "mode": ("wifi", "mode"),
    "password": ("gsm", "password"),
    "user": ("gsm", "username"),
}
SECRET_KEYS = {"psk", "password", "pin", "wep-key0", "private-key-password"}


class NmcliError(CommandError):
    pass


@dataclass
class Opts:
    terse: bool = False
    fields: list[str] | None = None
    get_values: bool = False
    colors: bool = False
    escape: bool = True
    mode: str | None = None
    show_secrets: bool = False
    wait: float = 90.0
    rest: list[str] = field(default_factory=list)


def _parse_globals(p: Proc) -> Opts:
    o = Opts()
    args = p.args[1:]
    colors = "auto"
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        val = args[i + 1] if i + 1 < len(args) else None
        if a in ("-t", "--terse"):
            o.terse = True
        elif a in ("-f", "--fields"):
            o.fields, i = (val or "").split(","), i + 1
        elif a in ("-g", "--get-values"):
            o.fields, o.get_values, o.terse, i = (val or "").split(","), True, True, i + 1
        elif a in ("-c", "--colors"):
            colors, i = val or "auto", i + 1
        elif a in ("-e", "--escape"):
            o.escape, i = val != "no", i + 1
        elif a in ("-m", "--mode"):
            o.mode, i = val, i + 1
        elif a in ("-s", "--show-secrets"):
            o.show_secrets = True
        elif a in ("-w", "--wait"):
            o.wait, i = float(val or 90), i + 1
        elif a in ("-p", "--pretty"):
            pass
        else:
            raise NmcliError(f"Error: Option '{a}' is unknown, try 'nmcli -help'.", 2)
        i += 1
    o.rest = args[i:]
    tty = p.shell.term_out is p._out  # output goes straight to the console, a terminal
    o.colors = colors == "yes" or (colors == "auto" and tty and "NO_COLOR" not in p.shell.env)
    return o


def _match(word: str, choices: list[str], what: str) -> str:
    hits = [c for c in choices if c.startswith(word)]
    if word in choices:
        return word
    if len(hits) == 1:
        return hits[0]
    raise NmcliError(f"Error: {what} '{word}' is unknown, try 'nmcli help'.", 2)


# -- output ----------------------------------------------------------------


def _esc(value: str, o: Opts) -> str:
    if o.terse and o.escape:
        return value.replace("\\", "\\\\").replace(":", "\\:")
    return value


def _paint(value: str, color: str | None, o: Opts) -> str:
    return f"{COLORS[color]}{value}{RESET}" if o.colors and color else value


def _select(all_fields: list[str], o: Opts, default: list[str] | None = None) -> list[str]:
    wanted = o.fields or default or all_fields
    if wanted == ["all"]:
        return all_fields
    if wanted == ["common"]:
        return default or all_fields
    for f in wanted:
        if f not in all_fields:
            raise NmcliError(
                f"Error: invalid field '{f}'; allowed fields: {','.join(all_fields)}.", 2
            )
    return wanted


def _table(p: Proc, o: Opts, names: list[str], rows: list[dict[str, tuple[str, str | None]]]):
    """Print rows of {field: (value, color)} as nmcli's tabular or terse output."""
    if o.terse:
        for row in rows:
            p.out(":".join(_paint(_esc(row[n][0], o), row[n][1], o) for n in names) + "\n")
        return
    # as nmcli pads: each column to its widest value + 2, the last one + 1
    widths = {n: max([len(n)] + [len(r[n][0]) for r in rows]) + 2 for n in names}
    widths[names[-1]] -= 1
    p.out("".join(n.ljust(widths[n]) for n in names) + "\n")
    for row in rows:
        p.out("".join(_paint(row[n][0].ljust(widths[n]), row[n][1], o) for n in names) + "\n")


def _multiline(p: Proc, o: Opts, pairs: list[tuple[str, str]]) -> None:
    names = o.fields
    for key, value in pairs:
        section = key.split(".")[0].split("[")[0]
        if names and not any(key.startswith(n) or section == n for n in names):
            continue
        # multiline terse output does not escape values (unlike tabular terse)
        if o.get_values:
            p.out(value + "\n")
        elif o.terse:
            p.out(f"{key}:{value}\n")
        else:
            p.out(f"{key + ':':<40}{value}\n")


def _state_color(state: State) -> str:
    if state == State.ACTIVATED:
        return "green"
    if State.PREPARE <= state < State.ACTIVATED:
        return "yellow"
    if state in (State.UNAVAILABLE, State.UNMANAGED):
        return "gray"
    return "red"


def _nm(p: Proc) -> NetworkManager:
    nm: NetworkManager = p.world.nm
    if not nm.running:
        raise NmcliError("Error: NetworkManager is not running.", 8)
    nm.tick()
    return nm


# -- nmcli -------------------------------------------------------------------


@command("nmcli")
def nmcli(p: Proc) -> int:
    try:
        o = _parse_globals(p)
        if not o.rest:
            return _device_status(p, o)
        obj = _match(
            o.rest[0],
            ["general", "networking", "radio", "connection", "device", "monitor", "help"],
            "Object",
        )
        handler = {
            "general": _general,
            "networking": _networking,
            "radio": _radio,
            "connection": _connection,
            "device": _device,
        }.get(obj)
        if handler is None:
            p.out("Usage: nmcli [OPTIONS] OBJECT { COMMAND | help }\n")
            return 0
        return handler(p, o, o.rest[1:])
    except NmcliError as e:
        p.err(str(e) + "\n")
        return e.status


def _general(p: Proc, o: Opts, args: list[str]) -> int:
    sub = (
        _match(args[0], ["status", "hostname", "permissions", "logging"], "Command")
        if args
        else "status"
    )
    if sub == "hostname":
        p.out(p.world.hostname + "\n")
        return 0
    nm = _nm(p)
    states = [st.state for st in nm.devices.values()]
    if State.ACTIVATED in states:
        state = "connected (site only)" if not nm.default_device() else "connected"
    elif any(State.PREPARE <= s < State.ACTIVATED for s in states):
        state = "connecting"
    else:
        state = "disconnected"
    conn = connectivity(p.world)
    wifi = "enabled" if nm.wifi_enabled else "disabled"
    row = {
        "RUNNING": ("running", None),
        "VERSION": ("1.42.4", None),
        "STATE": (state, "green" if state == "connected" else "red"),
        "STARTUP": ("started", None),
        "CONNECTIVITY": (conn, "green" if conn == "full" else "red"),
        "NETWORKING": ("enabled", "green"),
        "WIFI-HW": ("enabled", "green"),
        "WIFI": (wifi, "green" if wifi == "enabled" else "red"),
        "WWAN-HW": ("enabled", "green"),
        "WWAN": ("enabled", "green"),
    }
    names = _select(list(row), o, ["STATE", "CONNECTIVITY", "WIFI-HW", "WIFI", "WWAN-HW", "WWAN"])
    _table(p, o, names, [row])
    return 0


def connectivity(world) -> str:
    """NetworkManager's connectivity state; the lab model may refine it."""
    check = world.subsystems.get("connectivity")
    if check is not None:
        return check()
    nm: NetworkManager = world.nm
    return "full" if nm.default_device() else "none"


def _networking(p: Proc, o: Opts, args: list[str]) -> int:
    sub = _match(args[0], ["on", "off", "connectivity"], "Command") if args else "status"
    nm = _nm(p)
    if sub == "connectivity":
        p.out(connectivity(p.world) + "\n")
    elif sub == "status":
        p.out("enabled\n")
    return 0 if nm else 1


def _radio(p: Proc, o: Opts, args: list[str]) -> int:
    nm = _nm(p)
    if not args or _match(args[0], ["all", "wifi", "wwan"], "Command") == "all":
        on = "enabled" if nm.wifi_enabled else "disabled"
        _table(
            p,
            o,
            ["WIFI-HW", "WIFI", "WWAN-HW", "WWAN"],
            [
                {
                    "WIFI-HW": ("enabled", None),
                    "WIFI": (on, None),
                    "WWAN-HW": ("enabled", None),
                    "WWAN": ("enabled", None),
                }
            ],
        )
        return 0
    if len(args) == 1:
        p.out(("enabled" if nm.wifi_enabled else "disabled") + "\n")
        return 0
    nm.wifi_enabled = args[1] == "on"
    for st in nm.devices.values():
        if isinstance(st.device, WifiDevice):
            st.device.radio_on = nm.wifi_enabled
            if not nm.wifi_enabled:
                st.activation = None
                st.state = State.UNAVAILABLE
    nm.autoconnect()
    return 0


# -- device ------------------------------------------------------------------


def _device(p: Proc, o: Opts, args: list[str]) -> int:
    if not args:
        return _device_status(p, o)
    sub = _match(args[0], ["status", "show", "wifi", "connect", "disconnect", "reapply"], "Command")
    if sub == "status":
        return _device_status(p, o)
    if sub == "show":
        return _device_show(p, o, args[1:])
    if sub == "wifi":
        return _wifi(p, o, args[1:])
    if sub == "connect":
        return _device_connect(p, o, args[1:])
    if sub == "disconnect":
        return _device_disconnect(p, args[1:])
    return 0


def _device_status(p: Proc, o: Opts) -> int:
    nm = _nm(p)
    rows = []
    devices = sorted(
        nm.devices.values(), key=lambda st: (-int(st.state == State.ACTIVATED), st.device.name)
    )
    for st in devices:
        act = st.activation
        rows.append(
            {
                "DEVICE": (st.device.name, None),
                "TYPE": (st.device.type, None),
                "STATE": (st.state.words, _state_color(st.state)),
                "CONNECTION": (act.profile.id if act else "--", None),
                "CON-UUID": (act.profile.uuid if act else "--", None),
                "CON-PATH": (
                    f"/org/freedesktop/NetworkManager/ActiveConnection/{act.number}"
                    if act
                    else "--",
                    None,
                ),
            }
        )
    rows.append(
        {
            "DEVICE": ("lo", None),
            "TYPE": ("loopback", None),
            "STATE": ("unmanaged", "gray"),
            "CONNECTION": ("--", None),
            "CON-UUID": ("--", None),
            "CON-PATH": ("--", None),
        }
    )
    names = _select(
        ["DEVICE", "TYPE", "STATE", "CONNECTION", "CON-UUID", "CON-PATH"],
        o,
        ["DEVICE", "TYPE", "STATE", "CONNECTION"],
    )
    _table(p, o, names, rows)
    return 0


def device_properties(nm: NetworkManager, name: str) -> list[tuple[str, str]]:
    st = nm.devices[name]
    act = st.activation
    pairs = [
        ("GENERAL.DEVICE", name),
        ("GENERAL.TYPE", st.device.type),
        ("GENERAL.HWADDR", st.device.mac.upper() if st.device.type != "gsm" else "(unknown)"),
        ("GENERAL.MTU", "1500"),
        ("GENERAL.STATE", f"{int(st.state)} ({st.state.words})"),
        ("GENERAL.CONNECTION", act.profile.id if act else "--"),
        (
            "GENERAL.IP-IFACE",
            st.device.ip_iface if st.state == State.ACTIVATED or st.device.type != "gsm" else "--",
        ),
        (
            "GENERAL.CON-PATH",
            f"/org/freedesktop/NetworkManager/ActiveConnection/{act.number}" if act else "--",
        ),
    ]
    if st.device.type == "ethernet":
        pairs.append(("WIRED-PROPERTIES.CARRIER", "on"))
    if act and st.state == State.ACTIVATED and act.ip and act.ip.address:
        ip = act.ip
        pairs.append(("IP4.ADDRESS[1]", ip.address))
        pairs.append(("IP4.GATEWAY", ip.gateway or "--"))
        routes = [r for r in nm.routes() if r["dev"] == st.device.ip_iface]
        for i, r in enumerate(routes, 1):
            dst = "0.0.0.0/0" if r["dst"] == "default" else r["dst"]
            pairs.append(
                (
                    f"IP4.ROUTE[{i}]",
                    f"dst = {dst}, nh = {r.get('gateway', '0.0.0.0')}, mt = {r['metric']}",
                )
            )
        for i, d in enumerate(ip.dns, 1):
            pairs.append((f"IP4.DNS[{i}]", d))
    else:
        pairs.append(("IP4.GATEWAY", "--"))
    return pairs


def _device_show(p: Proc, o: Opts, args: list[str]) -> int:
    nm = _nm(p)
    names = args or list(nm.devices)
    for i, name in enumerate(names):
        if name not in nm.devices:
            raise NmcliError(f"Error: Device '{name}' not found.", 10)
        if i:
            p.out("\n")
        _multiline(p, o, device_properties(nm, name))
    return 0


def _device_connect(p: Proc, o: Opts, args: list[str]) -> int:
    nm = _nm(p)
    if not args or args[0] not in nm.devices:
        raise NmcliError(f"Error: Device '{args[0] if args else ''}' not found.", 10)
    st = nm.devices[args[0]]
    st.blocked.clear()
    candidates = [pr for pr in nm.profiles if st.device.can_autoconnect(pr)]
    if not candidates:
        raise NmcliError(
            f"Error: Failed to add/activate new connection: No suitable "
            f"connection found for device '{args[0]}'.",
            4,
        )
    best = max(candidates, key=lambda pr: (pr.priority, -pr.order))
    return _wait_activation(
        p,
        o,
        nm,
        best,
        st.device.name,
        f"Device '{args[0]}' successfully activated with '{best.uuid}'.",
    )


def _device_disconnect(p: Proc, args: list[str]) -> int:
    nm = _nm(p)
    if not args or args[0] not in nm.devices:
        raise NmcliError(f"Error: Device '{args[0] if args else ''}' not found.", 10)
    st = nm.devices[args[0]]
    if st.activation:
        nm.deactivate(st.activation.profile)
    p.out(f"Device '{args[0]}' successfully disconnected.\n")
    return 0


def _bars(signal: int, utf8: bool) -> str:
    """nmcli's BARS: block characters in a UTF-8 locale, `*` otherwise (the console's C)."""
    glyphs, empty = ("▂▄▆█", "_") if utf8 else ("****", " ")
    return "".join(c if signal > t else empty for c, t in zip(glyphs, (0, 25, 50, 75), strict=True))


def _wifi(p: Proc, o: Opts, args: list[str]) -> int:
    nm = _nm(p)
    sub = _match(args[0], ["list", "connect", "rescan", "hotspot"], "Command") if args else "list"
    wlan = next((st for st in nm.devices.values() if isinstance(st.device, WifiDevice)), None)
    if wlan is None:
        raise NmcliError("Error: No Wi-Fi device found.", 10)
    dev: WifiDevice = wlan.device  # type: ignore[assignment]
    if sub == "rescan":
        return 0
    if sub == "connect":
        return _wifi_connect(p, o, nm, dev, args[1:])
    if sub == "hotspot":
        handler = p.world.subsystems.get("nmcli-hotspot")
        if handler is None:
            raise NmcliError("Error: hotspot is not supported by this board.", 1)
        return handler(p, args[1:])
    active = (
        wlan.activation.profile.ssid if wlan.activation and wlan.state == State.ACTIVATED else None
    )
    rows = []
    for net in sorted(dev.visible(), key=lambda n: -n.signal):
        security = {"wpa-psk": "WPA2", "wpa-eap": "WPA2 802.1X", "none": ""}[net.security]
        chan = net.channel
        freq = 2407 + 5 * chan if chan <= 14 else 5000 + 5 * chan
        in_use = "*" if net.ssid == active else " "
        rows.append(
            {
                "IN-USE": (in_use, None),
                "BSSID": (dev.bssid(net), None),
                "SSID": (net.ssid, None),
                "MODE": ("Infra", None),
                "CHAN": (str(chan), None),
                "FREQ": (f"{freq} MHz", None),
                "RATE": ("130 Mbit/s", None),
                "SIGNAL": (str(net.signal), None),
                "BARS": (_bars(net.signal, "UTF-8" in p.shell.env.get("LANG", "")), None),
                "SECURITY": (security or "--", None),
                "ACTIVE": ("yes" if in_use == "*" else "no", None),
                "DEVICE": (dev.name, None),
            }
        )
    all_fields = [
        "IN-USE",
        "BSSID",
        "SSID",
        "MODE",
        "CHAN",
        "FREQ",
        "RATE",
        "SIGNAL",
        "BARS",
        "SECURITY",
        "ACTIVE",
        "DEVICE",
    ]
    names = _select(
        all_fields,
        o,
        ["IN-USE", "BSSID", "SSID", "MODE", "CHAN", "RATE", "SIGNAL", "BARS", "SECURITY"],
    )
    _table(p, o, names, rows)
    return 0


def _wifi_connect(p: Proc, o: Opts, nm: NetworkManager, dev: WifiDevice, args: list[str]) -> int:
    if not args:
        raise NmcliError("Error: SSID or BSSID are missing.", 2)
    ssid, opts = args[0], dict(zip(args[1::2], args[2::2], strict=False))
    hidden = opts.get("hidden") == "yes"
    if dev.find(ssid, hidden=hidden) is None:
        raise NmcliError(f"Error: No network with SSID '{ssid}' found.", 10)
    settings: dict[str, dict[str, str]] = {
        "connection": {"id": opts.get("name", ssid), "type": "wifi"},
        "wifi": {"ssid": ssid, "mode": "infrastructure"},
        "ipv4": {"method": "auto"},
        "ipv6": {"method": "auto"},
    }
    if hidden:
        settings["wifi"]["hidden"] = "true"
    if "password" in opts:
        settings["wifi-security"] = {"key-mgmt": "wpa-psk", "psk": opts["password"]}
    profile = nm.add(Profile(settings), save=True)
    try:
        return _wait_activation(
            p,
            o,
            nm,
            profile,
            dev.name,
            f"Device '{dev.name}' successfully activated with '{profile.uuid}'.",
        )
    except NmcliError:
        nm.delete(profile)  # nmcli removes the profile it created when activation fails
        raise


def _wait_activation(
    p: Proc, o: Opts, nm: NetworkManager, profile: Profile, ifname: str | None, success: str
) -> int:
    device = nm.devices[ifname].device if ifname else None
    try:
        act = nm.activate(profile, device)
    except ProfileError as e:
        raise NmcliError(f"Error: Connection activation failed: {e}.", 4) from None
    # nmcli waits (up to --wait) for the outcome: sleep through it in compressed time
    wait = min(act.duration, o.wait)
    p.sleep(p.world.clock.real_seconds(wait))
    nm.tick()
    if act.outcome == State.FAILED and act.duration <= o.wait:
        raise NmcliError(
            f"Error: Connection activation failed: {act.failure}\nHint: use 'journalctl -xe "
            f"NM_CONNECTION={profile.uuid} + NM_DEVICE={act.device.name}' to get more details.",
            4,
        )
    if act.duration > o.wait:
        raise NmcliError("Error: Timeout expired.", 3)
    p.out(success + "\n")
    return 0


# -- connection ----------------------------------------------------------------


def _connection(p: Proc, o: Opts, args: list[str]) -> int:
    sub = (
        _match(
            args[0],
            ["show", "up", "down", "add", "modify", "delete", "reload", "load", "import", "clone"],
            "Command",
        )
        if args
        else "show"
    )
    rest = args[1:]
    if sub == "show":
        return _con_show(p, o, rest)
    nm = _nm(p)
    if sub == "reload":
        nm.reload()
        return 0
    if sub == "load":
        for path in rest:
            if not p.world.fs.isfile(p.path(path)):
                raise NmcliError(f"Error: failed to load connection: {path}: No such file.", 1)
            if nm.load(p.path(path)) is None:
                reason = nm.load_errors.get(p.path(path), "invalid")
                raise NmcliError(f"Error: failed to load connection: {reason}.", 1)
        return 0
    if sub == "add":
        return _con_add(p, nm, rest)
    if not rest:
        raise NmcliError("Error: No connection specified.", 2)
    key = rest[1] if rest[0] in ("id", "uuid", "path") and len(rest) > 1 else rest[0]
    profile = nm.find(key)
    if profile is None:
        raise NmcliError(f"Error: unknown connection '{key}'.", 10)
    if sub == "up":
        opts = dict(zip(rest[1::2], rest[2::2], strict=False))
        for st in nm.devices.values():
            st.blocked.discard(profile.uuid)
        path = nm.activations + 1
        return _wait_activation(
            p,
            o,
            nm,
            profile,
            opts.get("ifname"),
            "Connection successfully activated (D-Bus active path: "
            f"/org/freedesktop/NetworkManager/ActiveConnection/{path})",
        )
    if sub == "down":
        number = next((a.number for a in nm.active() if a.profile is profile), 0)
        if not nm.deactivate(profile):
            raise NmcliError(
                f"Error: '{key}' is not an active connection.\n"
                "Error: no active connection provided.",
                10,
            )
        p.out(
            f"Connection '{profile.id}' successfully deactivated (D-Bus active path: "
            f"/org/freedesktop/NetworkManager/ActiveConnection/{number})\n"
        )
        return 0
    if sub == "delete":
        nm.delete(profile)
        p.out(f"Connection '{profile.id}' ({profile.uuid}) successfully deleted.\n")
        return 0
    if sub == "modify":
        _apply_properties(profile, rest[1:])
        nm.check(profile)
        if profile.path:
            p.world.fs.write(profile.path, profile.to_keyfile().dump(), mode=0o600)
        return 0
    raise NmcliError(f"Error: '{sub}' is not supported here.", 2)


def _apply_properties(profile: Profile, pairs: list[str]) -> None:
    if len(pairs) % 2:
        raise NmcliError(f"Error: value for '{pairs[-1]}' is missing.", 2)
    for prop, value in zip(pairs[::2], pairs[1::2], strict=True):
        prop = prop.lstrip("+-")
        if prop in ADD_ALIASES:
            section, key = ADD_ALIASES[prop]
        elif "." in prop:
            section, key = prop.split(".", 1)
            section = SETTING_ALIASES.get(section, section)
        else:
            raise NmcliError(f"Error: invalid <setting>.<property> '{prop}'.", 2)
        if section == "connection" and key == "interface-name" and value == "*":
            continue  # nmcli's "any interface"
        if section == "connection" and key == "autoconnect":
            value = "true" if value in ("yes", "true", "on") else "false"
        profile.settings.setdefault(section, {})[key] = value


def _con_add(p: Proc, nm: NetworkManager, args: list[str]) -> int:
    opts = list(args)
    kind = None
    if "type" in opts:
        i = opts.index("type")
        kind = opts[i + 1] if i + 1 < len(opts) else None
        del opts[i : i + 2]
    if kind is None:
        raise NmcliError("Error: 'type' argument is required.", 2)
    kind = {"802-11-wireless": "wifi", "802-3-ethernet": "ethernet"}.get(kind, kind)
    save = True
    if "save" in opts:
        i = opts.index("save")
        save = opts[i + 1] != "no"
        del opts[i : i + 2]
    profile = Profile(
        {"connection": {"type": kind}, "ipv4": {"method": "auto"}, "ipv6": {"method": "auto"}}
    )
    _apply_properties(profile, opts)
    if not profile.id:
        n = sum(1 for pr in nm.profiles if pr.type == kind) + 1
        profile.settings["connection"]["id"] = (
            f"{kind}-{n}" if kind != "wifi" else profile.ssid or f"wifi-{n}"
        )
    try:
        nm.add(profile, save=save)
    except ProfileError as e:
        raise NmcliError(f"Error: Failed to add '{profile.id}' connection: {e}", 2) from None
    p.out(f"Connection '{profile.id}' ({profile.uuid}) successfully added.\n")
    return 0


def profile_properties(profile: Profile, show_secrets: bool) -> list[tuple[str, str]]:
    pairs = []
    for section, values in profile.settings.items():
        label = {
            "wifi": "802-11-wireless",
            "wifi-security": "802-11-wireless-security",
            "ethernet": "802-3-ethernet",
        }.get(section, section)
        for key, value in values.items():
            if section == "connection" and key == "type":
                value = NMCLI_TYPES.get(profile.type, profile.type)
            if key in SECRET_KEYS and not show_secrets:
                value = "<hidden>"
            pairs.append((f"{label}.{key}", value if value != "" else "--"))
    return pairs


def _con_show(p: Proc, o: Opts, args: list[str]) -> int:
    nm = _nm(p)
    active_only = "--active" in args or "-a" in args
    show_secrets = o.show_secrets or "--show-secrets" in args
    ids = [a for a in args if not a.startswith("-") and a not in ("id", "uuid", "path")]
    if ids:
        for i, key in enumerate(ids):
            profile = nm.find(key)
            if profile is None:
                raise NmcliError(f"Error: {key} - no such connection profile.", 10)
            if i:
                p.out("\n")
            pairs = profile_properties(profile, show_secrets)
            act = next((a for a in nm.active() if a.profile is profile), None)
            if act:
                st = nm.devices[act.device.name]
                state = "activated" if st.state == State.ACTIVATED else "activating"
                pairs += [
                    ("GENERAL.NAME", profile.id),
                    ("GENERAL.UUID", profile.uuid),
                    ("GENERAL.DEVICES", act.device.name),
                    ("GENERAL.STATE", state),
                ]
                pairs += [
                    kv for kv in device_properties(nm, act.device.name) if kv[0].startswith("IP4.")
                ]
            _multiline(p, o, pairs)
        return 0
    rows = []
    active = {a.profile.uuid: a for a in nm.active()}
    for pr in sorted(nm.profiles, key=lambda pr: (pr.uuid not in active, pr.id)):
        act = active.get(pr.uuid)
        if active_only and act is None:
            continue
        ctype = NMCLI_TYPES.get(pr.type, pr.type) if o.terse else pr.type
        rows.append(
            {
                "NAME": (pr.id, None),
                "UUID": (pr.uuid, None),
                "TYPE": (ctype, None),
                "DEVICE": (act.device.name if act else "--", "green" if act else None),
                "AUTOCONNECT": ("yes" if pr.autoconnect else "no", None),
                "AUTOCONNECT-PRIORITY": (str(pr.priority), None),
                "ACTIVE": ("yes" if act else "no", None),
                "STATE": (
                    "activated"
                    if act and nm.devices[act.device.name].state == State.ACTIVATED
                    else ("activating" if act else ""),
                    None,
                ),
                "FILENAME": (pr.path or "", None),
            }
        )
    names = _select(
        [
            "NAME",
            "UUID",
            "TYPE",
            "DEVICE",
            "AUTOCONNECT",
            "AUTOCONNECT-PRIORITY",
            "ACTIVE",
            "STATE",
            "FILENAME",
        ],
        o,
        ["NAME", "UUID", "TYPE", "DEVICE"],
    )
    _table(p, o, names, rows)
    return 0


@command("nm-online")
def nm_online(p: Proc) -> int:
    """`nm-online [-s] [-q] [-t SECONDS]`: wait for NetworkManager's startup / connectivity."""
    args = p.args[1:]
    timeout = 30.0
    if "-t" in args and args.index("-t") + 1 < len(args):
        timeout = float(args[args.index("-t") + 1])
    quiet = "-q" in args
    nm: NetworkManager = p.world.nm
    if not nm.running:
        p.sleep(min(timeout, 1.0))
        if not quiet:
            p.out("\nStartup complete failed: NetworkManager is not running\n")
        return 1
    # each round: sleep until the activations in flight end; autoconnect may start more
    deadline_world = timeout / p.world.clock.scale
    waited = 0.0
    while True:
        nm.tick()
        left = nm.settling_seconds()
        if left <= 0 or waited >= deadline_world:
            break
        step = min(left, deadline_world - waited) + 0.1
        p.sleep(p.world.clock.real_seconds(step))
        waited += step
    nm.tick()
    online = nm.default_device() is not None
    ok = nm.settling_seconds() <= 0 if "-s" in args else online
    if not quiet:
        p.out(f"\rConnecting...............   {int(timeout)}s [{'online' if ok else 'offline'}]\n")
    return 0 if ok else 1
