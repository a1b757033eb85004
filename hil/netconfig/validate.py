"""`validate()`: would NetworkManager on a balenaOS board load this file as written?

Three passes, in NetworkManager's own order: the GKeyFile syntax (a syntax
error means the file is not loaded at all), reading each key as its property
type (a value the reader cannot parse is *dropped*, silently on a board, so
it is an error here), then the settings' rules (`hil.netconfig.rules`, what
`nm_connection_normalize`/`verify`/`verify_secrets` refuse, plus what the
networking doc asks for). Keys NetworkManager does not know are warnings: it
ignores them (the doc's own examples carry the legacy `security=` key).

Messages never contain the value of a secret (psk, password, PIN, WEP keys).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any

from hil.netconfig import rules
from hil.netconfig.gkeyfile import KeyfileSyntaxError, Line
from hil.netconfig.keyfile import Keyfile, setting_name, why_not_loaded
from hil.netconfig.report import Report
from hil.netconfig.schema import (
    LEGACY_KEYS,
    OTHER_NM_SETTINGS,
    PASSIVE_GROUPS,
    SCHEMA,
    Prop,
)
from hil.netconfig.values import (
    IP_LIST_KEY_LOOSE,
    BadValue,
    ip_list_key_index,
    read_addr_gen_mode,
    read_bool,
    read_bytes,
    read_cert,
    read_dns,
    read_int,
    read_ip_entry,
    read_list,
    read_mac,
    read_parity,
    read_string,
)


def validate(source: str | bytes | Keyfile, path: str = "<keyfile>") -> Report:
    """Check a keyfile (text, bytes or a parsed `Keyfile`); `path` names it in messages.

    The file name matters too: a name NetworkManager skips (`*.ignore`, ...) is
    reported as a warning, since such a file is never loaded.
    """
    report = Report(path)
    reason = why_not_loaded(path) if path != "<keyfile>" else None
    if reason:
        report.warn(f"file name {os.path.basename(path)!r}: {reason}", line=1)
    if isinstance(source, Keyfile):
        kf = source
    else:
        try:
            kf = Keyfile.parse(source)
        except KeyfileSyntaxError as e:
            message = e.message
            if "NetworkManager" not in message:
                message += ": NetworkManager cannot load the file at all"
            report.error(message, line=e.line)
            return report
    if isinstance(source, bytes | str):
        text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
        if not text.strip():
            report.error("the file is empty", line=1)
            return report
    Checker(kf, report, os.path.basename(path)).run()
    report.sort()
    return report


@dataclass
class Where:
    line: int
    section: str
    key: str | None


class Checker:
    """Reads a keyfile the way NetworkManager does and collects what goes wrong."""

    def __init__(self, kf: Keyfile, report: Report, filename: str = "") -> None:
        self.kf = kf
        self.report = report
        self.filename = filename
        #: typed values NetworkManager would load, by (setting, key)
        self.values: dict[tuple[str, str], Any] = {}
        #: keys that are present but could not be read (so rules don't pile on)
        self.unreadable: set[tuple[str, str]] = set()
        #: settings present in the file, by setting name
        self.settings: set[str] = set()

    # --- reporting helpers ------------------------------------------------------

    def where(self, setting: str, key: str | None = None) -> Where:
        """Line, section (as written) and key to report an issue about `setting.key`."""
        section = self.kf.section_for(setting)
        shown = section or _shown_name(setting)
        if section is not None and key is not None:
            line = self.kf.line_of(section, key)
            if line is not None:
                return Where(line.number, shown, key)
        if section is not None:
            header = next(ln for ln in self.kf.lines if ln.kind == "group" and ln.group == section)
            return Where(header.number, shown, key)
        type_line = self.kf.line_of("connection", "type")
        return Where(type_line.number if type_line else 1, shown, key)

    def error(self, setting: str, key: str | None, message: str) -> None:
        w = self.where(setting, key)
        self.report.error(message, w.line, w.section, w.key)

    def warn(self, setting: str, key: str | None, message: str) -> None:
        w = self.where(setting, key)
        self.report.warn(message, w.line, w.section, w.key)

    def value(self, setting: str, key: str, default: Any = None) -> Any:
        return self.values.get((setting, key), default)

    def has(self, setting: str, key: str) -> bool:
        return (setting, key) in self.values

    def present(self, setting: str, key: str) -> bool:
        """The key is in the file (whether or not its value could be read)."""
        return self.has(setting, key) or (setting, key) in self.unreadable

    # --- passes ----------------------------------------------------------------------

    def run(self) -> None:
        self.check_sections()
        for setting in SCHEMA:
            if self.kf.section_for(setting) is not None:
                self.settings.add(setting)
                self.read_setting(setting)
        rules.verify(self)

    def check_sections(self) -> None:
        seen: dict[str, Line] = {}
        by_setting: dict[str, Line] = {}
        for line in self.kf.lines:
            if line.kind != "group" or line.group is None:
                continue
            name = line.group
            if name in seen:
                self.report.warn(
                    f"section appears again (first on line {seen[name].number}); "
                    "NetworkManager merges the two",
                    line.number,
                    name,
                )
                continue
            seen[name] = line
            setting = setting_name(name)
            if setting in SCHEMA:
                if setting in by_setting:
                    first = by_setting[setting]
                    self.report.error(
                        f"[{first.group}] (line {first.number}) and [{name}] are the same "
                        "setting; NetworkManager keeps only one of them",
                        line.number,
                        name,
                    )
                by_setting[setting] = line
            elif name in PASSIVE_GROUPS or name.startswith("wireguard-peer."):
                continue
            elif setting in OTHER_NM_SETTINGS:
                self.report.warn(
                    f"hil does not check the [{name}] setting (it only knows those a "
                    "balenaOS board uses)",
                    line.number,
                    name,
                )
            else:
                self.report.error(
                    f"unknown section: NetworkManager ignores [{name}] and everything in "
                    f"it{_did_you_mean(name, _KNOWN_SECTIONS)}",
                    line.number,
                    name,
                )

    def read_setting(self, setting: str) -> None:
        section = self.kf.section_for(setting)
        assert section is not None
        last: dict[str, Line] = {}
        for line in self.kf.entries(section):
            assert line.key is not None
            if line.is_translation:
                self.report.warn(
                    "localized key: NetworkManager never reads translations", line.number,
                    section, line.key,
                )  # fmt: skip
                continue
            if line.key in last:
                self.report.error(
                    f"duplicate key: NetworkManager uses only the last value (line {line.number})",
                    last[line.key].number,
                    section,
                    line.key,
                )
            last[line.key] = line
        schema = SCHEMA[setting]
        ip_entries: list[tuple[tuple[str, int, int], Line]] = []
        for key, line in last.items():
            assert line.raw_value is not None
            prop = schema.get(key)
            if prop is not None:
                self.read_prop(setting, section, key, line, prop)
                continue
            if setting in ("ipv4", "ipv6"):
                index = ip_list_key_index(key)
                if index is not None:
                    plural = key.rstrip("0123456789") in ("addresses", "routes")
                    ip_entries.append(((index[0], index[1], int(plural)), line))
                    continue
                if key.endswith("_options") and ip_list_key_index(key[: -len("_options")]):
                    self.report.warn(
                        "route attributes are not checked by hil", line.number, section, key
                    )
                    continue
                loose = IP_LIST_KEY_LOOSE.fullmatch(key)
                if loose and not key.startswith("routing-rule"):
                    number = int(key[len(loose.group(1)) :])
                    self.report.error(
                        "NetworkManager ignores this key (a number after "
                        f"{loose.group(1)} must not start with 0: {loose.group(1)}{number})",
                        line.number, section, key,
                    )  # fmt: skip
                    continue
                if key.startswith("routing-rule"):
                    self.report.warn(
                        "routing rules are not checked by hil", line.number, section, key
                    )
                    continue
            legacy = LEGACY_KEYS.get((setting, key))
            if legacy:
                self.report.warn(legacy, line.number, section, key)
            else:
                self.report.warn(
                    "unknown key: NetworkManager ignores it" + _did_you_mean(key, list(schema)),
                    line.number,
                    section,
                    key,
                )
        if ip_entries:
            self.read_ip_entries(setting, section, ip_entries)

    def read_prop(self, setting: str, section: str, key: str, line: Line, prop: Prop) -> None:
        raw = line.raw_value or ""
        try:
            value = read_value(setting, prop, raw)
        except BadValue as e:
            self.unreadable.add((setting, key))
            message = str(e)
            if prop.secret:
                message = _redact_secret_message(message)
            self.report.error(
                f"{message} (NetworkManager drops this value)"
                if "NetworkManager" not in message
                else message,
                line.number,
                section,
                key,
            )
            return
        if value is _SKIPPED:
            if raw.strip():
                self.report.warn(
                    "NetworkManager does not read this key from a file", line.number, section,
                    key,
                )  # fmt: skip
            return
        self.values[(setting, key)] = value

    def read_ip_entries(
        self, setting: str, section: str, entries: list[tuple[tuple[str, int, int], Line]]
    ) -> None:
        family = 4 if setting == "ipv4" else 6
        addresses = []
        routes = []
        for (base, _, _), line in sorted(entries, key=lambda e: e[0][1:]):
            route = base == "route"
            try:
                entry = read_ip_entry(line.raw_value or "", family, route)
            except BadValue as e:
                self.unreadable.add((setting, "routes" if route else "addresses"))
                message = str(e)
                if "NetworkManager" not in message:
                    message += f" (NetworkManager drops this {'route' if route else 'address'})"
                self.report.error(
                    message,
                    line.number,
                    section,
                    line.key,
                )
                continue
            (routes if route else addresses).append((entry, line))
        if addresses:
            self.values[(setting, "addresses")] = addresses
        if routes:
            self.values[(setting, "routes")] = routes


_SKIPPED = object()


def read_value(setting: str, prop: Prop, raw: str) -> Any:
    """The value NetworkManager loads for a property, or `BadValue`."""
    kind = prop.kind
    if kind == "skipped":
        return _SKIPPED
    if kind == "str" or kind == "type":
        return read_string(raw)
    if kind == "bool":
        return read_bool(raw)
    if kind == "int":
        assert prop.lo is not None and prop.hi is not None
        return read_int(raw, prop.lo, prop.hi, None)
    if kind == "strv":
        return read_list(raw)
    if kind == "mac":
        return read_mac(raw)
    if kind == "cloned-mac":
        return read_mac(raw, cloned=True)
    if kind in ("ssid", "bytes"):
        return read_bytes(raw)
    if kind == "cert":
        return read_cert(raw)
    if kind == "dns":
        return read_dns(raw, 4 if setting == "ipv4" else 6)
    if kind == "addr-gen-mode":
        return read_addr_gen_mode(raw)
    if kind == "parity":
        return read_parity(raw)
    raise AssertionError(kind)


def _redact_secret_message(message: str) -> str:
    """Secrets are never echoed: keep only what the message says is expected."""
    return message.split(", got", 1)[0]


def _shown_name(setting: str) -> str:
    from hil.netconfig.keyfile import ALIAS_FOR_SETTING

    return ALIAS_FOR_SETTING.get(setting, setting)


_KNOWN_SECTIONS = [
    "connection", "wifi", "wifi-security", "802-1x", "ethernet", "gsm", "serial", "ppp",
    "ipv4", "ipv6", "proxy",
]  # fmt: skip


def _did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""
