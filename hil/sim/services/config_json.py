"""config.json as balenaOS's services read it (`balena-config-vars`).

The defaults and special values follow meta-balena's `balena-config-vars`,
which reads each key with jq's `//` (alternative) operator: a missing key, a
JSON `null` or `false` all give the default. Only the *string* `"null"`
switches a list off: `"dnsServers": "null"` means no DNS servers beyond DHCP's,
`"ntpServers": "null"` no NTP sources beyond DHCP's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CONFIG_JSON = "/mnt/boot/config.json"
DEFAULT_DNS = "8.8.8.8"
DEFAULT_CONN_INTERVAL = 3600


class ConfigJsonError(ValueError):
    """config.json can't be parsed: the services that read it fail."""


@dataclass(frozen=True)
class ConfigVars:
    """The variables balena-config-vars exports from config.json."""

    dns_servers: tuple[str, ...]
    #: None: the default pools; () : switched off with "null"
    ntp_servers: tuple[str, ...] | None
    country: str
    conn_uri: str
    conn_interval: int
    conn_response: str


def _alt(value: Any, default: Any) -> Any:
    """jq's `value // default`: null and false fall back to the default."""
    return default if value is None or value is False else value


def parse_config(text: str) -> ConfigVars:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigJsonError(f"Failed to parse '{CONFIG_JSON}': {e}") from None
    if not isinstance(data, dict):
        raise ConfigJsonError(f"Failed to parse '{CONFIG_JSON}': not a JSON object")
    dns = str(_alt(data.get("dnsServers"), DEFAULT_DNS))
    ntp = str(_alt(data.get("ntpServers"), ""))
    os_ = data.get("os") if isinstance(data.get("os"), dict) else {}
    network = os_.get("network") if isinstance(os_.get("network"), dict) else {}
    conn = network.get("connectivity") if isinstance(network.get("connectivity"), dict) else {}
    uri = str(_alt(conn.get("uri"), ""))
    api = str(_alt(data.get("apiEndpoint"), ""))
    if not uri and api:
        uri = f"{api}/connectivity-check"
    try:
        interval = int(_alt(conn.get("interval"), DEFAULT_CONN_INTERVAL))
    except (TypeError, ValueError):
        raise ConfigJsonError(
            f"{CONFIG_JSON}: os.network.connectivity.interval is not a number"
        ) from None
    return ConfigVars(
        dns_servers=() if dns == "null" else tuple(dns.split()),
        ntp_servers=None if not ntp else (() if ntp == "null" else tuple(ntp.split())),
        country=str(_alt(data.get("country"), "")),
        conn_uri=uri,
        conn_interval=interval,
        conn_response=str(_alt(conn.get("response"), "")),
    )
