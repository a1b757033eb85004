"""`busctl` against the simulated NetworkManager's D-Bus API.

The runtime path of the networking doc ("Changing the Network at Runtime"):
WiFi Connect and the doc's Python example call
`org.freedesktop.NetworkManager.Settings.AddConnection` with an `a{sa{sv}}`
of settings. `busctl call` takes the same call on the board's shell, with
busctl's argument syntax (arrays as a count then the items, variants as a
signature then the value, `ay` as a count then the bytes):

    busctl call org.freedesktop.NetworkManager /org/freedesktop/NetworkManager/Settings \\
        org.freedesktop.NetworkManager.Settings AddConnection 'a{sa{sv}}' 2 \\
        connection 2 id s my-net type s 802-11-wireless  802-11-wireless 1 ssid ay 3 102 111 111

Modelled: Settings.AddConnection / AddConnectionUnsaved / ListConnections,
NetworkManager.CheckConnectivity and the `Connectivity` property.
"""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.nm import Profile, ProfileError
from hil.sim.nm.profiles import SECTION_ALIASES
from hil.sim.shell.interp import CommandError, Proc

NM_BUS = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
SETTINGS_PATH = f"{NM_PATH}/Settings"
CONNECTIVITY = {"unknown": 0, "none": 1, "portal": 2, "limited": 3, "full": 4}


class BusctlError(CommandError):
    pass


def split_signature(sig: str) -> list[str]:
    """Complete types of a D-Bus signature: 'sa{sv}i' → ['s', 'a{sv}', 'i']."""
    out, i = [], 0
    while i < len(sig):
        j = _end_of_type(sig, i)
        out.append(sig[i:j])
        i = j
    return out


def _end_of_type(sig: str, i: int) -> int:
    c = sig[i]
    if c == "a":
        return _end_of_type(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        j = i + 1
        while sig[j] != close:
            j = _end_of_type(sig, j)
        return j + 1
    if c in "ybnqiuxtdsogvh":
        return i + 1
    raise BusctlError(f"Invalid signature '{sig}'")


class _Args:
    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.i = 0

    def take(self) -> str:
        if self.i >= len(self.words):
            raise BusctlError("Too few parameters for signature.")
        self.i += 1
        return self.words[self.i - 1]


def read_value(t: str, args: _Args) -> object:
    """One value of type `t` from busctl's argument words."""
    if t == "v":
        inner = args.take()
        return read_value(inner, args)
    if t.startswith("a{"):
        key_t, val_t = split_signature(t[2:-1])
        return {read_value(key_t, args): read_value(val_t, args) for _ in range(_count(args))}
    if t == "ay":
        return bytes(int(args.take()) & 0xFF for _ in range(_count(args)))
    if t.startswith("a"):
        return [read_value(t[1:], args) for _ in range(_count(args))]
    word = args.take()
    if t == "b":
        if word.lower() not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise BusctlError(f"Failed to parse boolean '{word}'")
        return word.lower() in ("true", "yes", "1", "on")
    if t in "ynqiuxt":
        try:
            return int(word, 0)
        except ValueError:
            raise BusctlError(f"Failed to parse integer '{word}'") from None
    if t == "d":
        return float(word)
    return word


def _count(args: _Args) -> int:
    word = args.take()
    try:
        return int(word)
    except ValueError:
        raise BusctlError(f"Failed to parse array size '{word}'") from None


def profile_from_settings(settings: dict) -> Profile:
    """An `a{sa{sv}}` of NetworkManager settings as a keyfile profile."""
    sections: dict[str, dict[str, str]] = {}
    for setting, props in settings.items():
        if not isinstance(props, dict):
            raise BusctlError("Invalid settings")
        name = SECTION_ALIASES.get(str(setting), str(setting))
        section = sections.setdefault(name, {})
        for key, value in props.items():
            section[str(key)] = _keyfile_value(value)
    if "connection" not in sections or not sections["connection"].get("type"):
        raise ProfileError("connection.type: property is missing")
    return Profile(sections, origin="dbus")


def _keyfile_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return "".join(f"{_keyfile_value(v)};" for v in value)
    return str(value)


@command("busctl")
def busctl(p: Proc) -> int:
    words = [a for a in p.args[1:] if a not in ("--system", "--no-pager", "-q", "--quiet")]
    if not words:
        raise CommandError("usage: busctl call|get-property SERVICE PATH INTERFACE MEMBER ...")
    verb, rest = words[0], words[1:]
    if verb not in ("call", "get-property") or len(rest) < 4:
        raise CommandError(f"Unknown operation {verb}", 1)
    service, path, interface, member = rest[:4]
    if service != NM_BUS:
        p.err(f"Call failed: The name {service} was not provided by any .service files\n")
        return 1
    nm = p.world.nm
    if not nm.running:
        p.err(f"Call failed: The name {NM_BUS} was not provided by any .service files\n")
        return 1
    try:
        if verb == "get-property":
            return _get_property(p, path, interface, member)
        args: list[object] = []
        if len(rest) > 4:
            values = _Args(rest[5:])
            args = [read_value(t, values) for t in split_signature(rest[4])]
        return _call(p, path, interface, member, args)
    except BusctlError as e:
        p.err(f"{e}\n")
        return 1


def _call(p: Proc, path: str, interface: str, member: str, args: list[object]) -> int:
    nm = p.world.nm
    if path == SETTINGS_PATH and interface == f"{NM_BUS}.Settings":
        if member in ("AddConnection", "AddConnectionUnsaved"):
            if len(args) != 1 or not isinstance(args[0], dict):
                raise BusctlError("Call failed: Invalid arguments for AddConnection")
            try:
                profile = nm.add(profile_from_settings(args[0]), save=member == "AddConnection")
            except ProfileError as e:
                p.err(f"Call failed: {e}\n")
                return 1
            p.out(f'o "{SETTINGS_PATH}/{nm.profiles.index(profile) + 1}"\n')
            return 0
        if member == "ListConnections":
            paths = " ".join(f'"{SETTINGS_PATH}/{i + 1}"' for i in range(len(nm.profiles)))
            p.out(f"ao {len(nm.profiles)} {paths}\n".replace("  ", " "))
            return 0
    if path == NM_PATH and interface == NM_BUS and member == "CheckConnectivity":
        word = p.world.subsystems["connectivity"]()
        p.out(f"u {CONNECTIVITY[word]}\n")
        return 0
    p.err(f"Call failed: Unknown method {member} or interface {interface} at {path}\n")
    return 1


def _get_property(p: Proc, path: str, interface: str, member: str) -> int:
    if path == NM_PATH and interface == NM_BUS and member == "Connectivity":
        word = p.world.subsystems["connectivity"]()
        p.out(f"u {CONNECTIVITY[word]}\n")
        return 0
    if path == NM_PATH and interface == NM_BUS and member == "Version":
        p.out('s "1.42.4"\n')
        return 0
    p.err(f"Failed to get property {member} on interface {interface}: Unknown property\n")
    return 1
