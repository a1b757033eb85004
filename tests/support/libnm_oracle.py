#!/usr/bin/python3
"""What libnm itself says about keyfiles: the oracle of the differential test.

Runs under Debian's `/usr/bin/python3` (python3-gi + gir1.2-nm-1.0), never
imports `hil`. For each file it does what NetworkManager's keyfile plugin
does when it loads a connection (src/core/settings/plugins/keyfile/
nms-keyfile-reader.c): GKeyFile load, `nm_keyfile_read` with a handler that
collects warnings, the id from the file name and a uuid when the file has
none, `nm_connection_normalize` (which verifies), and on top of that
`nm_connection_verify_secrets`, because a connection whose psk is invalid
loads but never connects.

Output: {"libnm": VERSION, "verdicts": [one object per file]}, each
  {"file": PATH (as given), "verdict": "valid" | "invalid",
   "stage": null | "load" | "read" | "normalize" | "secrets" | "dropped",
   "messages": [...]}
"dropped" means libnm loaded the connection but warned that it ignored an
entry (a malformed dns= or address1=, an out-of-range integer, ...): the
board would not get what the file says. Warnings of severity
INFO_MISSING_FILE (a certificate path that does not exist on *this*
machine) say nothing about the file and are not counted.

Usage: libnm_oracle.py FILE...            verdicts as JSON on stdout
"""

from __future__ import annotations

import json
import os
import sys

import gi

gi.require_version("NM", "1.0")
from gi.repository import NM, GLib  # noqa: E402

SUFFIX = ".nmconnection"


def _warnings_handler(collected: list[str]):
    def handler(keyfile, connection, handler_type, handler_data, user_data):
        if handler_type == NM.KeyfileHandlerType.WARN:
            message, severity = handler_data.warn_get()
            if int(severity) >= int(NM.KeyfileWarnSeverity.WARN):
                collected.append(message)
        return False

    return handler


def judge(path: str) -> dict:
    name = os.path.basename(path)
    result: dict = {"file": path, "verdict": "invalid", "stage": None, "messages": []}
    with open(path, "rb") as f:
        data = f.read()
    keyfile = GLib.KeyFile()
    try:
        keyfile.load_from_bytes(GLib.Bytes.new(data), GLib.KeyFileFlags.NONE)
    except GLib.Error as e:
        result.update(stage="load", messages=[e.message])
        return result
    warnings: list[str] = []
    base_dir = os.path.dirname(os.path.abspath(path))
    try:
        connection = NM.keyfile_read(
            keyfile, base_dir, NM.KeyfileHandlerFlags.NONE, _warnings_handler(warnings), None
        )
    except GLib.Error as e:
        result.update(stage="read", messages=[e.message, *warnings])
        return result
    s_con = connection.get_setting_connection()
    if s_con is None:
        s_con = NM.SettingConnection.new()
        connection.add_setting(s_con)
    # As the daemon does (nm_keyfile_read_ensure_id/_uuid): the file name is
    # the id when the file has none, and a missing uuid is generated.
    if s_con.get_id() is None:
        s_con.set_property("id", name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name)
    if s_con.get_uuid() is None:
        s_con.set_property("uuid", NM.utils_uuid_generate())
    try:
        connection.normalize(None)
    except GLib.Error as e:
        result.update(stage="normalize", messages=[e.message, *warnings])
        return result
    try:
        connection.verify_secrets()
    except GLib.Error as e:
        result.update(stage="secrets", messages=[e.message, *warnings])
        return result
    if warnings:
        result.update(stage="dropped", messages=warnings)
        return result
    result["verdict"] = "valid"
    return result


def main(argv: list[str]) -> int:
    version = f"{NM.MAJOR_VERSION}.{NM.MINOR_VERSION}.{NM.MICRO_VERSION}"
    out = {"libnm": version, "verdicts": [judge(p) for p in argv]}
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
