"""`environment.properties`: what ran where — lab, host, harness version, releases, boards."""

from __future__ import annotations

import platform
import socket
from pathlib import Path

from hil import __version__
from hil.lab.secrets import REDACTOR
from hil.report.results import Outcome


def _escape(value: str) -> str:
    """A value as Java properties want it (one line, backslashes and separators escaped)."""
    value = value.replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    return value.replace("=", "\\=").replace(":", "\\:")


def environment(outcomes: list[Outcome], labs: list[str], hosts: list[str] | None = None) -> dict:
    """The properties of these results (several labs, hosts or releases when merged)."""
    releases = sorted({o.os_release for o in outcomes}, key=release_key)
    boards: dict[str, set[str]] = {}
    for o in outcomes:
        boards.setdefault(o.board, set()).add(f"{o.device_type} @ {o.os_release}")
    props = {
        "lab": ", ".join(labs) or "unknown",
        "host": ", ".join(hosts or [socket.gethostname()]),
        "hil.version": __version__,
        "python": platform.python_version(),
        "os_releases": ", ".join(releases),
        "boards": ", ".join(sorted(boards)),
    }
    for name in sorted(boards):
        props[f"board.{name}"] = ", ".join(sorted(boards[name]))
    return props


def write_environment(results_dir: Path, props: dict) -> Path:
    path = results_dir / "environment.properties"
    lines = [f"{_escape(k)}={_escape(REDACTOR.redact(str(v)))}" for k, v in props.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_environment(results_dir: Path) -> dict[str, str]:
    """A results directory's `environment.properties` (empty if none)."""
    path = results_dir / "environment.properties"
    if not path.exists():
        return {}
    props = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        key, _, value = _split(line)
        props[key] = value
    return props


def _split(line: str) -> tuple[str, str, str]:
    out, i = "", 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            out += line[i + 1]
            i += 2
            continue
        if c in "=:":
            return out.strip(), c, _unescape(line[i + 1 :].strip())
        out += c
        i += 1
    return out.strip(), "", ""


def _unescape(value: str) -> str:
    out, i = "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out += value[i + 1]
            i += 2
        else:
            out += value[i]
            i += 1
    return out


def release_key(release: str) -> tuple:
    """Sort key of an OS release: `2.108.27` before `2.113.4`, unknown last."""
    parts = []
    for piece in release.replace("+", ".").replace("-", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return (release == "unknown", parts)
