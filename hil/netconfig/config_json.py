"""The networking keys of balenaOS's `config.json` (boot partition): model, checks, merge.

Keys (meta-balena's README and the networking doc): `country` (WiFi
regulatory domain, ISO 3166 alpha-2), `dnsServers` (space separated; `null`
for none; 8.8.8.8 when absent), `ntpServers` (space separated),
`hostname`, `os.network.connectivity` (`uri`, `interval`, `response`: the
NetworkManager connectivity check), `os.network.wifi.randomMacAddressScan`,
`os.udevRules` (name -> rule text). Every other key is kept as it is.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hil.netconfig.report import Report

DEFAULT_DNS = "8.8.8.8"
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
#: ISO 3166-1 alpha-2 codes are two capitals; "00" is the world regulatory domain.
_COUNTRY = re.compile(r"[A-Z]{2}|00")


def _is_hostname(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Connectivity(_Open):
    """NetworkManager's connectivity check: GET `uri` every `interval` s, expect `response`."""

    uri: str | None = None
    interval: int | None = Field(default=None, ge=0)
    response: str | None = None

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
            raise ValueError("expected an http:// or https:// URL")
        return v

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("expected a number of seconds")
        if isinstance(v, str) and v.strip().isdigit():
            return int(v)
        return v


class Wifi(_Open):
    random_mac_address_scan: bool | None = Field(default=None, alias="randomMacAddressScan")


class Network(_Open):
    connectivity: Connectivity | None = None
    wifi: Wifi | None = None


class Os(_Open):
    network: Network | None = None
    udev_rules: dict[str, str] | None = Field(default=None, alias="udevRules")


class ConfigJson(_Open):
    """config.json: the networking keys typed, all others kept (`model_extra`)."""

    country: str | None = None
    dns_servers: str | None = Field(default=DEFAULT_DNS, alias="dnsServers")
    ntp_servers: str | None = Field(default=None, alias="ntpServers")
    hostname: str | None = None
    os: Os | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and not _COUNTRY.fullmatch(v):
            raise ValueError("expected a two-letter country code in capitals, like GB")
        return v

    @field_validator("dns_servers")
    @classmethod
    def _dns(cls, v: str | None) -> str | None:
        if v is not None:
            bad = [s for s in v.split() if not _is_ip(s)]
            if bad or not v.split():
                raise ValueError(
                    "expected IP addresses separated by spaces (null for none), got "
                    + (", ".join(repr(b) for b in bad) if bad else "an empty string")
                )
        return v

    @field_validator("ntp_servers")
    @classmethod
    def _ntp(cls, v: str | None) -> str | None:
        if v is not None:
            bad = [s for s in v.split() if not (_is_ip(s) or _is_hostname(s))]
            if bad:
                raise ValueError(
                    "expected host names or IP addresses separated by spaces, got "
                    + ", ".join(repr(b) for b in bad)
                )
        return v

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and not (_HOST_LABEL.fullmatch(v)):
            raise ValueError("expected a host name: letters, digits and '-', at most 63")
        return v

    @property
    def dns_server_list(self) -> list[str]:
        """The DNS servers the OS adds: 8.8.8.8 when the key is absent, none when null."""
        return self.dns_servers.split() if self.dns_servers else []

    @property
    def ntp_server_list(self) -> list[str]:
        return self.ntp_servers.split() if self.ntp_servers else []


def parse_config_json(data: str | bytes, path: str = "config.json") -> ConfigJson:
    """Parse and check; raises `ValueError` with the first problem (see `validate_config_json`)."""
    report, model = _check(data, path)
    if model is None:
        raise ValueError("; ".join(str(i) for i in report.errors))
    return model


def validate_config_json(data: str | bytes, path: str = "config.json") -> Report:
    """Check the networking keys of a config.json (or a fragment of one)."""
    return _check(data, path)[0]


def _check(data: str | bytes, path: str) -> tuple[Report, ConfigJson | None]:
    report = Report(path)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        report.error(f"not valid JSON: {e.msg}", line=e.lineno)
        return report, None
    if not isinstance(value, dict):
        report.error(f"expected a JSON object, got a {type(value).__name__}", line=1)
        return report, None
    try:
        model = ConfigJson.model_validate(value)
    except ValidationError as e:
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            report.error(message, line=_line_of(text, err["loc"]), key=key)
        return report, None
    return report, model


def _line_of(text: str, loc: tuple[int | str, ...]) -> int:
    """The line of the last key of `loc` (after its parents), for messages."""
    pos = 0
    for part in loc:
        if isinstance(part, int):
            continue
        found = text.find(f'"{part}"', pos)
        if found < 0:
            break
        pos = found
    return text.count("\n", 0, pos) + 1


def merge_config_json(existing: bytes | str | None, patch: dict[str, Any] | bytes | str) -> bytes:
    """`patch` merged into `existing`: objects key by key, recursively; any other value
    (including `null`, which config.json uses for "none") replaces what was there; other
    keys and their order are kept. Raises `ValueError` naming the key if the result's
    networking keys are wrong (the existing file is never changed by this function).
    """
    update = json.loads(patch) if isinstance(patch, bytes | str) else patch
    if not isinstance(update, dict):
        raise ValueError("config.json patch: expected a JSON object")
    if existing is None or (isinstance(existing, bytes | str) and not existing.strip()):
        current: dict[str, Any] = {}
    else:
        current = json.loads(existing)
        if not isinstance(current, dict):
            raise ValueError("existing config.json is not a JSON object")
    merged = _deep_merge(current, update)
    text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    report = validate_config_json(text)
    if not report.valid:
        raise ValueError("config.json after merge: " + "; ".join(str(i) for i in report.errors))
    return text.encode()


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
