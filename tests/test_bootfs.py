"""hil.bootfs on real images (sfdisk + mkfs.fat), checked with fsck.fat, mtools and blkid."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hil.bootfs import BootFile, BootPartition, ImageError
from tests.bootfs_images import (
    MiB,
    digest,
    fsck,
    label,
    make_image,
    mtools,
    mtype,
    offset_of,
    partitions,
    put,
)

pytestmark = pytest.mark.real

WIFI = b"[connection]\nid=hil-wifi\ntype=wifi\n\n[wifi]\nssid=hil-lab\n\n[wifi-security]\nkey-mgmt=wpa-psk\npsk=hil-lab-passphrase\n"


@pytest.mark.parametrize(
    ("layout", "number", "kind", "expected_label"),
    [
        ("mbr", 1, "FAT16", "resin-boot"),
        ("gpt", 1, "FAT32", "resin-boot"),
        ("flasher", 1, "FAT16", "resin-flash"),
        ("nolabel", 2, "FAT16", ""),  # no label: the first FAT partition
        ("second-labelled", 2, "FAT12", "resin-boot"),  # a label beats being first
        ("logical", 6, "FAT16", "resin-boot"),  # inside an extended partition
    ],
)
def test_finds_the_boot_partition(tmp_path: Path, layout, number, kind, expected_label) -> None:
    img = make_image(tmp_path / "a.img", layout)
    boot = BootPartition.find(img)
    assert boot.partition.number == number
    assert boot.partition.start == offset_of(img, number)  # sfdisk agrees on where it is
    assert boot.volume.kind == kind
    assert boot.volume.label == expected_label == label(img, boot.partition.start)


@pytest.mark.parametrize(
    "layout", ["mbr", "gpt", "flasher", "nolabel", "logical", "second-labelled"]
)
def test_write_is_seen_by_mtools_and_fsck_is_clean(tmp_path: Path, layout: str) -> None:
    img = make_image(tmp_path / "a.img", layout)
    boot = BootPartition.find(img)
    off, size = boot.partition.start, boot.partition.size
    outside = digest(img, skip=(off, off + size))
    before_label = label(img, off)
    blocks_before = os.stat(img).st_blocks
    boot.write(
        [
            BootFile("system-connections/hil-wifi.nmconnection", WIFI, 0o600),
            BootFile("system-proxy/no_proxy", b"10.0.0.0/8\n"),
        ]
    )
    assert mtype(img, off, "system-connections/hil-wifi.nmconnection") == WIFI
    assert mtype(img, off, "system-proxy/no_proxy") == b"10.0.0.0/8\n"
    r = fsck(img, off, size, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert label(img, off) == before_label
    assert digest(img, skip=(off, off + size)) == outside  # other partitions untouched
    grown = (os.stat(img).st_blocks - blocks_before) * 512
    assert grown < 256 * 1024, f"image grew by {grown} bytes: no longer sparse"


def test_existing_files_are_kept_and_same_named_ones_replaced(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    off = offset_of(img, 1)
    sample = tmp_path / "resin-sample.ignore"
    sample.write_bytes(b"[connection]\nid=sample\n")
    config = tmp_path / "config.txt"
    config.write_bytes(b"enable_uart=1\n")
    mtools("mmd", img, off, "::/system-connections")
    put(img, off, sample, "system-connections/resin-sample.ignore")
    put(img, off, config, "config.txt")
    old_wifi = tmp_path / "resin-wifi"
    old_wifi.write_bytes(b"old\n" * 500)
    put(img, off, old_wifi, "system-connections/resin-wifi")

    BootPartition.find(img).write([BootFile("system-connections/resin-wifi", WIFI, 0o600)])

    assert mtype(img, off, "system-connections/resin-wifi") == WIFI
    assert mtype(img, off, "system-connections/resin-sample.ignore") == sample.read_bytes()
    assert mtype(img, off, "config.txt") == b"enable_uart=1\n"
    assert fsck(img, off, 40 * MiB, tmp_path).returncode == 0


def test_config_json_is_merged_not_replaced(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img", "gpt")
    off = offset_of(img, 1)
    existing = {
        "deviceType": "raspberrypi4-64",
        "apiKey": "k" * 32,
        "os": {"sshKeys": ["ssh-ed25519 AAA"]},
    }
    src = tmp_path / "config.json"
    src.write_text(json.dumps(existing))
    put(img, off, src, "config.json")
    patch = {
        "country": "GB",
        "dnsServers": None,
        "os": {"network": {"connectivity": {"interval": 0}}},
    }
    BootPartition.find(img).write(
        [BootFile("config.json", json.dumps(patch).encode(), merge_json=True)]
    )
    merged = json.loads(mtype(img, off, "config.json"))
    assert merged == {
        "deviceType": "raspberrypi4-64",
        "apiKey": "k" * 32,
        "os": {"sshKeys": ["ssh-ed25519 AAA"], "network": {"connectivity": {"interval": 0}}},
        "country": "GB",
        "dnsServers": None,
    }


def test_config_json_created_when_absent(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    BootPartition.find(img).write([BootFile("config.json", b'{"country": "DE"}', merge_json=True)])
    assert json.loads(mtype(img, offset_of(img, 1), "config.json")) == {"country": "DE"}


def test_listdir_and_read(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    boot = BootPartition.find(img)
    boot.write(
        [
            BootFile("system-connections/resin-wifi", WIFI, 0o600),
            BootFile("system-connections/café wifi", b"x", 0o600),
            BootFile("config.json", b"{}", merge_json=True),
        ]
    )
    assert sorted(boot.listdir("/")) == ["config.json", "system-connections/"]
    assert sorted(boot.listdir("system-connections")) == ["café wifi", "resin-wifi"]
    assert boot.listdir("config.json") == ["config.json"]
    assert boot.read("system-connections/resin-wifi") == WIFI
    assert boot.read("/SYSTEM-CONNECTIONS/RESIN-WIFI") == WIFI  # FAT ignores case
    with pytest.raises(ImageError, match="is a directory"):
        boot.read("system-connections")
    with pytest.raises(ImageError, match="no such file or directory"):
        boot.read("nope")
    with pytest.raises(ImageError, match="no such file or directory"):
        boot.listdir("nope")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "not a disk image"),
        (lambda p: p.write_bytes(os.urandom(4096)), "not a disk image"),
        (lambda p: make_image(p, "nofat"), "no FAT partition among its 2 partitions"),
    ],
)
def test_images_without_a_boot_partition(tmp_path: Path, make, message: str) -> None:
    img = tmp_path / "x.img"
    make(img)
    with pytest.raises(ImageError, match=message):
        BootPartition.find(img)


def test_a_bare_fat_filesystem_is_not_a_disk_image(tmp_path: Path) -> None:
    img = tmp_path / "bare.img"
    with open(img, "wb") as f:
        f.truncate(8 * MiB)
    import subprocess

    subprocess.run(["mkfs.fat", "-n", "resin-boot", str(img)], check=True, capture_output=True)
    with pytest.raises(ImageError, match="no partition table"):
        BootPartition.find(img)


def test_truncated_image_is_reported(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    with open(img, "r+b") as f:
        f.truncate(20 * MiB)  # cuts resin-boot (1 MiB .. 41 MiB) short
    with pytest.raises(ImageError, match="outside the image"):
        BootPartition.find(img)


def test_corrupt_gpt_falls_back_to_the_backup_header(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img", "gpt")
    with open(img, "r+b") as f:
        f.seek(512 + 56)  # the disk GUID
        f.write(b"\xff" * 8)  # breaks the primary header's checksum
    assert BootPartition.find(img).partition.number == 1
    with open(img, "r+b") as f:
        f.seek(os.path.getsize(img) - 512 + 56)
        f.write(b"\xff" * 8)
    with pytest.raises(ImageError, match="corrupt GPT"):
        BootPartition.find(img)


def test_partition_full_leaves_image_unchanged(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img", "tiny")
    boot = BootPartition.find(img)
    before = digest(img)
    with pytest.raises(ImageError, match="has no room for the files") as e:
        boot.write(
            [
                BootFile("system-connections/small", b"x" * 1000, 0o600),
                BootFile("system-connections/big", b"y" * (2 * MiB), 0o600),
            ]
        )
    assert "image unchanged" in str(e.value) and "\n" not in str(e.value)
    assert digest(img) == before


def test_a_directory_where_a_file_goes_leaves_image_unchanged(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    off = offset_of(img, 1)
    mtools("mmd", img, off, "::/system-proxy", "::/system-proxy/no_proxy")
    before = digest(img)
    with pytest.raises(ImageError, match="no_proxy: is a directory"):
        BootPartition.find(img).write(
            [BootFile("system-connections/a", b"a"), BootFile("system-proxy/no_proxy", b"x")]
        )
    assert digest(img) == before


def test_invalid_existing_config_json_leaves_image_unchanged(tmp_path: Path) -> None:
    img = make_image(tmp_path / "a.img")
    off = offset_of(img, 1)
    bad = tmp_path / "config.json"
    bad.write_text('{"deviceType": ')
    put(img, off, bad, "config.json")
    before = digest(img)
    with pytest.raises(ImageError, match=r"config\.json: is not valid JSON"):
        BootPartition.find(img).write([BootFile("config.json", b"{}", merge_json=True)])
    assert digest(img) == before


def test_32bit_offsets_and_large_sparse_image(tmp_path: Path) -> None:
    """A boot partition beyond 4 GiB of a 6 GiB image (offsets past 32 bits)."""
    img = tmp_path / "big.img"
    with open(img, "wb") as f:
        f.truncate(6 << 30)
    import subprocess

    subprocess.run(
        ["sfdisk", "-q", str(img)],
        input="label: dos\nsize=4500MiB, type=83\nsize=40MiB, type=c\n",
        text=True,
        check=True,
        capture_output=True,
    )
    start = partitions(img)[1]["start"]
    subprocess.run(
        [
            "mkfs.fat",
            "-F",
            "16",
            "-n",
            "resin-boot",
            "--offset",
            str(start),
            str(img),
            str(40 * 1024),
        ],
        check=True,
        capture_output=True,
    )
    boot = BootPartition.find(img)
    assert boot.partition.start == start * 512 > 1 << 32
    boot.write([BootFile("system-connections/w", WIFI, 0o600)])
    assert mtype(img, start * 512, "system-connections/w") == WIFI
    assert fsck(img, start * 512, 40 * MiB, tmp_path).returncode == 0
    assert os.stat(img).st_blocks * 512 < 2 * MiB
