"""Serving a lab's simulated boards, and finding them again.

A `SimServer` runs the sim boards of one lab in this process: each on its own
pty, plus a control socket through which the lab side (faults, power) reaches
them from any process. `hil sim serve` publishes the server in a registry
directory so that later `hil exec` calls, pytest-xdist workers and
`open_shell("sim://NAME")` find the same boards and their state.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

from hil.errors import HarnessError
from hil.lab.models import LabConfig
from hil.sim.board import SimBoard


def registry_dir() -> Path:
    """Where published sim servers are listed (`HIL_SIM_DIR` overrides)."""
    return Path(os.environ.get("HIL_SIM_DIR") or f"/tmp/hil-sim-{os.getuid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _ControlHandler(socketserver.StreamRequestHandler):
    server: _ControlServer

    def handle(self) -> None:
        for raw in self.rfile:
            try:
                reply = self.server.sim.handle_request(json.loads(raw))
            except Exception as e:
                reply = {"ok": False, "error": str(e)}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    sim: SimServer


class SimServer:
    """The sim boards of one lab, served by this process."""

    def __init__(self, lab: LabConfig, publish: bool = False) -> None:
        self.lab = lab
        self.publish = publish
        # each board's world is built with its network (its own, or the lab's)
        self.boards = {
            b.name: SimBoard(b.model_copy(update={"network": lab.network_of(b)}))
            for b in lab.boards
            if b.is_sim
        }
        self.dir = registry_dir() / lab.name
        self.control_path = str(self.dir / (f"control-{os.getpid()}.sock"))
        self._control: _ControlServer | None = None

    def start(self) -> SimServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.control_path)
        self._control = _ControlServer(self.control_path, _ControlHandler)
        self._control.sim = self
        threading.Thread(
            target=self._control.serve_forever, daemon=True, name=f"sim-control-{self.lab.name}"
        ).start()
        for board in self.boards.values():
            board.start()
        if self.publish:
            for name, board in self.boards.items():
                entry = {"pty": board.pty_path, "pid": os.getpid(), "control": self.control_path}
                tmp = self.dir / f".{name}.json.tmp"
                tmp.write_text(json.dumps(entry))
                tmp.replace(self.dir / f"{name}.json")
        return self

    def stop(self) -> None:
        for board in self.boards.values():  # all at once: each takes a poll interval
            board.signal_stop()
        for name, board in self.boards.items():
            board.stop()
            if self.publish:
                entry = self.dir / f"{name}.json"
                with contextlib.suppress(OSError, ValueError):
                    if json.loads(entry.read_text()).get("pid") == os.getpid():
                        entry.unlink()
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.control_path)

    def handle_request(self, req: dict) -> dict:
        op = req.get("op")
        if op == "ping":
            return {"ok": True, "boards": sorted(self.boards)}
        board = self.boards.get(req.get("board", ""))
        if board is None:
            return {
                "ok": False,
                "error": f"no sim board {req.get('board')!r} in lab {self.lab.name}",
            }
        if op == "fault":
            board.world.set_fault(req["name"], bool(req["on"]))
            return {"ok": True, "faults": sorted(board.world.faults)}
        if op == "faults":  # those on that this world can have
            faults = [f for f in board.world.faults if board.world.fault_applies(f)]
            return {"ok": True, "faults": sorted(faults)}
        if op == "supports":
            return {"ok": True, "supported": board.world.fault_applies(req["name"])}
        if op == "reboot":
            board.reboot()
            return {"ok": True}
        if op == "flash":
            import base64

            board.flash(
                req["release"],
                [
                    (
                        f["path"],
                        base64.b64decode(f["data"]),
                        bool(f.get("merge_json")),
                        int(f.get("mode", 0o644)),
                    )
                    for f in req.get("files", [])
                ],
            )
            return {"ok": True}
        if op == "power":
            board.set_power(bool(req["on"]))
            return {"ok": True, "powered": board.powered}
        if op == "usb":
            from hil.sim.usb import usb_port_request

            return usb_port_request(board.world, str(req.get("modem")), str(req.get("action")))
        if op == "proxy_log":
            log = board.world.subsystems["services"].lab.proxy_log
            since = int(req.get("since", 0))
            entries = [{"host": e.host, "port": e.port, "line": e.line()} for e in log[since:]]
            return {"ok": True, "entries": entries, "next": len(log)}
        if op == "wifi-client":
            from hil.sim.wifi import air_of

            with board.world.lock:
                result = air_of(board.world).client.join(board.world, req["ssid"], req.get("psk"))
            return {"ok": True, **result.as_dict()}
        return {"ok": False, "error": f"unknown op {op!r}"}


class SimEndpoint:
    """Where one sim board is served: its pty and its server's control socket."""

    def __init__(self, board: str, pty: str, control: str) -> None:
        self.board = board
        self.pty = pty
        self.control = control

    def request(self, **req: object) -> dict:
        """Send one control request to the board's server."""
        req["board"] = self.board
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(self.control)
                s.sendall(json.dumps(req).encode() + b"\n")
                reply = json.loads(s.makefile("rb").readline())
        except (OSError, ValueError) as e:
            raise HarnessError(
                f"sim board {self.board}: control socket {self.control}: {e}"
            ) from None
        if not reply.get("ok"):
            raise HarnessError(f"sim board {self.board}: {reply.get('error')}")
        return reply


_local: dict[str, SimServer] = {}
_local_lock = threading.Lock()


def published(lab_name: str, board: str) -> SimEndpoint | None:
    """The endpoint of a board published by a live `hil sim serve`, if any."""
    entry = registry_dir() / lab_name / f"{board}.json"
    try:
        data = json.loads(entry.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(data.get("pid", 0))) or not os.path.exists(data.get("pty", "")):
        return None
    return SimEndpoint(board, data["pty"], data["control"])


def endpoint(lab: LabConfig, board: str) -> SimEndpoint:
    """Find the board's server (this process's, then a published one) or start one here."""
    with _local_lock:
        server = _local.get(lab.name)
        if server is not None and board in server.boards:
            b = server.boards[board]
            return SimEndpoint(board, b.pty_path, server.control_path)
        found = published(lab.name, board)
        if found is not None:
            return found
        if server is None:
            server = _local[lab.name] = SimServer(lab).start()
            import atexit

            atexit.register(server.stop)
        if board not in server.boards:
            raise HarnessError(f"{board}: not a sim board of lab {lab.name}")
        b = server.boards[board]
        return SimEndpoint(board, b.pty_path, server.control_path)


def resolve_url(url: str) -> str:
    """`sim://NAME` → the pty path of a board served here or published."""
    name = url.split("://", 1)[1].strip("/")
    with _local_lock:
        for server in _local.values():
            if name in server.boards:
                return server.boards[name].pty_path
    root = registry_dir()
    hits = sorted(root.glob(f"*/{name}.json")) if root.is_dir() else []
    for entry in hits:
        ep = published(entry.parent.name, name)
        if ep is not None:
            return ep.pty
    raise HarnessError(
        f"sim board {name} is not running: start it with `hil sim serve --lab LAB` "
        "or open it through its lab config"
    )


@contextlib.contextmanager
def serving(lab: LabConfig, registry: Path) -> Iterator[SimServer]:
    """Serve the lab's sim boards, published in `registry`, while the block runs.

    `HIL_SIM_DIR` points at `registry` meanwhile, so that this process, the
    pytest it starts and that pytest's xdist workers all find the same boards;
    it is restored afterwards.
    """
    saved = os.environ.get("HIL_SIM_DIR")
    os.environ["HIL_SIM_DIR"] = str(registry)
    server = SimServer(lab, publish=True).start()
    try:
        yield server
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("HIL_SIM_DIR", None)
        else:
            os.environ["HIL_SIM_DIR"] = saved
