"""Interpreter of the simulated shell: runs the AST against a board's world.

Commands are handlers registered in `hil.sim.commands`; this module does what
a shell does around them: expansion ($?, $VAR, $(…), globbing), pipes (each
stage's stdout feeds the next), redirection to files of the virtual
filesystem, `&&`/`||`/`;`, subshells, `{ …; }` groups, functions with
positional parameters, and the few builtins that change the shell itself
(cd, export, unset, exit, set, `:`).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.sim.shell.lexer import ShellSyntaxError, Word, tokenize
from hil.sim.shell.parser import (
    AndOr,
    Command,
    CommandList,
    FuncDef,
    Group,
    Pipeline,
    Redirect,
    Simple,
    parse,
)

if TYPE_CHECKING:
    from hil.sim.world import World

Writer = Callable[[bytes], None]


class Interrupted(Exception):
    """Ctrl-C reached the running command."""


class ExitShell(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class CommandError(Exception):
    """A handler's failure: printed as `name: message` on stderr."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TtyState:
    """The board-side terminal settings that `stty` changes."""

    echo: bool = True
    cols: int = 80
    rows: int = 24


class RebootRequested(Exception):
    """`reboot` was run: the board goes down after the command."""


class Proc:
    """What a command handler gets: its arguments, stdin, streams and the world."""

    def __init__(self, shell: Shell, args: list[str], stdin: bytes, out: Writer, err: Writer):
        self.shell = shell
        self.args = args
        self.stdin = stdin
        self._out = out
        self._err = err

    @property
    def world(self) -> World:
        return self.shell.world

    @property
    def name(self) -> str:
        return self.args[0]

    def out(self, data: str | bytes) -> None:
        self._out(data.encode() if isinstance(data, str) else data)

    def err(self, data: str | bytes) -> None:
        self._err(data.encode() if isinstance(data, str) else data)

    def sleep(self, seconds: float) -> None:
        """Really sleep; Ctrl-C ends it with `Interrupted`."""
        self.shell.sleep(seconds)

    def check_interrupt(self) -> None:
        if self.shell.interrupt.is_set():
            raise Interrupted

    def path(self, p: str) -> str:
        return self.shell.abspath(p)


Handler = Callable[[Proc], int | None]


class Shell:
    """One shell session on a simulated board."""

    def __init__(
        self,
        world: World,
        out: Writer,
        err: Writer | None = None,
        interrupt: threading.Event | None = None,
    ) -> None:
        from hil.sim.commands import COMMANDS

        self.world = world
        self.commands = COMMANDS
        self.term_out = out
        self.term_err = err or out
        self.interrupt = interrupt or threading.Event()
        self.status = 0
        self.cwd = "/home/root"
        self.env: dict[str, str] = {
            "HOME": "/home/root",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SHELL": "/bin/sh",
            "USER": "root",
            "PS1": r"\u@\h:\w\$ ",
        }
        self.pid = 1000 + (os.getpid() % 3000)
        self.tty = TtyState()
        self.functions: dict[str, Command] = {}
        self.positional: list[str] = []

    # -- entry points --------------------------------------------------
    def run_line(self, line: str) -> int:
        """Run one command line; returns the status (also kept in `$?`)."""
        try:
            ast = parse(line)
        except ShellSyntaxError as e:
            self.term_err(f"sh: {e}\n".encode())
            self.status = 2
            return 2
        self.status = self.exec_list(ast, self.term_out, self.term_err, b"")
        return self.status

    def sleep(self, seconds: float) -> None:
        if self.interrupt.wait(seconds):
            raise Interrupted

    def abspath(self, p: str) -> str:
        if p.startswith("~"):
            p = self.env["HOME"] + p[1:]
        return posixpath.normpath(posixpath.join(self.cwd, p))

    # -- execution -----------------------------------------------------
    def exec_list(self, node: CommandList, out: Writer, err: Writer, stdin: bytes) -> int:
        status = self.status
        for item in node.items:
            status = self.exec_and_or(item, out, err, stdin)
            self.status = status
        return status

    def exec_and_or(self, node: AndOr, out: Writer, err: Writer, stdin: bytes) -> int:
        status = self.exec_pipeline(node.first, out, err, stdin)
        for op, pipeline in node.rest:
            self.status = status
            if (op == "&&") == (status == 0):
                status = self.exec_pipeline(pipeline, out, err, stdin)
        return status

    def exec_pipeline(self, node: Pipeline, out: Writer, err: Writer, stdin: bytes) -> int:
        data = stdin
        status = 0
        for i, cmd in enumerate(node.commands):
            last = i == len(node.commands) - 1
            if last:
                status = self.exec_command(cmd, out, err, data)
            else:
                buf = bytearray()
                status = self.exec_command(cmd, buf.extend, err, data)
                data = bytes(buf)
        if node.negate:
            status = 0 if status else 1
        return status

    def exec_command(self, cmd: Command, out: Writer, err: Writer, stdin: bytes) -> int:
        if self.interrupt.is_set():
            raise Interrupted
        if isinstance(cmd, FuncDef):
            self.functions[cmd.name] = cmd.body
            return 0
        try:
            out, err, stdin, finish = self._redirect(cmd.redirects, out, err, stdin)
        except CommandError as e:
            err(f"sh: {e}\n".encode())
            return e.status
        try:
            if isinstance(cmd, Simple):
                return self._simple(cmd, out, err, stdin)
            if isinstance(cmd, Group):
                return self.exec_list(cmd.body, out, err, stdin)
            return self._subshell(cmd.body, out, err, stdin)
        finally:
            finish()

    def _subshell(self, body: CommandList, out: Writer, err: Writer, stdin: bytes) -> int:
        saved = (dict(self.env), self.cwd, self.status)
        try:
            return self.exec_list(body, out, err, stdin)
        except ExitShell as e:
            return e.status
        finally:
            self.env, self.cwd, _ = saved

    def _simple(self, cmd: Simple, out: Writer, err: Writer, stdin: bytes) -> int:
        assigns = {}
        for w in cmd.assignments:
            name, _, _ = w.parts[0].text.partition("=")
            value = "".join(self.expand_word(w, split=False))
            assigns[name] = value.split("=", 1)[1]
        args = [a for w in cmd.words for a in self.expand_word(w)]
        if not args:
            self.env.update(assigns)
            return 0
        builtin = self._builtins().get(args[0])
        if builtin is not None:
            return builtin(args, out, err)
        if args[0] in self.functions:
            return self._call(self.functions[args[0]], args[1:], out, err, stdin)
        handler = self.commands.get(posixpath.basename(args[0]))
        if handler is None:
            err(f"sh: {args[0]}: not found\n".encode())
            return 127
        saved_env = dict(self.env)
        self.env.update(assigns)
        proc = Proc(self, args, stdin, out, err)
        try:
            status = handler(proc)
        except CommandError as e:
            err(f"{args[0]}: {e}\n".encode())
            status = e.status
        finally:
            if assigns:
                self.env = saved_env
        return 0 if status is None else status

    def _call(self, body: Command, args: list[str], out: Writer, err: Writer, stdin: bytes) -> int:
        saved, self.positional = self.positional, args
        try:
            return self.exec_command(body, out, err, stdin)
        finally:
            self.positional = saved

    # -- redirection ---------------------------------------------------
    def _redirect(self, redirects: list[Redirect], out: Writer, err: Writer, stdin: bytes):
        files: list[tuple[str, bytearray, bool]] = []
        fds: dict[int, Writer] = {1: out, 2: err}
        for r in redirects:
            target = "".join(self.expand_word(r.target, split=False))
            if r.op in (">&", "<&"):
                if r.op == ">&" and target in ("1", "2"):
                    fds[r.fd] = fds[int(target)]
                continue
            path = self.abspath(target)
            if r.op == "<":
                stdin = self.world.fs.read(path)  # raises CommandError when missing
                continue
            if path == "/dev/null":
                fds[r.fd] = _discard
                continue
            if self.world.fs.isdir(path):
                raise CommandError(f"can't create {target}: Is a directory")
            if not self.world.fs.isdir(posixpath.dirname(path)):
                raise CommandError(f"can't create {target}: nonexistent directory")
            buf = bytearray()
            files.append((path, buf, r.op == ">>"))
            if r.op == ">":
                self.world.fs.write(path, b"")  # truncate now, as sh does
            fds[r.fd] = buf.extend

        def finish() -> None:
            for path, buf, _append in files:
                self.world.fs.append(path, bytes(buf))

        return fds[1], fds[2], stdin, finish

    # -- expansion -----------------------------------------------------
    def expand_word(self, word: Word, split: bool = True) -> list[str]:
        fields: list[str] = [""]
        globbable = False
        have_content = False
        for part in word.parts:
            if part.kind == "lit":
                fields[-1] += part.text
                have_content = True
                if not part.quoted and any(c in part.text for c in "*?["):
                    globbable = True
                continue
            value = self._param(part.text) if part.kind == "var" else self._cmdsub(part.text)
            if part.quoted or not split:
                fields[-1] += value
                have_content = True
                continue
            pieces = value.split()
            if not pieces:
                continue
            if value[:1].isspace() and fields[-1]:
                fields.append("")
            fields[-1] += pieces[0]
            fields.extend(pieces[1:])
            if value[-1:].isspace():
                fields.append("")
            have_content = True
        if fields[-1] == "" and len(fields) > 1:
            fields.pop()
        if not have_content and fields == [""]:
            return []
        if globbable and split:
            return [m for f in fields for m in (self._glob(f) or [f])]
        return fields

    def _param(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(self.pid)
        if name == "#":
            return str(len(self.positional))
        if name.isdigit() and name != "0":
            i = int(name) - 1
            return self.positional[i] if i < len(self.positional) else ""
        if name.startswith("#") and name[1:].isidentifier():
            return str(len(self.env.get(name[1:], "").encode()))
        if ":-" in name:
            var, default = name.split(":-", 1)
            return self.env.get(var) or self._expand_text(default)
        return self.env.get(name, "")

    def _expand_text(self, text: str) -> str:
        """A word's text expanded as inside double quotes (`${X:-$?}`)."""
        words = [t for t in tokenize(text) if isinstance(t, Word)]
        return " ".join("".join(self.expand_word(w, split=False)) for w in words)

    def _cmdsub(self, src: str) -> str:
        buf = bytearray()
        saved = (dict(self.env), self.cwd)
        try:
            self.status = self.exec_list(parse(src), buf.extend, self.term_err, b"")
        except ShellSyntaxError as e:
            self.term_err(f"sh: {e}\n".encode())
        except ExitShell as e:
            self.status = e.status
        finally:
            self.env, self.cwd = saved
        return buf.decode("utf-8", "replace").rstrip("\n")

    def _glob(self, pattern: str) -> list[str]:
        absolute = pattern.startswith("/")
        base = "/" if absolute else self.cwd
        matches = [base]
        for seg in [s for s in pattern.split("/") if s]:
            nxt = []
            for m in matches:
                if any(c in seg for c in "*?["):
                    if self.world.fs.isdir(m):
                        names = [n for n in self.world.fs.listdir(m) if not n.startswith(".")]
                        nxt += [posixpath.join(m, n) for n in fnmatch.filter(names, seg)]
                else:
                    cand = posixpath.join(m, seg)
                    if self.world.fs.exists(cand):
                        nxt.append(cand)
            matches = nxt
        if not absolute:
            matches = [posixpath.relpath(m, self.cwd) for m in matches]
        return sorted(matches)

    # -- builtins ------------------------------------------------------
    def _builtin_cd(self, args: list[str], out: Writer, err: Writer) -> int:
        target = self.abspath(args[1] if len(args) > 1 else self.env["HOME"])
        if not self.world.fs.isdir(target):
            err(f"sh: cd: can't cd to {args[1]}: No such file or directory\n".encode())
            return 2
        self.cwd = target
        return 0

    def _builtin_export(self, args: list[str], out: Writer, err: Writer) -> int:
        for a in args[1:]:
            if "=" in a:
                k, v = a.split("=", 1)
                self.env[k] = v
        return 0

    def _builtin_unset(self, args: list[str], out: Writer, err: Writer) -> int:
        for a in args[1:]:
            self.env.pop(a, None)
        return 0

    def _builtin_exit(self, args: list[str], out: Writer, err: Writer) -> int:
        try:
            status = int(args[1]) & 0xFF if len(args) > 1 else self.status
        except ValueError:
            err(f"sh: exit: Illegal number: {args[1]}\n".encode())
            return 2
        raise ExitShell(status)

    def _builtin_set(self, args: list[str], out: Writer, err: Writer) -> int:
        return 0

    def _builtin_true(self, args: list[str], out: Writer, err: Writer) -> int:  # ':'
        return 0

    def _builtins(self) -> dict[str, Callable[[list[str], Writer, Writer], int]]:
        return {
            "cd": self._builtin_cd,
            "export": self._builtin_export,
            "unset": self._builtin_unset,
            "exit": self._builtin_exit,
            "set": self._builtin_set,
            ":": self._builtin_true,
        }


def _discard(_: bytes) -> None:
    return None
