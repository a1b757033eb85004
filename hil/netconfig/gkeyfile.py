"""The GKeyFile syntax NetworkManager reads keyfiles with, line by line.

NetworkManager loads a connection file with GLib's `g_key_file_load_from_file`
and reads values with `g_key_file_get_string`/`_get_string_list`. This module
reproduces that syntax (checked against GLib 2.74 by the differential test),
keeping every line as written so that a file round-trips byte for byte:

- lines end at LF; one CR before it is dropped (CRLF files load), a lone CR is
  part of the line; leading whitespace is ignored;
- `#` starts a comment line (only at the start: `;` is *not* a comment, and
  `k=v # x` is the value `v # x`); blank lines are fine;
- `[name]` opens a group (whitespace may follow `]`, nothing else; the name
  has no `[`, `]` or control characters);
- `key=value`: the key loses trailing whitespace, the value leading whitespace
  (trailing whitespace stays in the value); `key[locale]=...` is a
  translation, which NetworkManager never reads;
- a key before the first group, a line that is none of these, or a UTF-8
  byte-order mark make GLib refuse the whole file;
- values are escaped: `\\s` `\\n` `\\t` `\\r` `\\\\`, and in lists also `\\;`
  (lists are `;`-separated, with an optional trailing `;`). Any other escape,
  or a `\\` at the end, makes the value unreadable, and invalid UTF-8 too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BOM = "\ufeff"
LineKind = Literal["blank", "comment", "group", "entry"]

_GLIB_SPACE = " \t\n\v\f\r"
_LOCALE_KEY = re.compile(r"^([^\[\]=]+)\[([A-Za-z0-9_@.\-]+)\]$")


class KeyfileSyntaxError(ValueError):
    """GLib would refuse to load the file at all (NetworkManager never sees it)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class ValueSyntaxError(ValueError):
    """A value GLib cannot read (bad escape, trailing backslash, not UTF-8)."""


@dataclass
class Line:
    """One line of a keyfile, kept exactly as written (without its line end)."""

    number: int
    text: str
    kind: LineKind
    ending: str = "\n"  # "\r\n", "\n", or "" for a last line without one
    group: str | None = None  # the group this line belongs to (or opens)
    key: str | None = None  # entries: the key as written (a locale key keeps `[xx]`)
    raw_value: str | None = None  # entries: the value, still escaped
    locale: str | None = None  # entries: `de` for `key[de]=...`

    @property
    def is_translation(self) -> bool:
        return self.locale is not None


def split_lines(text: str) -> list[tuple[str, str]]:
    """Split file text as GLib does: on LF, one CR before it belonging to the line end.

    Returns `(line, ending)` pairs; `ending` is `"\\r\\n"`, `"\\n"` or `""` (a last
    line without a line end), so that joining them gives the text back.
    """
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        if nl < 0:
            out.append((text[pos:], ""))
            break
        line = text[pos:nl]
        if line.endswith("\r"):
            out.append((line[:-1], "\r\n"))
        else:
            out.append((line, "\n"))
        pos = nl + 1
    return out


def _has_control(s: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in s)


def parse_line(number: int, text: str, group: str | None, ending: str = "\n") -> Line:
    """Classify one line; raises `KeyfileSyntaxError` where GLib would refuse the file."""
    if number == 1 and text.startswith(BOM):
        raise KeyfileSyntaxError(
            number,
            "the file starts with a UTF-8 byte-order mark: NetworkManager (GLib) cannot "
            "load the file at all; save it as UTF-8 without BOM",
        )
    if "\x00" in text:
        raise KeyfileSyntaxError(number, "NUL byte in the line")
    stripped = text.lstrip(_GLIB_SPACE)
    if not stripped:
        return Line(number, text, "blank", ending, group)
    if stripped.startswith("#"):
        return Line(number, text, "comment", ending, group)
    if stripped.startswith("["):
        end = stripped.find("]")
        if end < 0 or stripped[end + 1 :].strip(" \t"):
            raise KeyfileSyntaxError(
                number, f"{_show(stripped)} is not a group header ([name] alone on its line)"
            )
        name = stripped[1:end]
        if not name or "[" in name or _has_control(name):
            raise KeyfileSyntaxError(number, f"invalid group name {name!r}")
        return Line(number, text, "group", ending, name)
    if "=" not in stripped or stripped.startswith("="):
        raise KeyfileSyntaxError(
            number,
            # the line is not quoted: it may be a secret that lost its `=` (psk hunter2...)
            "this line is not a key=value pair, a [group] or a # comment"
            + ("; comments start with '#', not ';'" if stripped.startswith(";") else ""),
        )
    key, _, value = stripped.partition("=")
    key = key.rstrip(_GLIB_SPACE)
    if group is None:
        raise KeyfileSyntaxError(number, f"key {key!r} comes before the first [group]")
    locale = None
    match = _LOCALE_KEY.match(key)
    if match:
        locale = match.group(2)
    elif "[" in key or "]" in key or not key:
        raise KeyfileSyntaxError(number, f"invalid key name {key!r}")
    return Line(
        number,
        text,
        "entry",
        ending,
        group,
        key=key,
        raw_value=value.lstrip(_GLIB_SPACE),
        locale=locale,
    )


def _show(line: str) -> str:
    """A line quoted for an error message, cut short (it may hold anything)."""
    return repr(line if len(line) <= 40 else line[:37] + "...")


# --- values -------------------------------------------------------------------

_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _check_utf8(raw: str) -> None:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueSyntaxError("the value is not valid UTF-8") from None


def unescape(raw: str) -> str:
    """The string `g_key_file_get_string` returns for a raw value."""
    _check_utf8(raw)
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(raw):
            raise ValueSyntaxError("the value ends with an escape character '\\'")
        nxt = raw[i + 1]
        if nxt not in _ESCAPES:
            hint = " (a ';' is escaped only inside lists)" if nxt == ";" else ""
            raise ValueSyntaxError(f"invalid escape sequence '\\{nxt}'{hint}")
        out.append(_ESCAPES[nxt])
        i += 2
    return "".join(out)


def unescape_bytes(raw: str) -> str:
    """How NetworkManager reads a byte-array value (ssid, password-raw): the GLib
    escapes and `\\;` are decoded, any other `\\x` is kept as written, and a
    trailing `\\` is dropped (checked against libnm 1.42)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
        elif i + 1 >= len(raw):
            i += 1
        elif raw[i + 1] == ";":
            out.append(";")
            i += 2
        elif raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
        else:
            out.append(raw[i : i + 2])
            i += 2
    return "".join(out)


def unescape_list(raw: str) -> list[str]:
    """The list `g_key_file_get_string_list` returns: `;`-separated, `\\;` escapes one."""
    _check_utf8(raw)
    items: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == ";":
            items.append("".join(current))
            current = []
            i += 1
            continue
        if ch == "\\":
            if i + 1 >= len(raw):
                raise ValueSyntaxError("the value ends with an escape character '\\'")
            nxt = raw[i + 1]
            if nxt == ";":
                current.append(";")
            elif nxt in _ESCAPES:
                current.append(_ESCAPES[nxt])
            else:
                raise ValueSyntaxError(f"invalid escape sequence '\\{nxt}'")
            i += 2
            continue
        current.append(ch)
        i += 1
    if current:
        items.append("".join(current))
    return items


def escape(value: str) -> str:
    """A string as `g_key_file_set_string` writes it (leading spaces as `\\s`)."""
    out: list[str] = []
    leading = True
    for ch in value:
        if ch == " " and leading:
            out.append("\\s")
            continue
        leading = False
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        else:
            out.append(ch)
    return "".join(out)


def escape_list(items: list[str]) -> str:
    """A list as NetworkManager writes it: each item escaped, each followed by `;`."""
    return "".join(escape(item).replace(";", "\\;") + ";" for item in items)
