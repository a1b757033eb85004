"""Serving a lab's virtual boards, and finding them again.

Like the sim boards: `hil vrig serve` keeps the VMs up and publishes where
their consoles are, so later `hil exec` calls and pytest-xdist workers reach
the same guests; a `qemu://` board nobody serves is booted by the process
that needs it and stopped when that process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
from pathlib import Path

from hil.errors import HarnessError
from hil.lab.models import LabConfig
from hil.vrig.control import VrigControl
from hil.vrig.options import qemu_options
from hil.vrig.vm import VirtualBoard
from hil.vrig.wifi import WifiLab


def registry_dir() -> Path:
    """Where served virtual boards are listed (`HIL_VRIG_DIR` overrides)."""
    return Path(os.environ.get("HIL_VRIG_DIR") or f"/tmp/hil-vrig-{os.getuid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_booted(vm: VirtualBoard) -> None:
    """Until the guest's console answers at a shell prompt (or the VM dies)."""
    from hil.console import open_shell

    try:
        open_shell(vm.url, name=vm.name, timeout=vm.opts.boot_timeout, port_timeout=10).close()
    except HarnessError as e:
        if not vm.alive():
            raise HarnessError(f"{vm.name}: QEMU exited: {vm.last_error()}") from None
        raise HarnessError(f"{vm.name}: guest did not boot to a shell: {e}") from None


class VrigServer:
    """The `qemu://` boards of one lab, booted by this process."""

    def __init__(self, lab: LabConfig, publish: bool = False, lab_path: str = "") -> None:
        self.lab = lab
        self.publish = publish
        self.boards = {
            b.name: VirtualBoard(
                b.name,
                qemu_options(b, lab_path or lab.name),
                b.device_type,
                list(b.faults),
                WifiLab.of(b, lab_path or None),
            )
            for b in lab.boards
            if b.console.scheme == "qemu"
        }
        self.dir = registry_dir() / lab.name

    def start(self, wait: bool = True) -> VrigServer:
        try:
            for vm in self.boards.values():
                vm.start()
            if wait:
                for vm in self.boards.values():
                    wait_booted(vm)
        except BaseException:
            self.stop()
            raise
        if self.publish:
            self.dir.mkdir(parents=True, exist_ok=True)
            for name, vm in self.boards.items():
                entry = {"url": vm.url, "pid": os.getpid(), "control": str(vm.control_dir)}
                tmp = self.dir / f".{name}.json.tmp"
                tmp.write_text(json.dumps(entry))
                tmp.replace(self.dir / f"{name}.json")
        return self

    def stop(self) -> None:
        for name, vm in self.boards.items():
            vm.stop()
            if self.publish:
                entry = self.dir / f"{name}.json"
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(entry.read_text()).get("pid") == os.getpid():
                        entry.unlink()


def _entry(lab_name: str, board: str) -> dict | None:
    try:
        data = json.loads((registry_dir() / lab_name / f"{board}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if _alive(int(data.get("pid", 0))) else None


def published(lab_name: str, board: str) -> str | None:
    """The console url of a board served by a live `hil vrig serve`, if any."""
    data = _entry(lab_name, board)
    return data["url"] if data else None


_local: dict[str, VrigServer] = {}
_local_lock = threading.Lock()


def endpoint(lab: LabConfig, board: str) -> str:
    """The console url of a virtual board: served here, served elsewhere, or booted now."""
    with _local_lock:
        server = _local.get(lab.name)
        if server is not None and board in server.boards:
            return server.boards[board].url
        found = published(lab.name, board)
        if found is not None:
            return found
        server = VrigServer(lab).start()
        _local[lab.name] = server
        atexit.register(server.stop)
        if board not in server.boards:
            raise HarnessError(f"{board}: not a qemu:// board of lab {lab.name}")
        return server.boards[board].url


def control(lab: LabConfig, board: str) -> VrigControl:
    """The control lines (lab line, QMP) of a virtual board: served here, served
    elsewhere, or booted now."""
    endpoint(lab, board)
    with _local_lock:
        server = _local.get(lab.name)
        if server is not None and board in server.boards:
            return server.boards[board].control()
    data = _entry(lab.name, board)
    if data is None or "control" not in data:
        raise HarnessError(f"{board}: the virtual board's server publishes no control lines")
    where = Path(data["control"])
    return VrigControl(board, where / "lab.sock", where / "qmp.sock")


def resolve_url(url: str) -> str:
    """`qemu://NAME` → the console url of a virtual board served here or published."""
    name = url.split("://", 1)[1].strip("/")
    with _local_lock:
        for server in _local.values():
            if name in server.boards:
                return server.boards[name].url
    root = registry_dir()
    for entry in sorted(root.glob(f"*/{name}.json")) if root.is_dir() else []:
        found = published(entry.parent.name, name)
        if found is not None:
            return found
    raise HarnessError(
        f"virtual board {name} is not running: start it with `hil vrig serve --lab LAB` "
        "or open it through its lab config"
    )
