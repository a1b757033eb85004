"""`NetworkManager --print-config` as a model (NetworkManager 1.42's format).

The output is a keyfile: a `# NetworkManager configuration: FILE (etc: ...)`
header, then `[group]`s whose commented `# key=value` lines are defaults.
Fixtures in fixtures/networkmanager/ come from the real NetworkManager 1.42.4.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RESPONSE = "NetworkManager is online"
DEFAULT_INTERVAL = 300


@dataclass(frozen=True)
class ConnectivityConfig:
    uri: str | None
    interval: int
    response: str
    enabled: bool

    @property
    def checking(self) -> bool:
        """Whether NetworkManager checks at all (a URI, enabled, interval > 0)."""
        return bool(self.uri) and self.enabled and self.interval > 0


@dataclass(frozen=True)
class NmConfig:
    groups: dict[str, dict[str, str]]

    def get(self, group: str, key: str) -> str | None:
        return self.groups.get(group, {}).get(key)

    @property
    def connectivity(self) -> ConnectivityConfig:
        g = self.groups.get("connectivity", {})
        try:
            interval = int(g.get("interval", DEFAULT_INTERVAL))
        except ValueError:
            interval = DEFAULT_INTERVAL
        return ConnectivityConfig(
            g.get("uri") or None,
            interval,
            g.get("response", DEFAULT_RESPONSE),
            g.get("enabled", "true").lower() not in ("false", "no", "0", "off"),
        )


def parse_print_config(text: str) -> NmConfig:
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        if sep and current is not None:
            current[key.strip()] = value
    return NmConfig(groups)
