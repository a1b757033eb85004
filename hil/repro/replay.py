"""A board served from a recording (`replay://PATH`), on a pty like a simulated board.

The replay board is a simulated board (`hil.sim.board.SimBoard`: a real pty,
echo, line editing, Ctrl-C, a login prompt if the board had one, a shell
grammar) whose shell knows almost no commands. What the console types around
a command — markers, the status printf, its own helper functions, `stty` —
is shell, and the shell runs it: nothing of the console's framing is in the
recording, so a console that frames commands another way replays the same.
The command itself is found in the typed line as the whole text of a recorded
command (`hil.repro.recording`) and answered from the recording: the output
and exit status the board gave, a timeout (it hangs until interrupted) or a
reboot where the board rebooted. Commands that only set up the shell (`stty`,
`export`, ...) run for real, and so do commands made only of file tools
(printf into a file, base64, sha256sum, mv, ...): a file written through the
console exists, and where the recording masked a secret in an answer (a
digest of a file that holds a psk) the answer is computed again.

A command that is not in the recording gets `hil replay: not in recording:
COMMAND` and status 127; `Board.open_shell` turns that into a
`NotInRecording` error, so the test goes red with that reason.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from hil.console.replay import NOT_IN_RECORDING, NOT_IN_RECORDING_STATUS
from hil.errors import HarnessError
from hil.lab.models import BoardConfig, ConsoleConfig, LabConfig, SimWorld
from hil.repro.recording import Recording
from hil.sim.board import SimBoard
from hil.sim.console_faults import LineFaults
from hil.sim.server import SimEndpoint, SimServer
from hil.sim.shell import Shell
from hil.sim.shell.interp import CommandError, Interrupted, Proc, RebootRequested
from hil.sim.shell.lexer import ShellSyntaxError
from hil.sim.shell.parser import parse

REPLAY = "__hil_replay"
#: commands that only change the shell itself: run, never looked up
SHELL_STATE = {
    "stty", "bind", "export", "unset", "set", "cd", "umask", ":", "true", "local", "dmesg -n",
}  # fmt: skip
#: the only places of the replay board's own files (the console's scratch files)
SCRATCH = ("/tmp", "/run", "/dev/shm", "/var/tmp", "/home/root")
#: file tools: run in the replay board's own files, answered from the recording
FILE_TOOLS = {
    "printf", "echo", "cat", "base64", "sha256sum", "md5sum", "wc", "rm", "mv", "cp",
    "chmod", "mkdir", "touch", "sync", "test", "[", "true", "false", ":", "jq", "head",
    "tail", "read",
}  # fmt: skip
#: the file tools that read files named on their command line
READERS = {"cat", "base64", "sha256sum", "md5sum", "wc", "head", "tail", "jq"}
#: what the console's own framing may use besides the above
FRAMING = SHELL_STATE | FILE_TOOLS


def command_names(text: str) -> set[str] | None:
    """The names of the simple commands of `text` (None if it does not parse)."""
    try:
        tree = parse(text)
    except ShellSyntaxError:
        return None
    names: set[str] = set()

    def walk(node: object) -> None:
        words = getattr(node, "words", None)
        if words:
            name = words[0].literal or "?"
            if name == "dmesg" and any(w.literal == "-n" for w in words[1:]):
                name = "dmesg -n"  # the console quieting the kernel, not reading its log
            names.add(name)
        for attr in ("items", "commands"):
            for child in getattr(node, attr, None) or []:
                walk(child)
        for attr in ("first", "body"):
            child = getattr(node, attr, None)
            if child is not None:
                walk(child)
        for _, child in getattr(node, "rest", None) or []:
            walk(child)

    walk(tree)
    return names


class _Commands(dict):
    """The replay shell's command table: framing tools, the replay, and for
    anything else the not-in-recording answer."""

    def __init__(self, handlers: dict[str, Callable], missing: Callable) -> None:
        super().__init__(handlers)
        self.missing = missing

    def get(self, name, default=None):  # type: ignore[override]
        return super().get(name) or self.missing


class ReplayBoard(SimBoard):
    """A board that answers from `recording`."""

    def __init__(self, config: BoardConfig, recording: Recording) -> None:
        sim_config = config.model_copy(
            update={
                "console": config.console.model_copy(update={"url": f"sim://{config.name}"}),
                "sim": SimWorld(
                    os_release=config.os_release or "replay",
                    hostname=config.name,
                    ethernet=False,
                ),
                "modems": [],
                "faults": [],
            }
        )
        super().__init__(sim_config)
        self.config = config.model_copy(
            update={"console": config.console.model_copy(update={"url": f"sim://{config.name}"})}
        )
        self.recording = recording
        self.lock = threading.Lock()
        self._live: dict[str, tuple[str, str]] = {}  # token → (recorded text, typed text)
        self._tokens = 0
        self.misses: list[str] = []
        # the lab's faults were in the recording already: none is played again
        self.faults = LineFaults(set(), self.world.clock.uptime, seed=0)
        self.world.fault = lambda name: False  # type: ignore[method-assign]

    # -- the board -------------------------------------------------------
    def _boot(self) -> None:
        """Boot as a sim board does, then keep none of its files, only its directories
        (so that a file written over the console lands): every file of the board is
        in the recording, or is not known."""
        super()._boot()
        fs = self.world.fs
        for path in fs.files_under("/"):
            if fs.isfile(path):
                fs.remove(path)
        for keep in SCRATCH:
            fs.mkdir(keep)

    # -- the shell -------------------------------------------------------
    def _run(self, shell: Shell, line: str) -> None:
        if not isinstance(shell.commands, _Commands):
            self._restrict(shell)
        super()._run(shell, self._substitute(line))

    def _restrict(self, shell: Shell) -> None:
        from hil.sim.commands import COMMANDS

        handlers = {
            n: self._reading_scratch_only(h) if n in READERS else h
            for n, h in COMMANDS.items()
            if n in FRAMING
        }
        handlers["dmesg"] = _dmesg_level_only
        if "read" in COMMANDS:
            handlers["read"] = COMMANDS["read"]
        handlers[REPLAY] = self._replay
        shell.commands = _Commands(handlers, self._not_recorded)

    def _substitute(self, line: str) -> str:
        """Put the replay in place of the recorded command the line carries."""
        found = self.recording.find(line)
        if found is None:
            return line
        start, end, text = found
        typed = line[start:end]
        if (command_names(typed) or {"?"}) <= SHELL_STATE:
            return line  # it only sets up the shell: run it
        with self.lock:
            self._tokens += 1
            token = str(self._tokens)
            self._live[token] = (text, typed)
        return f"{line[:start]}{REPLAY} {token}{line[end:]}"

    def _replay(self, p: Proc) -> int:
        with self.lock:
            text, typed = self._live.pop(p.args[1])
            answer = self.recording.answer(text)
        names = command_names(typed) or {"?"}
        computed: tuple[bytes, int] | None = None
        if names <= FILE_TOOLS:
            computed = _run_here(p.shell, typed)
        if answer.timed_out:
            p.out(answer.output)
            p.sleep(24 * 3600)  # until the console gives up and sends Ctrl-C
        if answer.rebooted:
            p.out(answer.output)
            raise RebootRequested
        if answer.masked and computed is not None:
            p.out(computed[0])
            return computed[1]
        p.out(answer.output)
        return answer.exit_code if answer.exit_code is not None else 1

    def _reading_scratch_only(self, handler: Callable) -> Callable:
        """A file tool that reads only files the console wrote here: every other
        file of the board is in the recording, or is not known."""

        def reader(p: Proc) -> int:
            operands = [a for a in p.args[1:] if not a.startswith("-")]
            if p.name == "jq" and operands:
                operands = operands[1:]  # the filter
            if any(not p.world.fs.exists(p.path(a)) for a in operands):
                return self._not_recorded(p)
            return handler(p)

        return reader

    def _not_recorded(self, p: Proc) -> int:
        words = " ".join(p.args)
        self.misses.append(words)
        p.err(f"{NOT_IN_RECORDING}{words} (board {self.name}, recording {self.recording.name})\n")
        return NOT_IN_RECORDING_STATUS


def _dmesg_level_only(p: Proc) -> int:
    """`dmesg -n LEVEL` (console setup) runs; reading the log must come from the recording."""
    if "-n" in p.args:
        return 0
    raise CommandError(f"{NOT_IN_RECORDING}{' '.join(p.args)}", status=NOT_IN_RECORDING_STATUS)


def _run_here(shell: Shell, text: str) -> tuple[bytes, int] | None:
    """Run `text` in the replay board's own shell; (output, status), or None if it failed."""
    out = bytearray()
    try:
        status = shell.exec_list(parse(text), out.extend, out.extend, b"")
    except (ShellSyntaxError, CommandError, Interrupted):
        return None
    return bytes(out), status


# -- serving ----------------------------------------------------------------------
class ReplayServer(SimServer):
    """The replay boards of a lab (`replay://` consoles), served like sim boards."""

    def __init__(self, lab: LabConfig, publish: bool = False) -> None:
        replayed = [b for b in lab.boards if b.console.scheme == "replay"]
        super().__init__(lab.model_copy(update={"boards": replayed}), publish)
        self.lab = lab
        self.boards = {
            b.name: ReplayBoard(b, Recording.load(recording_path(b.console.url))) for b in replayed
        }
        from hil.sim.server import registry_dir

        # beside, not in, the registry of a sim lab of the same name
        self.dir = registry_dir() / f"replay-{lab.name}"
        self.control_path = str(self.dir / f"control-{os.getpid()}.sock")

    def handle_request(self, req: dict) -> dict:
        if req.get("op") == "scope":
            board = self.boards.get(req.get("board", ""))
            if isinstance(board, ReplayBoard):
                board.recording.set_scope(req.get("name"))
            return {"ok": True}
        if req.get("op") == "supports":
            # the recorded board had whatever the recorded run switched on
            return {"ok": True, "supported": True}
        if req.get("op") == "flash":
            return {"ok": False, "error": "a replayed board cannot be flashed"}
        if req.get("op") == "usb":
            # the recorded lab side powered the modem's port; what the board saw next
            # is in the recording
            return {"ok": True}
        return super().handle_request(req)


def recording_path(url: str) -> str:
    """`replay://PATH` → PATH (relative paths from the current directory)."""
    path = url.split("://", 1)[1]
    if not path:
        raise HarnessError(f"{url}: replay:// needs the path of a recording")
    return path


_servers: dict[str, ReplayServer] = {}
_lock = threading.Lock()


def endpoint(lab: LabConfig, board: str) -> SimEndpoint:
    """The replay board's pty and control socket (served from this process)."""
    with _lock:
        server = _servers.get(lab.name)
        if server is None:
            server = _servers[lab.name] = ReplayServer(lab).start()
            import atexit

            atexit.register(server.stop)
        if board not in server.boards:
            raise HarnessError(f"{board}: not a replay board of lab {lab.name}")
        return SimEndpoint(board, server.boards[board].pty_path, server.control_path)


def resolve_url(url: str) -> str:
    """`replay://PATH` for the console layer: a replay board of its own, its pty."""
    path = recording_path(url)
    name = Path(path).stem if Path(path).is_file() else Path(path).name
    config = BoardConfig(
        name=_safe(name) or "replay",
        device_type="unknown",
        console=ConsoleConfig(url=url),
    )
    lab = LabConfig(name=f"replay-{_safe(path)}"[:100], boards=[config])
    return endpoint(lab, config.name).pty


def _safe(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")


def replay_lab(recording: str, lab_path: str | None = None) -> LabConfig:
    """The lab of a replay: the recorded boards (their `board.yaml`, or `lab_path`'s
    boards of the same names) with `replay://` consoles."""
    import yaml

    from hil.errors import ConfigError
    from hil.lab import load_lab
    from hil.repro.recording import BOARD_YAML, recorded_boards

    boards = recorded_boards(recording)
    if not boards:
        raise ConfigError(f"{recording}: no recorded boards")
    lab = load_lab(lab_path) if lab_path else None
    configs = []
    for name, path in boards.items():
        if lab is not None:
            try:
                base = lab.board(name)
            except KeyError:
                raise ConfigError(
                    f"{lab_path}: no board {name!r} (recorded in {recording})"
                ) from None
            data = base.model_dump(exclude={"sim", "qemu", "sd_mux"})
        else:
            board_yaml = (path if path.is_dir() else path.parent) / BOARD_YAML
            if not board_yaml.is_file():
                raise ConfigError(
                    f"{recording}: no {BOARD_YAML} for board {name} in the recording: "
                    "give the lab it was recorded with (--lab)"
                )
            data = yaml.safe_load(board_yaml.read_text())
        data["console"] = {**data.get("console", {}), "url": f"replay://{path}"}
        data.pop("power", None)
        data.pop("lab_side", None)
        configs.append(BoardConfig.model_validate(data))
    return LabConfig(name=f"replay-{_safe(Path(recording).name)}", boards=configs)
