"""The simulated board's filesystem: an in-memory tree of files and directories.

Paths are absolute POSIX paths. Files hold bytes and a mode. Missing paths
raise `CommandError` with the wording busybox uses, so handlers can let it
propagate.

Two hooks let daemons of the model take part: `provide(path, fn)` makes a
file whose content a daemon keeps current (as NetworkManager keeps its
resolv file), and `watch(path, fn)` calls `fn(path)` after the file changes
(as a systemd path unit does).
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hil.sim.shell.interp import CommandError


@dataclass
class FileNode:
    data: bytes
    mode: int = 0o644


class VirtualFS:
    def __init__(self) -> None:
        self._files: dict[str, FileNode] = {}
        self._dirs: set[str] = {"/"}
        self._lock = threading.RLock()
        self._providers: dict[str, Callable[[], bytes | str]] = {}
        self._watchers: dict[str, list[Callable[[str], None]]] = {}

    # -- hooks ---------------------------------------------------------
    def provide(self, path: str, fn: Callable[[], bytes | str]) -> None:
        """A file whose content `fn` gives at every read (a daemon keeps it current)."""
        path = self.norm(path)
        with self._lock:
            self._providers[path] = fn
            self.mkdir(posixpath.dirname(path))
            self._files.setdefault(path, FileNode(b""))

    def watch(self, path: str, fn: Callable[[str], None]) -> None:
        """Call `fn(path)` after `path` is written, appended, moved onto or removed."""
        self._watchers.setdefault(self.norm(path), []).append(fn)

    def _changed(self, path: str) -> None:
        for fn in list(self._watchers.get(path, ())):
            fn(path)

    @staticmethod
    def norm(path: str) -> str:
        return posixpath.normpath("/" + path.lstrip("/")) if path else "/"

    def mkdir(self, path: str, parents: bool = True) -> None:
        path = self.norm(path)
        with self._lock:
            if path in self._files:
                raise CommandError(f"can't create directory '{path}': File exists")
            parent = posixpath.dirname(path)
            if parent not in self._dirs:
                if not parents:
                    raise CommandError(
                        f"can't create directory '{path}': No such file or directory"
                    )
                self.mkdir(parent)
            self._dirs.add(path)

    def write(self, path: str, data: bytes | str, mode: int | None = None) -> None:
        path = self.norm(path)
        if isinstance(data, str):
            data = data.encode()
        with self._lock:
            if path in self._dirs:
                raise CommandError(f"can't create {path}: Is a directory")
            self.mkdir(posixpath.dirname(path))
            old = self._files.get(path)
            self._providers.pop(path, None)
            self._files[path] = FileNode(
                data, mode if mode is not None else (old.mode if old else 0o644)
            )
        self._changed(path)

    def append(self, path: str, data: bytes) -> None:
        path = self.norm(path)
        with self._lock:
            node = self._files.get(path)
            if node is None:
                self.write(path, data)
                return
            node.data += data
        self._changed(path)

    def read(self, path: str) -> bytes:
        path = self.norm(path)
        with self._lock:
            if path in self._dirs:
                raise CommandError("read error: Is a directory")
            node = self._files.get(path)
            if node is None:
                raise CommandError(f"can't open '{path}': No such file or directory")
            provider = self._providers.get(path)
        if provider is not None:
            data = provider()
            return data.encode() if isinstance(data, str) else data
        return node.data

    def read_text(self, path: str) -> str:
        return self.read(path).decode("utf-8", "replace")

    def exists(self, path: str) -> bool:
        path = self.norm(path)
        return path in self._files or path in self._dirs

    def isdir(self, path: str) -> bool:
        return self.norm(path) in self._dirs

    def isfile(self, path: str) -> bool:
        return self.norm(path) in self._files

    def mode(self, path: str) -> int:
        node = self._files.get(self.norm(path))
        return node.mode if node else 0o755

    def chmod(self, path: str, mode: int) -> None:
        node = self._files.get(self.norm(path))
        if node is None:
            raise CommandError(f"{path}: No such file or directory")
        node.mode = mode

    def listdir(self, path: str) -> list[str]:
        path = self.norm(path)
        with self._lock:
            if path not in self._dirs:
                raise CommandError(f"{path}: No such file or directory")
            prefix = path.rstrip("/") + "/"
            names = {
                p[len(prefix) :].split("/", 1)[0]
                for p in [*self._files, *self._dirs]
                if p.startswith(prefix) and p != path
            }
            return sorted(names)

    def remove(self, path: str, recursive: bool = False) -> None:
        path = self.norm(path)
        with self._lock:
            if path in self._files:
                del self._files[path]
                self._providers.pop(path, None)
            elif path in self._dirs:
                if not recursive and self.listdir(path):
                    raise CommandError(f"can't remove '{path}': Directory not empty")
                prefix = path.rstrip("/") + "/"
                self._files = {k: v for k, v in self._files.items() if not k.startswith(prefix)}
                self._dirs = {d for d in self._dirs if d != path and not d.startswith(prefix)}
            else:
                raise CommandError(f"can't remove '{path}': No such file or directory")
        self._changed(path)

    def rename(self, src: str, dst: str) -> None:
        src, dst = self.norm(src), self.norm(dst)
        with self._lock:
            if src not in self._files:
                raise CommandError(f"can't rename '{src}': No such file or directory")
            if dst in self._dirs:
                dst = posixpath.join(dst, posixpath.basename(src))
            self.mkdir(posixpath.dirname(dst))
            self._files[dst] = self._files.pop(src)
            self._providers.pop(dst, None)
        self._changed(src)
        self._changed(dst)

    def files_under(self, path: str) -> list[str]:
        prefix = self.norm(path).rstrip("/") + "/"
        return sorted(p for p in self._files if p.startswith(prefix))
