"""NetworkManager dispatcher scripts (the boot partition's `dispatcher.d/`).

NetworkManager's dispatcher executes each file of dispatcher.d directly (as
`SCRIPT INTERFACE ACTION`), so a script must be something the kernel can
exec: a `#!` line naming an absolute interpreter, LF line endings (with CRLF
the interpreter is `/bin/sh\\r`, which does not exist), no byte-order mark.
It skips hidden files and editor/package leftovers. The boot partition is
FAT and has no executable bit; the copy onto the board makes the script
executable (0755), which is the intent a script must declare with its `#!`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from hil.netconfig.report import Report

#: Interpreters a balenaOS host has.
KNOWN_INTERPRETERS = ("/bin/sh", "/bin/bash", "/usr/bin/env")
_SKIPPED_SUFFIXES = ("~", ".rpmsave", ".rpmorig", ".rpmnew", ".swp", ".dpkg-old", ".dpkg-new",
                     ".dpkg-dist", ".dpkg-bak", ".dpkg-tmp")  # fmt: skip


def validate_dispatcher(
    data: bytes | str,
    path: str = "dispatcher-script",
    mode: int | None = None,
    syntax_check: bool = True,
) -> Report:
    """Check a dispatcher script; `mode` (st_mode bits) if it comes from a POSIX file system.

    With `syntax_check`, a `sh`/`bash` script is parsed by the real shell (`-n`).
    """
    report = Report(path)
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    name = os.path.basename(path)
    if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
        report.error("NetworkManager's dispatcher skips files with this name", line=1, key=name)
    if raw.startswith(b"\xef\xbb\xbf"):
        report.error("starts with a UTF-8 byte-order mark: the kernel cannot find '#!'", line=1)
        return report
    if not raw.startswith(b"#!"):
        report.error("does not start with #! (e.g. #!/bin/sh): the dispatcher executes it "
                     "directly", line=1)  # fmt: skip
        return report
    first = raw.split(b"\n", 1)[0]
    if b"\r\n" in raw:
        report.error("CRLF line endings: the interpreter would be looked up with a trailing "
                     "'\\r'; save with LF endings", line=1)  # fmt: skip
    words = first[2:].decode("utf-8", "replace").strip().split()
    interpreter = words[0] if words else ""
    if not interpreter.startswith("/"):
        report.error(f"the #! line must name an absolute interpreter, got {interpreter!r}", line=1)
    elif interpreter.rstrip("\r") not in KNOWN_INTERPRETERS:
        report.warn(f"{interpreter}: balenaOS's host has /bin/sh and /bin/bash", line=1)
    if mode is not None and not mode & 0o111:
        report.warn("not executable here; it becomes 0755 when copied to the board", line=1)
    if mode is not None and mode & 0o022:
        report.warn("writable by group or others: NetworkManager's dispatcher refuses such "
                    "scripts on the board unless the copy fixes the mode", line=1)  # fmt: skip
    shell = os.path.basename(interpreter.rstrip("\r"))
    if shell == "env" and len(words) > 1:
        shell = words[1]
    if syntax_check and shell in ("sh", "bash") and b"\r\n" not in raw:
        _shell_syntax(raw, shell, report)
    return report


def _shell_syntax(raw: bytes, shell: str, report: Report) -> None:
    exe = shutil.which(shell)
    if exe is None:
        return
    result = subprocess.run([exe, "-n"], input=raw, capture_output=True, timeout=10, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else "syntax error"
        line = 1
        for part in detail.split(":"):
            if "line" in part and part.strip().split()[-1].isdigit():
                line = int(part.strip().split()[-1])
        report.error(f"{shell} -n: {detail}", line=line)
