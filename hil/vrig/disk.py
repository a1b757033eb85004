"""The virtual board's boot disk: a raw image with one FAT partition, `resin-boot`.

Laid out like a balenaOS image's boot partition (MBR, FAT16 labelled
`resin-boot`), so `hil image inject` writes it before a boot and the guest
mounts it at `/mnt/boot`, where `hil.board.files` writes it on a live board.
Made with sfdisk, mkfs.fat and mtools; never rewritten once it exists.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from hil.errors import HarnessError

SIZE_MIB = 40
START_SECTOR = 2048  # 1 MiB, where balenaOS images start their boot partition
LABEL = "resin-boot"


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
    with tmp.open("wb") as f:
        f.truncate(SIZE_MIB << 20)
    sectors = (SIZE_MIB << 20) // 512 - START_SECTOR
    _run(["sfdisk", "--quiet", str(tmp)], "sfdisk", f"label: dos\n{START_SECTOR},{sectors},c,*\n")
    mkfs = ["mkfs.fat", "-F", "16", "-n", LABEL, f"--offset={START_SECTOR}"]
    _run([*mkfs, str(tmp), str(sectors // 2)], "mkfs.fat")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as cfg:
        json.dump(config_json, cfg, indent=2)
        cfg.flush()
        image = f"{tmp}@@{START_SECTOR * 512}"
        _run(["mmd", "-i", image, "::system-connections"], "mmd")
        _run(["mcopy", "-i", image, cfg.name, "::config.json"], "mcopy")
    tmp.replace(path)
    return path
