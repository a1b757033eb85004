"""NetworkManager's configuration files and its connectivity check.

balenaOS writes config.json `os.network.connectivity` (`uri`, `interval`,
`response`) into a NetworkManager conf.d fragment; `NetworkManager
--print-config` shows the merged configuration in NetworkManager 1.42's
format (checked against the real binary by tests/test_sim_connectivity.py).

The check follows NetworkManager (src/core/nm-connectivity.c): a GET of the
URI through the board's own network stack; the body must start with the
expected response (an empty `response` wants HTTP 204 or an empty body) —
`full`; another answer is a captive `portal`; no answer at all is `limited`.
`interval=0` (or no URI) disables the check: NetworkManager then assumes
`full` whenever there is a default route, `none` without one. The sim checks
when asked, as `nmcli networking connectivity check` does.
"""

from __future__ import annotations

import configparser
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hil.sim.lab_net import NetFailure
from hil.sim.services.config_json import ConfigVars

if TYPE_CHECKING:
    from hil.sim.services import Services

NM_CONF = "/etc/NetworkManager/NetworkManager.conf"
CONF_D = "/etc/NetworkManager/conf.d"
FRAGMENT = f"{CONF_D}/os-networkmanager.conf"
DEFAULT_RESPONSE = "NetworkManager is online"
DEFAULT_INTERVAL = 300
#: meta-balena's NetworkManager.conf
BALENA_NM_CONF = """\
[main]
dns=default
plugins=keyfile
autoconnect-retries-default=0
hostname-mode=none

[keyfile]
unmanaged-devices=interface-name:balena*;interface-name:resin*;interface-name:br*;type:veth

[connection]
ipv4.dhcp-timeout=2147483647
"""
_MAIN_DEFAULTS = ["# rc-manager=", "# auth-polkit=true", "# dhcp=internal", "# iwd-config-path="]


def _read_ini(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return [(s, list(parser.items(s))) for s in parser.sections()]


def merged_config(fs) -> tuple[dict[str, dict[str, str]], list[str]]:
    """NetworkManager.conf, then conf.d/*.conf in name order; later keys win."""
    groups: dict[str, dict[str, str]] = {}
    extra: list[str] = []
    paths = [NM_CONF] if fs.isfile(NM_CONF) else []
    if fs.isdir(CONF_D):
        names = sorted(n for n in fs.listdir(CONF_D) if n.endswith(".conf"))
        paths += [posixpath.join(CONF_D, n) for n in names]
        extra = names
    for path in paths:
        for group, items in _read_ini(fs.read_text(path)):
            groups.setdefault(group, {}).update(items)
    return groups, extra


def print_config(fs) -> str:
    """`NetworkManager --print-config`, as NetworkManager 1.42 prints it."""
    groups, extra = merged_config(fs)
    head = f"# NetworkManager configuration: {NM_CONF}"
    if extra:
        head += f" (etc: {', '.join(extra)})"
    out = [head, "", "[main]", *_MAIN_DEFAULTS]
    out += [f"{k}={v}" for k, v in groups.get("main", {}).items()]
    out += ["configure-and-quit=no", ""]
    groups = {g: kv for g, kv in groups.items() if g != "main"}
    groups.setdefault("logging", {})
    groups.setdefault("device", {})
    defaults = {
        "logging": ["# backend=journal", "# audit=true"],
        "device": ["# wifi.backend=wpa_supplicant"],
    }

    def order(name: str) -> tuple[int, str]:
        if name.startswith("device"):
            return (1, name)
        if name.startswith("connection"):
            return (2, name)
        return (0, name)

    for group in sorted(groups, key=order):
        out.append(f"[{group}]")
        out += defaults.get(group, [])
        out += [f"{k}={v}" for k, v in groups[group].items()]
        out.append("")
    out.append('# no-auto-default file "/var/lib/NetworkManager/no-auto-default.state"')
    return "\n".join(out) + "\n"


class Connectivity:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.world = services.world
        self.last = "unknown"

    def install_base_config(self) -> None:
        if not self.world.fs.isfile(NM_CONF):
            self.world.fs.write(NM_CONF, BALENA_NM_CONF)
        self.world.fs.mkdir(CONF_D)

    def configure(self, config: ConfigVars) -> None:
        """os-networkmanager: the [connectivity] fragment from config.json."""
        fs = self.world.fs
        if not config.conn_uri:
            if fs.isfile(FRAGMENT):
                fs.remove(FRAGMENT)
            return
        lines = ["[connectivity]", f"uri={config.conn_uri}", f"interval={config.conn_interval}"]
        if config.conn_response:
            lines.append(f"response={config.conn_response}")
        fs.write(FRAGMENT, "\n".join(lines) + "\n")

    def settings(self) -> tuple[str, int, str | None]:
        """(uri, interval, response) as NetworkManager reads them."""
        groups, _ = merged_config(self.world.fs)
        section = groups.get("connectivity", {})
        uri = section.get("uri", "")
        try:
            interval = int(section.get("interval", DEFAULT_INTERVAL))
        except ValueError:
            interval = DEFAULT_INTERVAL
        enabled = section.get("enabled", "true").lower() not in ("false", "no", "0")
        return (uri if enabled else "", interval, section.get("response"))

    def check(self) -> str:
        """One connectivity check now: NetworkManager's state word."""
        nm = self.world.nm
        if not nm.running:
            return "unknown"
        nm.tick()
        if nm.default_device() is None:
            self.last = "none"
            return self.last
        uri, interval, response = self.settings()
        parts = urlsplit(uri)
        if not uri or interval == 0 or parts.scheme not in ("http", "https") or not parts.hostname:
            self.last = "full"
            return self.last
        expected = DEFAULT_RESPONSE if response is None else response
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = self.services.resolve(parts.hostname)
            if address is None:
                raise NetFailure(6, f"Could not resolve host: {parts.hostname}")
            self.services.connect(address, port)
            answer = self.services.lab.http(parts.hostname, port, parts.path or "/")
        except NetFailure:
            self.last = "limited"
            return self.last
        if expected == "":
            good = answer.status == 204 or (answer.status == 200 and not answer.body)
        else:
            good = answer.body.startswith(expected)
        self.last = "full" if good else "portal"
        return self.last
