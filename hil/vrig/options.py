"""The `qemu:` map of a `qemu://` board: what the virtual rig boots."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hil.errors import ConfigError
from hil.lab.models import BoardConfig

_WORD = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"


class QemuModem(BaseModel):
    """A modem plugged into the virtual board (a USB gadget, see `hil.vrig.modem`) and
    the carrier behind it; joined by name to the board's `modems:`, whose PIN, APN and
    credentials it takes unless it says otherwise (as `sim.modems` does for a sim board)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    sim: Literal["ready", "missing", "locked"] = "ready"
    #: the SIM's PIN (default: the board modem's `pin`)
    pin: str | None = None
    operator: str = Field("giffgaff", pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    operator_code: str = Field("23410", pattern=r"^[0-9]{5,6}$")  # MCC + MNC
    signal: int = Field(70, ge=1, le=100)  # percent
    #: the APN the carrier accepts (default: the board modem's `apn`)
    apn: str | None = None
    #: the credentials the carrier checks with PAP (default: the board modem's)
    username: str | None = None
    password: str | None = None


class QemuOptions(BaseModel):
    """Options of one virtual board (all optional)."""

    model_config = ConfigDict(extra="forbid")

    os_release: str = Field("2.113.4", pattern=_WORD)
    hostname: str = Field("5b1a0c7", pattern=_WORD)
    machine: str | None = Field(None, pattern=_WORD)  # MACHINE= in os-release; device_type if unset
    memory: int = Field(512, ge=128, le=8192)  # MiB
    cpus: int = Field(1, ge=1, le=4)
    #: kvm on this class of machine opens /dev/kvm but never runs the guest: tcg unless asked
    accel: Literal["tcg", "kvm"] = "tcg"
    boot_timeout: float = Field(180.0, gt=0)  # seconds to a shell prompt
    #: the boot disk (raw image, `resin-boot` FAT partition): kept, made if missing;
    #: unset, each VM gets a fresh one
    boot_image: str | None = None
    #: the USB modem plugged into the board (at most one)
    modems: list[QemuModem] = Field(default_factory=list, max_length=1)


def qemu_options(board: BoardConfig, lab_path: str = "lab config") -> QemuOptions:
    """The board's `qemu:` map, checked; a mistake is one line naming file, board and key."""
    try:
        opts = QemuOptions.model_validate(board.qemu or {})
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"{lab_path}: boards ({board.name}).qemu.{key}: {err['msg']} (got {err.get('input')!r})"
        ) from None
    if opts.machine is None:
        opts = opts.model_copy(update={"machine": board.device_type})
    return opts.model_copy(update={"modems": _joined_modems(board, opts.modems, lab_path)})


def _joined_modems(board: BoardConfig, modems: list[QemuModem], lab_path: str) -> list[QemuModem]:
    """Each plugged modem completed from the board's modem of the same name."""
    configs = {m.name: m for m in board.modems}
    joined = []
    for i, modem in enumerate(modems):
        config = configs.get(modem.name)
        if config is None:
            raise ConfigError(
                f"{lab_path}: boards ({board.name}).qemu.modems.{i}.name: no modem "
                f"{modem.name!r} in the board's modems (has: {', '.join(configs) or 'none'})"
            )
        defaults = {
            key: getattr(config, key)
            for key in ("pin", "apn", "username", "password")
            if getattr(modem, key) is None
        }
        joined.append(modem.model_copy(update=defaults))
    return joined
