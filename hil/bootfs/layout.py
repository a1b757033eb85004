"""What goes where in the boot partition, the same for an image and a live board.

The networking doc's layout: connection files in `system-connections/` under
their own names, `config.json` at the top (merged into the existing one, never
replaced), the proxy's `redsocks.conf` and `no_proxy` in `system-proxy/`,
NetworkManager dispatcher scripts in `dispatcher.d/`. Every input is read and
checked here (by `hil.netconfig`'s rules: what NetworkManager, balenaOS and
redsocks accept), before anything is written anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hil.bootfs.errors import ImageError
from hil.lab.secrets import collect_secret_values, is_secret_key

if TYPE_CHECKING:
    from hil.netconfig.bootfiles import BootFileKind

SYSTEM_CONNECTIONS = "system-connections"
SYSTEM_PROXY = "system-proxy"
DISPATCHER = "dispatcher.d"
CONFIG_JSON = "config.json"

#: characters a VFAT long name cannot hold
_FAT_FORBIDDEN = re.compile(r'[\x00-\x1f"*/:<>?\\|\x7f]')
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BootFile:
    """One file for the boot partition.

    `path` is relative to the partition's root. With `merge_json`, `data` is a
    JSON object merged into the existing file (see `merge_config_json`) rather
    than replacing it. `mode` is what a live board's copy gets; FAT in an image
    has no modes. `source` names the input for error messages.
    """

    path: str
    data: bytes
    mode: int = 0o644
    merge_json: bool = False
    source: str = ""
    secrets: tuple[str, ...] = field(default=(), compare=False)

    @property
    def directory(self) -> str:
        return self.path.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


def collect_boot_files(
    *,
    connections: Sequence[str | Path] = (),
    config_json: str | Path | None = None,
    redsocks_conf: str | Path | None = None,
    no_proxy: str | Path | None = None,
    dispatchers: Sequence[str | Path] = (),
) -> list[BootFile]:
    """Read and check the inputs of `hil image inject`; the files to write, in order.

    Raises `ImageError` naming the first bad input; nothing has been written then.
    """
    files: list[BootFile] = []
    for path in connections:
        name = _fat_name(path)
        data = _read_checked(path, "connection")
        files.append(
            BootFile(
                f"{SYSTEM_CONNECTIONS}/{name}",
                data,
                0o600,
                source=str(path),
                secrets=tuple(_keyfile_secrets(data)),
            )
        )
    if config_json is not None:
        files.append(_config_json_patch(config_json))
    if redsocks_conf is not None:
        data = _read_checked(redsocks_conf, "redsocks.conf")
        files.append(
            BootFile(
                f"{SYSTEM_PROXY}/redsocks.conf",
                data,
                0o600,
                source=str(redsocks_conf),
                secrets=tuple(_redsocks_secrets(data)),
            )
        )
    if no_proxy is not None:
        files.append(
            BootFile(
                f"{SYSTEM_PROXY}/no_proxy",
                _read_checked(no_proxy, "no_proxy"),
                source=str(no_proxy),
            )
        )
    for path in dispatchers:
        name = _fat_name(path)
        data = _read_checked(path, "dispatcher")
        files.append(BootFile(f"{DISPATCHER}/{name}", data, 0o755, source=str(path)))
    _check_unique(files)
    return files


def merge_config_json(existing: bytes | None, patch: bytes, where: str) -> bytes:
    """`patch` merged into the `existing` config.json (`hil.netconfig`'s merge:
    objects key by key, recursively; any other value, `null` included, replaces
    what was there; order kept). The same rule as jq's `.[0] * .[1]`, which a
    live board uses for the same merge. Raises `ImageError` naming `where`.
    """
    from hil.netconfig import merge_config_json as netconfig_merge  # see _read_checked

    try:
        return netconfig_merge(existing, patch)
    except UnicodeDecodeError as e:
        raise ImageError(
            f"{where}: is not UTF-8 text (byte {e.start}); cannot merge into it"
        ) from None
    except json.JSONDecodeError as e:
        raise ImageError(f"{where}: is not valid JSON ({e}); cannot merge into it") from None
    except ValueError as e:
        raise ImageError(f"{where}: {e}") from None


def _config_json_patch(path: str | Path) -> BootFile:
    data = _read_checked(path, "config.json")
    value = json.loads(data.decode("utf-8"))
    return BootFile(
        CONFIG_JSON,
        data,
        0o644,
        merge_json=True,
        source=str(path),
        secrets=tuple(collect_secret_values(value)),
    )


def _read_checked(path: str | Path, kind: BootFileKind) -> bytes:
    """The input's bytes, if `hil.netconfig` finds no error in it (else one line naming
    the file, line and key)."""
    # Imported here, not at the top: `hil image ls|cat` need none of netconfig's models.
    from hil.netconfig import check_boot_file

    data = _read_text_file(path, kind)
    report = check_boot_file(kind, data, str(path))
    if not report.valid:
        first, more = report.errors[0], len(report.errors) - 1
        tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        raise ImageError(f"{path}: {first}{tail}")
    return data


def _read_text_file(path: str | Path, what: str) -> bytes:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not a {what} file") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read {what} file: {e.strerror}") from None
    if data.startswith(_BOM):
        raise ImageError(
            f"{path}: starts with a UTF-8 byte-order mark, which NetworkManager rejects"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ImageError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return data


def _fat_name(path: str | Path) -> str:
    """The file's own name, if a FAT long name can hold it."""
    name = Path(path).name
    bad = _FAT_FORBIDDEN.search(name)
    if bad:
        raise ImageError(f"{path}: file name has {bad.group()!r}, which FAT cannot store")
    if name.rstrip(". ") != name or name.startswith(" "):
        raise ImageError(
            f"{path}: file name begins with a space or ends with a dot or space, which FAT drops"
        )
    return name


def _check_unique(files: Iterable[BootFile]) -> None:
    """FAT names are case-insensitive: two inputs may not land on the same file."""
    seen: dict[str, BootFile] = {}
    for f in files:
        key = f.path.casefold()
        if key in seen:
            raise ImageError(
                f"{f.source}: would overwrite {seen[key].source} (both go to {f.path}; "
                "FAT names ignore case)"
            )
        seen[key] = f


_KEYFILE_LINE = re.compile(r"^\s*([^=#;\s][^=]*?)\s*=\s*(.*?)\s*$")
_REDSOCKS_LINE = re.compile(r'^\s*(\w+)\s*=\s*"?(.*?)"?\s*;\s*$')


def _keyfile_secrets(data: bytes) -> list[str]:
    """Values of secret keys (psk, password, pin, …) of a keyfile."""
    found = []
    for line in data.decode("utf-8").splitlines():
        m = _KEYFILE_LINE.match(line)
        if m and is_secret_key(m.group(1)) and m.group(2):
            found.append(m.group(2))
    return found


def _redsocks_secrets(data: bytes) -> list[str]:
    """The proxy login's password of a redsocks.conf."""
    found = []
    for line in data.decode("utf-8").splitlines():
        m = _REDSOCKS_LINE.match(line)
        if m and is_secret_key(m.group(1)) and m.group(2):
            found.append(m.group(2))
    return found
