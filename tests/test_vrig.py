"""The virtual rig: the guest build, the QEMU command line, and one real boot.

The boot test runs QEMU (TCG) on Debian's kernel with this host's root over
9p, through `hil vrig serve` and two `hil exec` calls, as a user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.errors import ConfigError
from hil.lab import load_lab
from hil.vrig.build import build, find_kernel, module_order
from hil.vrig.options import qemu_options
from hil.vrig.vm import qemu_command

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "lab-config" / "vrig.yaml"
HIL = [sys.executable, "-m", "hil.cli.main"]


def test_module_order_puts_dependencies_first() -> None:
    _, modules = find_kernel()
    order = [p.rsplit("/", 1)[-1] for p in module_order(modules)]
    for needed, user in [
        ("virtio_ring.ko", "virtio.ko"),
        ("virtio.ko", "virtio_pci.ko"),
        ("netfs.ko", "fscache.ko"),
        ("9pnet.ko", "9pnet_virtio.ko"),
        ("fscache.ko", "9p.ko"),
    ]:
        assert order.index(needed) < order.index(user), order
    assert "overlay.ko" in order
    assert len(order) == len(set(order))


def test_build_is_cached_and_rebuilds_on_force(tmp_path: Path) -> None:
    first = build(cache=tmp_path)
    assert first.kernel.stat().st_size > 1_000_000
    listing = subprocess.run(
        ["busybox", "cpio", "-t"], stdin=first.initrd.open("rb"), capture_output=True, text=True
    ).stdout.split()
    assert {"init", "stage2", "bin/busybox", "modules/9p.ko", "modules/order"} <= set(listing)
    stamp = first.initrd.stat().st_mtime_ns
    again = build(cache=tmp_path)
    assert again == first and first.initrd.stat().st_mtime_ns == stamp
    forced = build(cache=tmp_path, force=True)
    assert forced == first and first.initrd.stat().st_mtime_ns != stamp
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [
        first.kernel.parent.name
    ]


def test_qemu_has_no_network_and_a_loopback_console() -> None:
    board = load_lab(LAB).boards[0]
    cmd = qemu_command(build(), qemu_options(board), 4321)
    assert cmd[cmd.index("-nic") + 1] == "none"
    assert "-nodefaults" in cmd and "-netdev" not in cmd
    assert cmd[cmd.index("-serial") + 1] == "tcp:127.0.0.1:4321,server=on,wait=off"
    assert "readonly=on" in cmd[cmd.index("-virtfs") + 1]
    assert "hil.release=2.115.7" in cmd[cmd.index("-append") + 1]


def test_bad_qemu_option_is_one_line_naming_board_and_key() -> None:
    board = load_lab(LAB).boards[0].model_copy(update={"qemu": {"os_release": "2.1 x"}})
    with pytest.raises(ConfigError) as e:
        qemu_options(board, "lab.yaml")
    assert str(e.value).startswith("lab.yaml: boards (vrig-a).qemu.os_release: ")
    board = board.model_copy(update={"qemu": {"memroy": 512}})
    with pytest.raises(ConfigError, match=r"qemu\.memroy: Extra inputs"):
        qemu_options(board, "lab.yaml")


@pytest.mark.slow
def test_guest_boots_and_runs_commands_over_its_console(tmp_path: Path) -> None:
    env = dict(os.environ, HIL_VRIG_DIR=str(tmp_path / "registry"))
    log = (tmp_path / "serve.log").open("w+")
    started = time.monotonic()
    serve = subprocess.Popen(
        [*HIL, "vrig", "serve", "--lab", str(LAB)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    try:
        while "serving" not in (tmp_path / "serve.log").read_text():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() - started < 240, "no shell on the guest's console in 240 s"
            time.sleep(0.5)
        print(f"vrig: build + boot to a shell in {time.monotonic() - started:.1f}s")

        def hil_exec(*cmd: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*HIL, "exec", "--lab", str(LAB), "--board", "vrig-a", "--", *cmd],
                capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip

        release = hil_exec("cat", "/etc/os-release")
        assert release.returncode == 0, release.stderr
        assert 'ID="balena-os"' in release.stdout
        assert 'VERSION_ID="2.115.7"' in release.stdout
        assert 'MACHINE="genericx86-64-ext"' in release.stdout

        # the guest's own kernel and hostname; only a loopback: no network leaves the VM
        second = hil_exec("uname -r; hostname; ls /sys/class/net; sh -c 'exit 3'")
        assert second.returncode == 3, second.stderr
        kernel, hostname, *netdevs = second.stdout.split()
        assert kernel == find_kernel()[1].name
        assert hostname == "7e4c2d1"
        assert netdevs == ["lo"]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()
    assert not list((tmp_path / "registry").rglob("*.json"))
