"""`/etc/os-release` parser."""

from __future__ import annotations

import re
import shlex


def parse_os_release(text: str) -> dict[str, str]:
    """`/etc/os-release` as a dict, values unquoted as the shell would."""
    result = {}
    for line in text.splitlines():
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if not m:
            continue
        try:
            words = shlex.split(m.group(2))
        except ValueError:
            words = [m.group(2).strip("\"'")]
        result[m.group(1)] = " ".join(words)
    return result
