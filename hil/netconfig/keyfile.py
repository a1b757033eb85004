"""`Keyfile`: a NetworkManager connection file that round-trips as written.

Reading keeps every line (comments, blank lines, unknown keys, order, CRLF);
`dump()` gives the same text back, and edits touch only the lines they
change. Lookups go by setting name and accept NetworkManager's section
aliases (`wifi` for `802-11-wireless`, ...), the way NetworkManager's reader
does: the canonical group first, then its alias; the last of duplicate keys
wins, as in GLib.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence

from hil.netconfig.gkeyfile import (
    KeyfileSyntaxError,
    Line,
    escape,
    escape_list,
    parse_line,
    split_lines,
    unescape,
    unescape_list,
)

#: NetworkManager's keyfile aliases: section name in a file -> setting name.
SECTION_ALIASES: dict[str, str] = {
    "wifi": "802-11-wireless",
    "wifi-security": "802-11-wireless-security",
    "ethernet": "802-3-ethernet",
}
#: setting name -> the alias NetworkManager writes (and `hil` builders write).
ALIAS_FOR_SETTING: dict[str, str] = {v: k for k, v in SECTION_ALIASES.items()}

#: The settings a balenaOS connection file uses, as NetworkManager names them.
SETTINGS = (
    "connection",
    "802-11-wireless",
    "802-11-wireless-security",
    "802-1x",
    "802-3-ethernet",
    "gsm",
    "serial",
    "ppp",
    "ipv4",
    "ipv6",
    "proxy",
)

Value = str | int | bool | Sequence[str]

# Names NetworkManager's keyfile plugin skips in a connections directory
# (nm_keyfile_utils_ignore_filename): hidden files, editor backups, 802.1x
# certificates and keys, and anything ending in '.' + 6 letters or digits,
# which is how GLib's temporary files end -- and why balenaOS's template
# `resin-sample.ignore` ("ignore" has 6 letters) is never loaded.
_MKSTEMP_SUFFIX = re.compile(r"\.[A-Za-z0-9]{6}$")


def setting_name(section: str) -> str:
    """The NetworkManager setting a section name stands for (`wifi` -> `802-11-wireless`)."""
    return SECTION_ALIASES.get(section, section)


def why_not_loaded(filename: str) -> str | None:
    """Why NetworkManager on the board would skip a connection file of this name, else None."""
    base = os.path.basename(filename)
    if not base:
        return "not a file name"
    if base.startswith("."):
        return "hidden files (starting with '.') are not loaded"
    if base.endswith(".ignore"):
        return (
            "files ending in '.ignore' are templates (like resin-sample.ignore) and are not "
            "loaded: NetworkManager skips names ending in '.' and 6 letters or digits"
        )
    if base.endswith("~"):
        return "backup files (ending in '~') are not loaded"
    if _MKSTEMP_SUFFIX.search(base):
        return (
            f"names ending in '.' and 6 letters or digits ({base[base.rfind('.') :]!r}) look "
            "like temporary files to NetworkManager and are not loaded"
        )
    lower = base.lower()
    if lower.endswith((".pem", ".der")) and len(base) > 4:
        return "'.pem' and '.der' files are certificates, not connections"
    return None


def is_loaded_by_os(filename: str) -> bool:
    """True if NetworkManager loads a connection file of this name (`*.ignore` is not)."""
    return why_not_loaded(filename) is None


class Keyfile:
    """A NetworkManager keyfile: its lines as written, with typed access by setting and key."""

    def __init__(self, lines: list[Line] | None = None) -> None:
        self.lines: list[Line] = lines if lines is not None else []

    # --- reading and writing --------------------------------------------------

    @classmethod
    def parse(cls, text: str | bytes) -> Keyfile:
        """Parse keyfile text; raises `KeyfileSyntaxError` where GLib would refuse the file.

        Bytes that are not UTF-8 are kept (as surrogates) and written back unchanged.
        """
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        lines: list[Line] = []
        group: str | None = None
        for number, (line_text, ending) in enumerate(split_lines(text), start=1):
            line = parse_line(number, line_text, group, ending)
            if line.kind == "group":
                group = line.group
            lines.append(line)
        return cls(lines)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Keyfile:
        with open(path, "rb") as f:
            return cls.parse(f.read())

    def dump(self) -> str:
        """The file text: identical to what was parsed, plus any edits."""
        return "".join(line.text + line.ending for line in self.lines)

    def to_bytes(self) -> bytes:
        return self.dump().encode("utf-8", "surrogateescape")

    def write(self, path: str | os.PathLike[str]) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes())

    @classmethod
    def from_sections(cls, sections: Mapping[str, Mapping[str, Value | None]]) -> Keyfile:
        """A new keyfile with these sections and keys, in this order (None values skipped)."""
        kf = cls()
        for section, keys in sections.items():
            kf.add_section(section)
            for key, value in keys.items():
                if value is not None:
                    kf.set(section, key, value)
        return kf

    # --- structure --------------------------------------------------------------

    @property
    def sections(self) -> list[str]:
        """Group names as written, each once, in file order."""
        seen: dict[str, None] = {}
        for line in self.lines:
            if line.kind == "group" and line.group is not None:
                seen.setdefault(line.group, None)
        return list(seen)

    def section_for(self, setting: str) -> str | None:
        """The group holding `setting` (canonical name first, then its alias), if any."""
        canonical = setting_name(setting)
        names = self.sections
        if canonical in names:
            return canonical
        alias = ALIAS_FOR_SETTING.get(canonical)
        if alias in names:
            return alias
        return None

    def has_setting(self, setting: str) -> bool:
        return self.section_for(setting) is not None

    def entries(self, section: str | None = None) -> Iterator[Line]:
        """Entry lines (key=value), of one group as written or of all, in file order."""
        for line in self.lines:
            if line.kind == "entry" and (section is None or line.group == section):
                yield line

    def line_of(self, setting: str, key: str) -> Line | None:
        """The line NetworkManager takes `key` from (the last one, as GLib does)."""
        section = self.section_for(setting)
        if section is None:
            return None
        found = None
        for line in self.entries(section):
            if line.key == key:
                found = line
        return found

    def keys(self, setting: str) -> list[str]:
        """The keys of a setting, each once, in file order (translations excluded)."""
        section = self.section_for(setting)
        if section is None:
            return []
        seen: dict[str, None] = {}
        for line in self.entries(section):
            if line.key is not None and not line.is_translation:
                seen.setdefault(line.key, None)
        return list(seen)

    # --- values -------------------------------------------------------------------

    def raw(self, setting: str, key: str) -> str | None:
        """The value as written (still escaped), or None if absent."""
        line = self.line_of(setting, key)
        return line.raw_value if line else None

    def get(self, setting: str, key: str, default: str | None = None) -> str | None:
        """The string value (unescaped as GLib does); raises `ValueSyntaxError` if unreadable."""
        raw = self.raw(setting, key)
        return default if raw is None else unescape(raw)

    def get_list(self, setting: str, key: str) -> list[str] | None:
        """A `;`-separated list value, or None if absent."""
        raw = self.raw(setting, key)
        return None if raw is None else unescape_list(raw)

    def get_bool(self, setting: str, key: str, default: bool | None = None) -> bool | None:
        """A boolean as GLib reads it (`true`/`false`/`1`/`0`); default if absent or invalid."""
        raw = self.raw(setting, key)
        parsed = parse_glib_bool(raw) if raw is not None else None
        return default if parsed is None else parsed

    def set(self, setting: str, key: str, value: Value) -> None:
        """Set a key, replacing its line in place or adding it at the end of its section."""
        raw = _format(value)
        section = self.section_for(setting)
        if section is None:
            section = self.add_section(setting)
        line = self.line_of(section, key)
        if line is not None:
            line.raw_value = raw
            indent = line.text[: len(line.text) - len(line.text.lstrip())]
            line.text = f"{indent}{key}={raw}"
            return
        new = Line(0, f"{key}={raw}", "entry", self._ending(), section, key=key, raw_value=raw)
        self.lines.insert(self._end_of_section(section), new)
        self._renumber()

    def remove(self, setting: str, key: str) -> bool:
        """Remove every line of `key` in the setting; True if there was one."""
        section = self.section_for(setting)
        if section is None:
            return False
        before = len(self.lines)
        self.lines = [
            ln
            for ln in self.lines
            if not (ln.kind == "entry" and ln.group == section and ln.key == key)
        ]
        self._renumber()
        return len(self.lines) != before

    def add_section(self, section: str) -> str:
        """Append `[section]` (the name as given) unless the setting exists; returns its name."""
        existing = self.section_for(section)
        if existing is not None:
            return existing
        ending = self._ending()
        if self.lines and self.lines[-1].ending == "":
            self.lines[-1].ending = ending
        if self.lines and self.lines[-1].kind != "blank":
            self.lines.append(Line(0, "", "blank", ending, self.lines[-1].group))
        self.lines.append(Line(0, f"[{section}]", "group", ending, section))
        self._renumber()
        return section

    # --- what NetworkManager would make of it --------------------------------------

    @property
    def connection_type(self) -> str | None:
        """`connection.type` as a setting name (`wifi` -> `802-11-wireless`), if readable."""
        try:
            value = self.get("connection", "type")
        except ValueError:
            return None
        return setting_name(value) if value else value

    @property
    def id(self) -> str | None:
        try:
            return self.get("connection", "id")
        except ValueError:
            return None

    # --- internals ------------------------------------------------------------------

    def _ending(self) -> str:
        endings = [ln.ending for ln in self.lines if ln.ending]
        return "\r\n" if endings and endings.count("\r\n") > len(endings) / 2 else "\n"

    def _end_of_section(self, section: str) -> int:
        """Index after the last non-blank line of the (last) group named `section`."""
        last = None
        for i, line in enumerate(self.lines):
            if line.group == section and line.kind in ("group", "entry", "comment"):
                last = i
        assert last is not None
        if self.lines[last].ending == "":
            self.lines[last].ending = self._ending()
        return last + 1

    def _renumber(self) -> None:
        for number, line in enumerate(self.lines, start=1):
            line.number = number


def parse_glib_bool(raw: str) -> bool | None:
    """`g_key_file_get_boolean`: exactly true/false/1/0 (trailing spaces allowed), else None."""
    word = raw.rstrip(" \t")
    if word in ("true", "1"):
        return True
    if word in ("false", "0"):
        return False
    return None


def _format(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    return escape_list(list(value))


__all__ = [
    "ALIAS_FOR_SETTING",
    "SECTION_ALIASES",
    "SETTINGS",
    "Keyfile",
    "KeyfileSyntaxError",
    "is_loaded_by_os",
    "parse_glib_bool",
    "setting_name",
    "why_not_loaded",
]
