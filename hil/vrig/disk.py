"""The virtual board's disk: a raw image with balenaOS's boot and state partitions.

Laid out like a balenaOS image (MBR; FAT16 labelled `resin-boot` at 1 MiB,
then ext4 labelled `resin-state`), so `hil image inject` writes the boot
partition before a boot and the guest mounts it at `/mnt/boot`, where
`hil.board.files` writes it on a live board; the state partition keeps
NetworkManager's connections across reboots, as on balenaOS. Made with
sfdisk, mkfs.fat, mtools and mkfs.ext4; never rewritten once it exists.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from hil.errors import HarnessError

BOOT_MIB = 40
STATE_MIB = 16
START_SECTOR = 2048  # 1 MiB, where balenaOS images start their boot partition
LABEL = "resin-boot"
STATE_LABEL = "resin-state"


def _run(cmd: list[str], what: str, stdin: str | None = None) -> None:
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise HarnessError(f"vrig: {cmd[0]} missing (scripts/setup.sh installs it)") from None
    if proc.returncode != 0:
        raise HarnessError(f"vrig: {what} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def default_config_json(device_type: str, hostname: str) -> dict:
    """The boot partition's config.json of a freshly flashed board."""
    return {"deviceType": device_type, "hostname": hostname, "persistentLogging": False}


def make_boot_image(path: Path, config_json: dict) -> Path:
    """Create the boot disk at `path` unless it exists (then it is left as it is)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    sectors = (BOOT_MIB << 20) // 512  # the boot partition
    state_start = START_SECTOR + sectors
    state_sectors = (STATE_MIB << 20) // 512
    with tmp.open("wb") as f:
        f.truncate((state_start + state_sectors) * 512)
    table = f"label: dos\n{START_SECTOR},{sectors},c,*\n{state_start},{state_sectors},83\n"
    _run(["sfdisk", "--quiet", str(tmp)], "sfdisk", table)
    mkfs = ["mkfs.fat", "-F", "16", "-n", LABEL, f"--offset={START_SECTOR}"]
    _run([*mkfs, str(tmp), str(sectors // 2)], "mkfs.fat")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as cfg:
        json.dump(config_json, cfg, indent=2)
        cfg.flush()
        image = f"{tmp}@@{START_SECTOR * 512}"
        _run(["mmd", "-i", image, "::system-connections"], "mmd")
        _run(["mcopy", "-i", image, cfg.name, "::config.json"], "mcopy")
    mkfs_state = ["mkfs.ext4", "-q", "-F", "-L", STATE_LABEL, "-E", f"offset={state_start * 512}"]
    _run([*mkfs_state, str(tmp), f"{STATE_MIB << 10}k"], "mkfs.ext4")
    tmp.replace(path)
    return path
