"""What goes where in the boot partition, the same for an image and a live board.

The networking doc's layout: connection files in `system-connections/` under
their own names, `config.json` at the top (merged into the existing one, never
replaced), the proxy's `redsocks.conf` and `no_proxy` in `system-proxy/`,
NetworkManager dispatcher scripts in `dispatcher.d/`. Every input is read and
checked here, before anything is written anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hil.bootfs.errors import ImageError
from hil.lab.secrets import collect_secret_values, is_secret_key

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
        data = _read_text_file(path, "connection")
        files.append(
            BootFile(
                f"{SYSTEM_CONNECTIONS}/{_fat_name(path)}",
                data,
                0o600,
                source=str(path),
                secrets=tuple(_keyfile_secrets(data)),
            )
        )
    if config_json is not None:
        files.append(_config_json_patch(config_json))
    if redsocks_conf is not None:
        data = _read_text_file(redsocks_conf, "redsocks.conf")
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
                _read_text_file(no_proxy, "no_proxy"),
                source=str(no_proxy),
            )
        )
    for path in dispatchers:
        data = _read_text_file(path, "dispatcher script")
        if not data.startswith(b"#!"):
            raise ImageError(
                f"{path}: dispatcher script does not start with #! "
                "(NetworkManager's dispatcher executes it directly)"
            )
        files.append(BootFile(f"{DISPATCHER}/{_fat_name(path)}", data, 0o755, source=str(path)))
    _check_unique(files)
    return files


def merge_config_json(existing: bytes | None, patch: bytes, where: str) -> bytes:
    """`patch` merged into the `existing` config.json: objects merge key by key,
    recursively; any other value (including `null`, which config.json uses for
    "none", e.g. `dnsServers`) replaces what was there. Keys keep their order;
    new ones come last. The same rule as jq's `.[0] * .[1]`, which a live board
    uses for the same merge.
    """
    update = json.loads(patch)
    if existing is None:
        merged = update
    else:
        try:
            current = json.loads(existing.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ImageError(f"{where}: is not valid JSON ({e}); cannot merge into it") from None
        if not isinstance(current, dict):
            raise ImageError(f"{where}: holds a JSON {type(current).__name__}, not an object")
        merged = _deep_merge(current, update)
    return (json.dumps(merged, indent=2, ensure_ascii=False) + "\n").encode()


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _config_json_patch(path: str | Path) -> BootFile:
    data = _read_text_file(path, "config.json")
    try:
        value = json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as e:
        raise ImageError(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(value, dict):
        raise ImageError(f"{path}: config.json must be a JSON object, not a {type(value).__name__}")
    return BootFile(
        CONFIG_JSON,
        data,
        0o644,
        merge_json=True,
        source=str(path),
        secrets=tuple(collect_secret_values(value)),
    )


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
