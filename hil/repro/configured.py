"""What a bundle's connection files configure the device to use (WiFi, cellular, wired)."""

from __future__ import annotations

from dataclasses import dataclass

from hil.netconfig import Keyfile, KeyfileSyntaxError, ValueSyntaxError, is_loaded_by_os
from hil.repro.bundle import CONNECTIONS, Bundle


@dataclass(frozen=True)
class Connection:
    """One connection file, read as NetworkManager would use it."""

    file: str  # the name under system-connections/
    id: str
    type: str  # wifi, gsm, ethernet, ...
    autoconnect: bool
    keyfile: Keyfile

    @property
    def path(self) -> str:
        return f"{CONNECTIONS}/{self.file}"

    def get(self, setting: str, key: str) -> str | None:
        try:
            return self.keyfile.get(setting, key)
        except ValueError:  # a value NetworkManager cannot read: `hil bundle check` says so
            return None

    # -- WiFi ------------------------------------------------------------
    @property
    def ssid(self) -> str | None:
        return self.get("wifi", "ssid")

    @property
    def hidden(self) -> bool:
        try:
            return bool(self.keyfile.get_bool("wifi", "hidden", False))
        except ValueError:
            return False

    @property
    def is_hotspot(self) -> bool:
        return self.type == "wifi" and self.get("wifi", "mode") == "ap"

    @property
    def security(self) -> str:
        """none, wpa-psk or wpa-eap (the lab config's words)."""
        key_mgmt = (self.get("wifi-security", "key-mgmt") or "none").lower()
        if key_mgmt in ("wpa-eap", "wpa-eap-suite-b-192"):
            return "wpa-eap"
        if key_mgmt in ("wpa-psk", "sae"):
            return "wpa-psk"
        return "none"


def connections(bundle: Bundle) -> list[Connection]:
    """The connection files NetworkManager would load, in file-name order.

    Unreadable files are left out (`hil bundle check` reports them)."""
    found = []
    for name, data in bundle.connections().items():
        if not is_loaded_by_os(name):
            continue
        try:
            kf = Keyfile.parse(data)
        except (KeyfileSyntaxError, ValueSyntaxError, UnicodeDecodeError):
            continue
        kind = kf.connection_type or ""
        found.append(
            Connection(
                file=name,
                id=kf.id or name,
                type={"802-11-wireless": "wifi", "802-3-ethernet": "ethernet"}.get(kind, kind),
                autoconnect=_autoconnect(kf),
                keyfile=kf,
            )
        )
    return found


def _autoconnect(kf: Keyfile) -> bool:
    try:
        return kf.get_bool("connection", "autoconnect", True) is not False
    except ValueError:
        return True


def areas(bundle: Bundle) -> list[str]:
    """The suite areas (DESIGN.md) that cover what the bundle configures."""
    found: list[str] = []

    def add(*names: str) -> None:
        found.extend(n for n in names if n not in found)

    conns = connections(bundle)
    if bundle.device.ethernet or any(c.type == "ethernet" for c in conns):
        add("ethernet")
    if any(c.type == "wifi" and not c.is_hotspot for c in conns):
        add("wifi")
    if any(c.is_hotspot for c in conns):
        add("hotspot")
    if any(c.type == "gsm" for c in conns) or bundle.device.modems:
        add("cellular", "modeswitch")
    config = bundle.files.get("config.json", b"")
    if b'"country"' in config:
        add("regdomain")
    if any(k in config for k in (b'"dnsServers"', b'"ntpServers"', b'"connectivity"')):
        add("connectivity", "requirements")
    if any(p.startswith("system-proxy/") for p in bundle.files):
        add("proxy")
    return found
