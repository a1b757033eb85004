"""A field bundle: what a field device is and how it is configured, in one directory.

The format (a directory, or a `.tar`/`.tar.gz`/`.tgz` of one):

    device.yaml                    required: the device and its surroundings (`Device`)
    config.json                    the boot partition's config.json
    system-connections/NAME        NetworkManager connection files, as in the boot partition
    system-proxy/redsocks.conf     the proxy configuration
    system-proxy/no_proxy
    dispatcher.d/NAME              NetworkManager dispatcher scripts
    journal.log                    optional: `journalctl` of the failing boot
    dmesg.log                      optional: `dmesg`
    mmcli.txt                      optional: `mmcli -L` and `mmcli -m N -K`

`device.yaml` says which device it is (device type, OS release, modems with
VID:PID, model and firmware) and what surrounds it (the WiFi networks in range,
the APN the operator's network accepts, a cable in the ethernet port): the
connection files say what the device is *configured* to use, `device.yaml`
what is *there*. Its `files:` manifest (sha256 of every other file) lets
`hil bundle check` tell a complete bundle from a partial or corrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hil.errors import ConfigError

FORMAT = 1
DEVICE_YAML = "device.yaml"
CONFIG_JSON = "config.json"
CONNECTIONS = "system-connections"
PROXY = "system-proxy"
DISPATCHER = "dispatcher.d"
LOGS = ("journal.log", "dmesg.log", "mmcli.txt")
#: what a redacted secret reads as in a bundle's files (valid wherever a psk is)
REDACTED = "REDACTED-BY-HIL"

_VID_PID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
_MAX_FILE = 16 * 1024 * 1024  # a log bigger than this is not a config bundle


class BundleError(ConfigError):
    """The bundle cannot be read: missing, not a bundle, partial or corrupted."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Modem(_Model):
    """A modem plugged into the device."""

    model: str
    #: as it enumerates now (the PID changes when usb_modeswitch switches it)
    vid_pid: str | None = None
    firmware: str | None = None
    usb_path: str | None = None
    sim: Literal["ready", "missing", "locked"] | None = None
    operator: str | None = None
    #: the APN the operator's network accepts (the connection file says what is used)
    apn: str | None = None
    signal: int | None = Field(None, ge=0, le=100)

    @field_validator("vid_pid")
    @classmethod
    def _vid_pid(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.lower().replace("0x", "")
        if not _VID_PID.match(v):
            raise ValueError(f"expected VVVV:PPPP (4 hex digits each), got {v!r}")
        return v


class Network(_Model):
    """A WiFi network in range of the device."""

    ssid: str = Field(min_length=1, max_length=32)
    security: Literal["none", "wpa-psk", "wpa-eap"] = "wpa-psk"
    channel: int | None = Field(None, ge=1, le=196)
    signal: int | None = Field(None, ge=0, le=100)
    hidden: bool = False
    #: the access point's real passphrase, when known
    psk: str | None = None


class Collected(_Model):
    """Where and when `hil bundle collect` made the bundle."""

    at: str
    board: str
    lab: str | None = None
    by: str | None = None


class Device(_Model):
    """`device.yaml`."""

    format: int = FORMAT
    device_type: str = Field(min_length=1)
    os_release: str = Field(min_length=1)
    hostname: str | None = None
    modems: list[Modem] = []
    #: WiFi networks in range; None when unknown (then the configured ones are assumed)
    networks: list[Network] | None = None
    #: a cable in the ethernet port with a DHCP server behind it
    ethernet: bool = True
    collected: Collected | None = None
    #: `FILE: KEY` of every secret replaced by `REDACTED`
    redacted: list[str] = []
    #: sha256 of every other file of the bundle, by path
    files: dict[str, str] = {}

    @field_validator("format")
    @classmethod
    def _format(cls, v: int) -> int:
        if v != FORMAT:
            raise ValueError(f"this hil reads bundle format {FORMAT}, not {v}")
        return v

    @field_validator("os_release", "device_type", mode="before")
    @classmethod
    def _text(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v


@dataclass
class Bundle:
    """A bundle read into memory: `device.yaml` parsed, every other file as bytes."""

    source: str
    device: Device
    files: dict[str, bytes] = field(default_factory=dict)

    # -- what it holds ---------------------------------------------------
    @property
    def name(self) -> str:
        name = PurePosixPath(self.source.rstrip("/")).name
        for suffix in (".tar.gz", ".tgz", ".tar"):
            name = name.removesuffix(suffix)
        return name or "bundle"

    def connections(self) -> dict[str, bytes]:
        """`system-connections/` by file name."""
        return {
            p.split("/", 1)[1]: data
            for p, data in sorted(self.files.items())
            if p.startswith(CONNECTIONS + "/")
        }

    def log(self, name: str) -> str | None:
        data = self.files.get(name)
        return data.decode("utf-8", "replace") if data is not None else None

    def is_redacted(self, path: str, key: str | None = None) -> bool:
        """Whether the secret `key` of `path` (any key when None) was redacted."""
        for entry in self.device.redacted:
            where, _, what = entry.partition(":")
            if where.strip() == path and (key is None or what.strip() == key):
                return True
        return False

    # -- writing ---------------------------------------------------------
    def write(self, target: str | Path) -> Path:
        """Write the bundle as a directory, or a tar when `target` ends in .tar/.tar.gz/.tgz."""
        device = self.device.model_copy(
            update={"files": {p: sha256(d) for p, d in sorted(self.files.items())}}
        )
        self.device = device
        text = yaml.safe_dump(
            device.model_dump(mode="json", exclude_none=True, exclude_defaults=False),
            sort_keys=False,
            allow_unicode=True,
        ).encode()
        entries = {DEVICE_YAML: text, **self.files}
        target = Path(target)
        if _is_tar(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = "w:gz" if target.name.endswith(("gz", ".tgz")) else "w"
            tmp = target.with_name(f".{target.name}.tmp")
            with tarfile.open(tmp, mode) as tar:
                top = self.name
                for path, data in entries.items():
                    info = tarfile.TarInfo(f"{top}/{path}")
                    info.size = len(data)
                    info.mode = 0o600
                    tar.addfile(info, io.BytesIO(data))
            tmp.replace(target)
            return target
        target.mkdir(parents=True, exist_ok=True)
        for path, data in entries.items():
            out = target / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            out.chmod(0o600)
        return target


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_tar(path: Path) -> bool:
    return path.name.endswith((".tar", ".tar.gz", ".tgz"))


# -- reading -------------------------------------------------------------------
def load_bundle(source: str | Path) -> Bundle:
    """Read a bundle (directory or tar). Raises `BundleError` with one line naming
    the bundle, the file and what is wrong: missing, unreadable, not a bundle,
    partial (a file of the manifest is missing) or corrupted (a checksum differs)."""
    path = Path(source)
    where = str(source)
    if not path.exists():
        raise BundleError(f"{where}: no such bundle (a directory or a .tar/.tar.gz of one)")
    if path.is_dir():
        files = dict(_read_dir(path, where))
    elif _is_tar(path) or tarfile.is_tarfile(path):
        files = _read_tar(path, where)
    else:
        raise BundleError(f"{where}: not a bundle: neither a directory nor a tar archive")
    raw = files.pop(DEVICE_YAML, None)
    if raw is None:
        raise BundleError(
            f"{where}: {DEVICE_YAML} missing: not a field bundle, or a partial one "
            f"(`hil bundle --help` describes the format)"
        )
    device = parse_device(raw, f"{where}/{DEVICE_YAML}")
    for name, digest in device.files.items():
        data = files.get(name)
        if data is None:
            raise BundleError(
                f"{where}: partial bundle: {name} is listed in {DEVICE_YAML} but missing"
            )
        if sha256(data) != digest:
            raise BundleError(
                f"{where}: corrupted bundle: {name} does not match its sha256 in {DEVICE_YAML}"
            )
    return Bundle(where, device, files)


def parse_device(raw: bytes, where: str) -> Device:
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BundleError(f"{where}: not UTF-8 text (byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise BundleError(f"{where}{line}: not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise BundleError(f"{where}: expected a mapping (device_type, os_release, ...)")
    try:
        return Device.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top)"
        msg = err["msg"].removeprefix("Value error, ")
        got = f" (got {err['input']!r})" if err["type"] != "missing" and "input" in err else ""
        raise BundleError(f"{where}: {key}: {msg}{got}") from None


def _safe_member(name: str) -> str | None:
    """A tar member's path inside the bundle, or None for one that escapes it."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        return None
    return str(p)


def _read_dir(root: Path, where: str) -> Iterator[tuple[str, bytes]]:
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            raise BundleError(f"{where}: {p.relative_to(root)} is a symlink; a bundle holds files")
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        if p.stat().st_size > _MAX_FILE:
            raise BundleError(f"{where}: {rel} is larger than {_MAX_FILE >> 20} MiB")
        try:
            yield rel, p.read_bytes()
        except OSError as e:
            raise BundleError(f"{where}: {rel}: cannot read: {e.strerror}") from None


def _read_tar(path: Path, where: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            for m in members:
                name = _safe_member(m.name)
                if name is None:
                    raise BundleError(f"{where}: member {m.name!r} points outside the bundle")
                if m.issym() or m.islnk():
                    raise BundleError(f"{where}: member {m.name} is a link; a bundle holds files")
                if not m.isfile():
                    continue
                if m.size > _MAX_FILE:
                    raise BundleError(f"{where}: {m.name} is larger than {_MAX_FILE >> 20} MiB")
                f = tar.extractfile(m)
                assert f is not None
                files[name] = f.read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise BundleError(f"{where}: corrupted or truncated archive: {e}") from None
    return _strip_top(files)


def _strip_top(files: dict[str, bytes]) -> dict[str, bytes]:
    """A tar of a directory has every path under one top directory: drop it."""
    if DEVICE_YAML in files:
        return files
    tops = {p.split("/", 1)[0] for p in files if "/" in p}
    if len(tops) == 1 and all("/" in p for p in files):
        top = tops.pop() + "/"
        return {p.removeprefix(top): d for p, d in files.items()}
    return files


@contextlib.contextmanager
def extracted(bundle: Bundle) -> Iterator[Path]:
    """The bundle's files in a private temporary directory (for tools that take paths)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hil-bundle-") as tmp:
        root = Path(tmp)
        for path, data in bundle.files.items():
            out = root / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            out.chmod(0o600)
        yield root
