"""`hil flash`: an OS release onto a board, with the board's files injected.

Physical rig: take the image from the release catalog, copy it (sparse),
inject the board's connection files and config.json (with the lab's
usb_modeswitch rules for its modems, `os.udevRules`) into its boot partition
with `hil.bootfs`, make a fresh bmap of the result (the original bmap does not
cover blocks the injection touched), power the board off, switch the SD mux to
the host, write with `bmaptool copy`, switch back, power on, and wait for a
shell whose /etc/os-release reports the release. The write goes only to the
board's configured SD device. A sim board is "flashed" through its server: a
fresh world with that release and the same injected files.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hil.board import Board
from hil.bootfs import BootFile, BootPartition, collect_boot_files
from hil.errors import ConfigError, HarnessError
from hil.flash.catalog import find_image
from hil.flash.sdmux import SdMux
from hil.probes import parse_os_release
from hil.usb.modeswitch import lab_udev_rules

Progress = Callable[[str, float | None], None]


def board_files(board: Board) -> list[BootFile]:
    """The files the lab config injects into every image of this board (checked)."""
    f = board.config.flash
    files = collect_boot_files(
        connections=f.connections,
        config_json=f.config_json,
        redsocks_conf=f.redsocks_conf,
        no_proxy=f.no_proxy,
        dispatchers=f.dispatchers,
    )
    # the lab's usb_modeswitch rules for modems the OS does not know: the board boots
    # with them (config.json's os.udevRules), no reboot at test time
    rules = lab_udev_rules(board.name, board.config.modems)
    if rules:
        patch = json.dumps({"os": {"udevRules": rules}}).encode()
        files.append(BootFile("config.json", patch, merge_json=True))
    return files


def flash_sim(board: Board, release: str, files: list[BootFile]) -> None:
    """Have the simulated board take `release` with `files` in its boot partition."""
    board.sim_endpoint.request(
        op="flash",
        release=release,
        files=[
            {
                "path": f.path,
                "data": base64.b64encode(f.data).decode(),
                "merge_json": f.merge_json,
                "mode": f.mode,
            }
            for f in files
        ],
    )


def flash(
    board: Board, release: str, *, device: str | None = None, progress: Progress | None = None
) -> str:
    """Flash `release` onto `board`; returns the VERSION the board reports after boot."""
    note = progress or (lambda msg, frac: None)
    files = board_files(board)  # bad inputs fail here, before anything is touched
    if board.config.is_sim:
        if device is not None:
            raise ConfigError(f"{board.name}: a sim board has no SD device to write")
        note("flashing the simulated board", None)
        flash_sim(board, release, files)
    else:
        write_release(board, release, files, device, note)
    note("waiting for the board to boot the new image", None)
    return wait_for_release(board, release, board.config.flash.boot_timeout)


def wait_for_release(board: Board, release: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    with board.open_shell(timeout=timeout) as sh:
        while True:
            r = sh.run("cat /etc/os-release", timeout=30)
            version = parse_os_release(r.output).get("VERSION", "")
            if version == release:
                return version
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"{board.name}: booted, but /etc/os-release reports "
                    f"VERSION {version or '(none)'}, not {release}"
                )
            time.sleep(2)


def check_target(board: Board, device: str | None) -> Path:
    """The SD device to write: the configured one, refusing anything else."""
    mux = board.config.sd_mux
    if mux is None:
        raise ConfigError(
            f"{board.name}: no sd_mux in the lab config: nowhere to write an "
            "image (sd_mux: {driver: usbsdmux|sdwire|block, device: ...})"
        )
    configured = Path(os.path.realpath(mux.device))
    if device is not None and Path(os.path.realpath(device)) != configured:
        raise ConfigError(
            f"{board.name}: refusing to write {device}: the board's SD card is "
            f"{mux.device} ({configured})"
        )
    if not configured.exists():
        raise HarnessError(
            f"{board.name}: SD device {mux.device} not found (is the mux on "
            "the host side and plugged in?)"
        )
    mounted = _mounted_under(configured)
    if mounted:
        raise ConfigError(
            f"{board.name}: refusing to write {configured}: mounted at {', '.join(mounted)}"
        )
    return configured


def _mounted_under(device: Path) -> list[str]:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in mounts:
        src, point = line.split()[:2]
        real = os.path.realpath(src) if src.startswith("/") else src
        if real == str(device) or re.fullmatch(re.escape(str(device)) + r"p?\d+", real):
            found.append(point)
    return found


def write_release(
    board: Board, release: str, files: list[BootFile], device: str | None, note: Progress
) -> None:
    """Write `release` with `files` injected onto the board's SD card; power it back on."""
    target = check_target(board, device)
    assert board.config.sd_mux is not None
    image = find_image(board.lab_config, release, board.device_type)
    mux = SdMux(board.name, board.config.sd_mux)
    with tempfile.TemporaryDirectory(prefix="hil-flash-") as tmp:
        staged = Path(tmp) / image.path.name
        note(f"staging {image.path.name}", None)
        _run(board, ["cp", "--sparse=always", str(image.path), str(staged)], "staging")
        if files:
            note(f"injecting {len(files)} file(s) into the boot partition", None)
            BootPartition.find(staged).write(files)
        bmap = staged.with_suffix(".bmap")
        _run(board, ["bmaptool", "create", "-o", str(bmap), str(staged)], "bmap")
        note("powering the board off", None)
        board.power.off()
        mux.to_host()
        try:
            _bmaptool_copy(board, staged, bmap, target, note)
        finally:
            mux.to_dut()
    note("powering the board on", None)
    board.power.on()


def _bmaptool_copy(board: Board, image: Path, bmap: Path, target: Path, note: Progress) -> None:
    argv = ["bmaptool", "copy", "--bmap", str(bmap), str(image), str(target)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    said = []
    for line in proc.stdout:
        said.append(line.strip())
        m = re.search(r"(\d+)% copied", line)
        if m:
            note("writing", int(m.group(1)) / 100)
    if proc.wait() != 0:
        raise HarnessError(
            f"{board.name}: bmaptool copy to {target} failed: "
            f"{'; '.join(s for s in said[-3:] if s)}"
        )
    note("writing", 1.0)


def _run(board: Board, argv: list[str], what: str) -> None:
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        said = "; ".join(x for x in (r.stdout + r.stderr).splitlines() if x.strip())
        raise HarnessError(f"{board.name}: {what} failed: {said[:300]}")
