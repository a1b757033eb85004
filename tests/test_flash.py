"""Flashing: a real image onto a file standing in for the SD card (real bmaptool),
refusals, the sim tier, and the release sweep on the sim lab."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hil.board import Board
from hil.errors import ConfigError
from hil.flash import board_files, check_target, flash
from hil.flash.flasher import write_release
from hil.lab import load_lab
from tests.bootfs_images import MiB, fsck, make_image, mtype, offset_of, partitions, put
from tests.conftest import SIM_LAB

KEYFILE = "[connection]\nid=lab-eth\ntype=ethernet\n\n[ipv4]\nmethod=auto\n"


def rig(tmp_path: Path, card: Path, extra: str = "") -> Board:
    log = tmp_path / "power.log"
    (tmp_path / "lab-eth").write_text(KEYFILE)
    (tmp_path / "config.json").write_text(json.dumps({"country": "GB"}))
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"""
name: flash-lab
releases: {{dir: {tmp_path / "catalog"}}}
boards:
  - name: pi4
    device_type: raspberrypi4-64
    console: {{url: /dev/ttyUSB-not-used}}
    power: {{driver: command, on: "echo on >> {log}", off: "echo off >> {log}"}}
    sd_mux: {{driver: block, device: {card}}}
    flash:
      connections: [{tmp_path / "lab-eth"}]
      config_json: {tmp_path / "config.json"}
{extra}""")
    config = load_lab(lab)
    return Board(config, config.board("pi4"))


@pytest.fixture
def release_image(tmp_path: Path) -> Path:
    (tmp_path / "catalog").mkdir()
    image = make_image(tmp_path / "catalog" / "raspberrypi4-64-2.113.4.img", "mbr", 96)
    original = tmp_path / "orig-config.json"
    original.write_text(json.dumps({"deviceType": "raspberrypi4-64", "hostname": "abc"}))
    put(image, offset_of(image, 1), original, "config.json")
    return image


@pytest.mark.real
def test_flash_writes_the_card_with_the_boards_files(tmp_path: Path, release_image: Path) -> None:
    card = tmp_path / "card.img"
    with card.open("wb") as f:
        f.truncate(96 * MiB)
    board = rig(tmp_path, card)
    notes: list[tuple[str, float | None]] = []
    write_release(board, "2.113.4", board_files(board), None, lambda m, f: notes.append((m, f)))

    def layout(image: Path) -> list[tuple]:
        return [(p["start"], p["size"], p["type"]) for p in partitions(image)]

    assert layout(card) == layout(release_image)
    off = offset_of(card, 1)
    assert mtype(card, off, "system-connections/lab-eth").decode() == KEYFILE
    merged = json.loads(mtype(card, off, "config.json"))
    assert merged == {"deviceType": "raspberrypi4-64", "hostname": "abc", "country": "GB"}
    size = partitions(card)[0]["size"] * 512
    assert fsck(card, off, size, tmp_path).returncode == 0
    assert (tmp_path / "power.log").read_text().split() == ["off", "on"]
    assert ("writing", 1.0) in notes
    # the catalog's image itself is untouched
    assert (
        b"lab-eth"
        not in subprocess.run(
            ["mdir", "-i", f"{release_image}@@{offset_of(release_image, 1)}", "::"],
            capture_output=True,
            env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
        ).stdout
    )


def test_refuses_any_other_device(tmp_path: Path) -> None:
    card = tmp_path / "card.img"
    card.write_bytes(b"")
    other = tmp_path / "other.img"
    other.write_bytes(b"")
    board = rig(tmp_path, card)
    with pytest.raises(ConfigError, match=r"refusing to write .*other\.img.*SD card is"):
        check_target(board, str(other))
    assert check_target(board, str(card)) == card.resolve()


def test_missing_release_names_the_catalog(tmp_path: Path, release_image: Path) -> None:
    card = tmp_path / "card.img"
    card.write_bytes(b"")
    board = rig(tmp_path, card)
    with pytest.raises(ConfigError, match=r"no image of release 9\.9\.9 for raspberrypi4-64"):
        write_release(board, "9.9.9", [], None, lambda m, f: None)


def test_no_sd_mux_is_a_config_error(tmp_path: Path) -> None:
    lab = load_lab(SIM_LAB, env={})
    board = Board(lab, lab.board("pi4-a"))
    board.config.sd_mux = None
    with pytest.raises(ConfigError, match="no sd_mux"):
        check_target(board, None)


def test_flashing_a_sim_board(tmp_path: Path) -> None:
    lab = load_lab(SIM_LAB, env={})
    board = Board(lab, lab.board("pi3-b"))
    (tmp_path / "lab-eth").write_text(KEYFILE)
    board.config.flash.connections = [str(tmp_path / "lab-eth")]
    assert flash(board, "2.120.1") == "2.120.1"
    with board.open_shell() as sh:
        assert sh.run("cat /mnt/boot/system-connections/lab-eth").output == KEYFILE
        assert sh.run("ls /etc/NetworkManager/system-connections").output == "lab-eth\n"


def test_release_sweep_on_the_sim_lab(hil_cmd: list[str], tmp_path: Path) -> None:
    r = subprocess.run(
        [
            *hil_cmd,
            "qualify",
            "--lab",
            str(SIM_LAB),
            "--releases",
            "2.108.27,2.114.0",
            "--suite",
            "ethernet",
            "--results",
            str(tmp_path / "res"),
            "--report",
            str(tmp_path / "rep"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ},
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for release in ("2.108.27", "2.114.0"):
        for board in ("pi4-a", "pi3-b"):
            assert f"{board}: running {release}" in r.stdout
    results = list((tmp_path / "res").glob("*-result.json"))
    suite = (Path(__file__).resolve().parent.parent / "suites" / "test_ethernet.py").read_text()
    tests = suite.count("\ndef test_")
    assert len(results) == tests * 2 * 2  # tests x 2 boards x 2 releases, in one directory
