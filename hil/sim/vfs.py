"""The simulated board's filesystem: an in-memory tree of files and directories.

Paths are absolute POSIX paths. Files hold bytes and a mode. Missing paths
raise `CommandError` with the wording busybox uses, so handlers can let it
propagate.
"""

from __future__ import annotations

import posixpath
import threading
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
            self._files[path] = FileNode(
                data, mode if mode is not None else (old.mode if old else 0o644)
            )

    def append(self, path: str, data: bytes) -> None:
        path = self.norm(path)
        with self._lock:
            node = self._files.get(path)
            if node is None:
                self.write(path, data)
            else:
                node.data += data

    def read(self, path: str) -> bytes:
        path = self.norm(path)
        with self._lock:
            if path in self._dirs:
                raise CommandError("read error: Is a directory")
            node = self._files.get(path)
            if node is None:
                raise CommandError(f"can't open '{path}': No such file or directory")
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
            elif path in self._dirs:
                if not recursive and self.listdir(path):
                    raise CommandError(f"can't remove '{path}': Directory not empty")
                prefix = path.rstrip("/") + "/"
                self._files = {k: v for k, v in self._files.items() if not k.startswith(prefix)}
                self._dirs = {d for d in self._dirs if d != path and not d.startswith(prefix)}
            else:
                raise CommandError(f"can't remove '{path}': No such file or directory")

    def rename(self, src: str, dst: str) -> None:
        src, dst = self.norm(src), self.norm(dst)
        with self._lock:
            if src not in self._files:
                raise CommandError(f"can't rename '{src}': No such file or directory")
            if dst in self._dirs:
                dst = posixpath.join(dst, posixpath.basename(src))
            self.mkdir(posixpath.dirname(dst))
            self._files[dst] = self._files.pop(src)

    def files_under(self, path: str) -> list[str]:
        prefix = self.norm(path).rstrip("/") + "/"
        return sorted(p for p in self._files if p.startswith(prefix))
