"""Connection profiles as the simulated NetworkManager holds them.

A profile is a keyfile parsed into settings (`{"connection": {"id": ...}}`),
with NetworkManager's section aliases folded to one name, so the model can ask
`profile.get("wifi", "ssid")` whatever the file called the section.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from hil.netconfig import Keyfile, KeyfileSyntaxError, ValueSyntaxError, validate

#: keyfile section aliases → the name the model uses
SECTION_ALIASES = {
    "802-11-wireless": "wifi",
    "802-11-wireless-security": "wifi-security",
    "802-3-ethernet": "ethernet",
}
#: connection.type aliases → the model's type
TYPE_ALIASES = {"802-11-wireless": "wifi", "802-3-ethernet": "ethernet"}
#: nmcli's long type names
NMCLI_TYPES = {"wifi": "802-11-wireless", "ethernet": "802-3-ethernet", "gsm": "gsm"}


class ProfileError(ValueError):
    """The keyfile can't be loaded (NetworkManager would log and skip it)."""


@dataclass
class Profile:
    settings: dict[str, dict[str, str]]
    path: str | None = None
    origin: str = "keyfile"
    order: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | bytes, path: str | None = None) -> Profile:
        """Read a keyfile as NetworkManager does (GLib's syntax and escapes) and refuse
        it as NetworkManager would (`hil.netconfig.validate`, checked against libnm)."""
        try:
            keyfile = Keyfile.parse(text)
        except (KeyfileSyntaxError, ValueSyntaxError) as e:
            raise ProfileError(f"not a keyfile: {e}") from None
        report = validate(keyfile, path or "<keyfile>")
        if not report.valid:
            raise ProfileError(str(report.errors[0]))
        settings: dict[str, dict[str, str]] = {}
        for section in keyfile.sections:
            name = SECTION_ALIASES.get(section, section)
            values = settings.setdefault(name, {})
            for key in keyfile.keys(section):
                try:
                    values[key] = keyfile.get(section, key) or ""
                except ValueSyntaxError:
                    values[key] = keyfile.raw(section, key) or ""
        return cls(settings, path)

    def to_keyfile(self) -> Keyfile:
        return Keyfile.from_sections(self.settings)

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        return self.settings.get(section, {}).get(key, default)

    def get_bool(self, section: str, key: str, default: bool) -> bool:
        value = self.get(section, key)
        if value is None or value == "":
            return default
        return value.strip().lower() in ("true", "yes", "1", "on")

    def get_int(self, section: str, key: str, default: int) -> int:
        value = self.get(section, key)
        try:
            return int(value) if value not in (None, "") else default
        except ValueError:
            return default

    @property
    def id(self) -> str:
        return self.get("connection", "id") or ""

    @property
    def uuid(self) -> str:
        value = self.get("connection", "uuid")
        if not value:
            # NetworkManager derives a stable uuid for a keyfile without one
            value = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{self.path}:{self.id}"))
            self.settings["connection"]["uuid"] = value
        return value

    @property
    def type(self) -> str:
        raw = self.get("connection", "type") or ""
        return TYPE_ALIASES.get(raw, raw)

    @property
    def autoconnect(self) -> bool:
        return self.get_bool("connection", "autoconnect", True)

    @property
    def priority(self) -> int:
        return self.get_int("connection", "autoconnect-priority", 0)

    @property
    def interface_name(self) -> str | None:
        return self.get("connection", "interface-name") or None

    @property
    def wifi_mode(self) -> str:
        return self.get("wifi", "mode") or "infrastructure"

    @property
    def ssid(self) -> str | None:
        return self.get("wifi", "ssid")

    def semicolon_list(self, section: str, key: str) -> list[str]:
        value = self.get(section, key) or ""
        return [v.strip() for v in value.split(";") if v.strip()]
