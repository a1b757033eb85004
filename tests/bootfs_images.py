"""Real disk images for the boot-partition tests: sfdisk + mkfs.fat into sparse files.

The tests read results back with tools that know nothing of `hil.bootfs`:
`sfdisk --json` for where partitions are, `mtype`/`mdir`/`mlabel` for files and
labels, `fsck.fat -n` for the filesystem's health, `blkid` for the label.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class Part:
    size_mib: int
    type: str  # sfdisk type: "c", "83", "5" (extended) or a GPT alias ("U", "L")
    fat: str | None = None  # "12", "16", "32" or None (no filesystem)
    label: str | None = None  # FAT volume label
    name: str | None = None  # GPT partition name


#: balenaOS-like: resin-boot, rootA, rootB, extended { state, data }
BALENA_MBR = [
    Part(40, "c", "16", "resin-boot"),
    Part(8, "83"),
    Part(8, "83"),
    Part(0, "5"),
    Part(4, "83"),
    Part(0, "83"),
]
LAYOUTS: dict[str, tuple[str, list[Part]]] = {
    "mbr": ("dos", BALENA_MBR),
    "gpt": ("gpt", [Part(40, "U", "32", "resin-boot", "resin-boot"), Part(8, "L"), Part(0, "L")]),
    "flasher": ("dos", [Part(40, "c", "16", "resin-flash"), Part(0, "83")]),
    "nolabel": ("dos", [Part(8, "83"), Part(16, "c", "16"), Part(16, "e", "16")]),
    "second-labelled": ("dos", [Part(16, "c", "16", "other"), Part(16, "c", "12", "resin-boot")]),
    "logical": (
        "dos",
        [Part(8, "83"), Part(0, "5"), Part(8, "83"), Part(24, "c", "16", "resin-boot")],
    ),
    "nofat": ("dos", [Part(16, "c"), Part(0, "83")]),
    "tiny": ("dos", [Part(1, "1", "12", "resin-boot"), Part(0, "83")]),
}


def make_image(path: Path, layout: str = "mbr", size_mib: int = 64) -> Path:
    """A sparse image of `size_mib` with the partitions of `layout`, FAT ones formatted."""
    scheme, parts = LAYOUTS[layout]
    with open(path, "wb") as f:
        f.truncate(size_mib * MiB)
    lines = [f"label: {scheme}"]
    for p in parts:
        size = f"size={p.size_mib}MiB, " if p.size_mib else ""
        name = f', name="{p.name}"' if p.name else ""
        lines.append(f"{size}type={p.type}{name}")
    subprocess.run(
        ["sfdisk", "-q", "--no-reread", "--no-tell-kernel", str(path)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    table = partitions(path)
    data_parts = [p for p in parts if p.type not in ("5", "f")]
    for spec, found in zip(data_parts, table, strict=True):
        if spec.fat:
            cmd = ["mkfs.fat", "-F", spec.fat, "--offset", str(found["start"])]
            if spec.label:
                cmd += ["-n", spec.label]
            cmd += [str(path), str(found["size"] // 2)]
            subprocess.run(cmd, check=True, capture_output=True)
    return path


def partitions(image: Path) -> list[dict]:
    """Non-extended partitions as sfdisk reports them (start and size in sectors)."""
    out = subprocess.run(
        ["sfdisk", "--json", str(image)], capture_output=True, text=True, check=True
    )
    table = json.loads(out.stdout)["partitiontable"]["partitions"]
    return [p for p in table if p.get("type") not in ("5", "f", "85")]


def offset_of(image: Path, number: int) -> int:
    """Byte offset of partition `number` (1-based in sfdisk's order of non-extended ones)."""
    for p in partitions(image):
        if p["node"][len(str(image)) :] == str(number):
            return p["start"] * 512
    raise KeyError(number)


def mtools(tool: str, image: Path, offset: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool, "-i", f"{image}@@{offset}", *args], capture_output=True, env=MTOOLS_ENV
    )


def mtype(image: Path, offset: int, path: str) -> bytes:
    r = mtools("mtype", image, offset, f"::/{path}")
    assert r.returncode == 0, r.stderr
    return r.stdout


def put(image: Path, offset: int, local: Path, target: str) -> None:
    r = mtools("mcopy", image, offset, "-o", str(local), f"::/{target}")
    assert r.returncode == 0, r.stderr


def label(image: Path, offset: int) -> str:
    """The volume label, as blkid reads it."""
    r = subprocess.run(
        ["blkid", "-p", "-O", str(offset), "-s", "LABEL", "-o", "value", str(image)],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip()


def fsck(image: Path, offset: int, size: int, tmp: Path) -> subprocess.CompletedProcess:
    """`fsck.fat -n` on a copy of the partition (fsck.fat takes no offset)."""
    part = tmp / f"fsck-{offset}.img"
    with open(image, "rb") as src, open(part, "wb") as dst:
        src.seek(offset)
        left = size
        while left:
            chunk = src.read(min(left, 4 * MiB))
            dst.write(chunk)
            left -= len(chunk)
    r = subprocess.run(["fsck.fat", "-n", str(part)], capture_output=True, text=True)
    part.unlink()
    return r


def digest(image: Path, skip: tuple[int, int] | None = None) -> str:
    """sha256 of the image, or of everything but the byte range `skip`."""
    h = hashlib.sha256()
    with open(image, "rb") as f:
        pos = 0
        while chunk := f.read(4 * MiB):
            if skip:
                lo, hi = skip
                a, b = max(lo - pos, 0), min(hi - pos, len(chunk))
                if a < b:
                    chunk = chunk[:a] + chunk[b:]
            h.update(chunk)
            pos += 4 * MiB
    return h.hexdigest()
