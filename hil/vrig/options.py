"""The `qemu:` map of a `qemu://` board: what the virtual rig boots."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hil.errors import ConfigError
from hil.lab.models import BoardConfig

_WORD = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"


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
    return opts
