"""The bundle's own check, run by `hil repro` before the suites: does each of the
bundle's connections, applied as it came from the field, come up on the board?

The connection files are those of the bundle `hil repro` applied (its
directory is in `HIL_REPRO_BUNDLE`). A connection that does not come up fails
with NetworkManager's own reason (activating it again tells why).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hil.console import ShellSession
from hil.netconfig import Keyfile, is_loaded_by_os
from hil.probes.nmcli import parse_terse

NMCLI = "nmcli --colors no -t"
BUNDLE_ENV = "HIL_REPRO_BUNDLE"


def _connection_files() -> list[Path]:
    root = os.environ.get(BUNDLE_ENV)
    if not root:
        return []
    directory = Path(root) / "system-connections"
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and is_loaded_by_os(p.name))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "connection_file" in metafunc.fixturenames:
        files = _connection_files()
        if not files:
            none = pytest.param(None, marks=pytest.mark.skip(reason="the bundle has no connection"))
            metafunc.parametrize("connection_file", [none], ids=["none"])
            return
        metafunc.parametrize("connection_file", files, ids=[p.name for p in files])


def _read(path: Path) -> tuple[str, str, bool]:
    """(id, type, autoconnect) of a connection file, as NetworkManager reads them."""
    kf = Keyfile.parse(path.read_bytes())
    try:
        autoconnect = kf.get_bool("connection", "autoconnect", True) is not False
    except ValueError:
        autoconnect = True
    return kf.id or path.name, kf.connection_type or "", autoconnect


def test_bundle_connection_comes_up(shell: ShellSession, connection_file: Path) -> None:
    """The bundle's connection is loaded by NetworkManager and, if it autoconnects, active."""
    conn_id, _, autoconnect = _read(connection_file)
    shell.run("nm-online -s -q -t 90", timeout=105)
    r = shell.run(f"{NMCLI} -f NAME,DEVICE,STATE connection show", timeout=30)
    if r.exit_code != 0:
        _fail(f"nmcli connection show failed: {r.output.strip()}")
    rows = parse_terse(r.output, ["NAME", "DEVICE", "STATE"])
    mine = [row for row in rows if row["NAME"] == conn_id]
    if not mine:
        _fail(
            f"{connection_file.name}: NetworkManager did not load connection {conn_id!r} "
            f"(loaded: {', '.join(row['NAME'] for row in rows) or 'none'})"
        )
    if not autoconnect:
        pytest.skip(f"{connection_file.name}: autoconnect=false, not brought up at boot")
    if mine[0]["STATE"] == "activated":
        return
    # activating it again makes NetworkManager say why it does not come up
    up = shell.run(f"{NMCLI} connection up id {_quote(conn_id)}", timeout=120)
    if up.exit_code != 0:
        said = " ".join(up.output.split()) or f"nmcli exit {up.exit_code}"
        _fail(f"{connection_file.name}: connection {conn_id!r} does not come up: {said}")
    _fail(
        f"{connection_file.name}: connection {conn_id!r} was not active after boot "
        "(it came up only when activated by hand)"
    )


def _fail(message: str) -> None:
    """Fail with exactly `message` (one line: it is the verdict's reason in the report)."""
    raise AssertionError(message)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
