"""The host's control lines into a virtual board, without booting a guest.

The lab line: the guest's real agent (`hil/vrig/guest/hil-vrig-labd`, bash)
on a pty that socat joins to a unix socket, as QEMU joins the guest's ttyS1;
`hil-vrig-lab` is a stand-in on PATH that shows what it was asked. QMP: a
real QEMU with no machine (`-machine none`), which starts in a blink.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.board.labside import FaultUnsupported
from hil.board.vrig_faults import VrigLabSide
from hil.errors import HarnessError
from hil.vrig.control import VrigControl
from hil.vrig.vm import LAB_DISK_BYTES, LAB_DISK_MAGIC, QEMU, write_lab_disk

AGENT = Path(__file__).resolve().parents[1] / "hil" / "vrig" / "guest" / "hil-vrig-labd"
#: the stand-in lab: echoes its words, lists two faults, `nope` is unsupported (3)
STAND_IN = """#!/bin/sh
case "$1" in
  supported) printf 'dns-blocked\\nport-443-blocked\\n' ;;
  faults) cat "$STATE" 2>/dev/null || true ;;
  fault) [ "$3" = on ] && echo "$2" > "$STATE" || : > "$STATE"; echo "fault $2 $3" ;;
  fail) echo "it broke"; echo "twice" >&2; exit 1 ;;
  nope) echo "this lab cannot do nope"; exit 3 ;;
  *) printf 'words:'; for w in "$@"; do printf ' [%s]' "$w"; done; echo ;;
esac
"""


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _wait_listening(path: Path, timeout: float = 30.0) -> None:
    """Until a unix socket accepts (its file appears at bind, before listen)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(path))
                return
            except OSError:
                assert time.monotonic() < deadline, f"{path} never accepted a connection"
        time.sleep(0.05)


class SerialSocket:
    """QEMU's side of a serial port on a unix socket: a pty whose master end is
    relayed to one client at a time; what the guest writes while nobody is
    connected is lost, as QEMU drops it."""

    def __init__(self, path: Path) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.tty = os.ttyname(slave)
        self._slave = slave
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(4)
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn = None
        while not self._stop.is_set():
            rlist = [self.master, self.server] + ([conn] if conn else [])
            try:
                ready, _, _ = select.select(rlist, [], [], 0.1)
            except (OSError, ValueError):  # closed
                return
            if self.server in ready and conn is None:
                conn, _ = self.server.accept()
            if self.master in ready:
                data = os.read(self.master, 4096)
                if conn:
                    conn.sendall(data)
            if conn and conn in ready:
                data = conn.recv(4096)
                if data:
                    os.write(self.master, data)
                else:
                    conn.close()
                    conn = None

    def close(self) -> None:
        self._stop.set()
        time.sleep(0.2)
        self.server.close()
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def lab_line(tmp_path: Path) -> Iterator[VrigControl]:
    """The agent on a pty, its other end on `lab.sock` (QEMU's side of ttyS1)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hil-vrig-lab").write_text(STAND_IN)
    (bin_dir / "hil-vrig-lab").chmod(0o755)
    line = SerialSocket(tmp_path / "lab.sock")
    env = dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        STATE=str(tmp_path / "state"),
        HIL_VRIG_LABD_OUT=str(tmp_path / "out"),
    )
    agent = subprocess.Popen(["bash", str(AGENT), line.tty], env=env)
    try:
        yield VrigControl("vrig-t", tmp_path / "lab.sock", tmp_path / "qmp.sock")
    finally:
        agent.terminate()
        agent.wait(5)
        line.close()


def test_lab_line_runs_the_guests_lab_and_answers_status_and_output(
    lab_line: VrigControl,
) -> None:
    answer = lab_line.lab("block", "dns-blocked", "udp", "dport=53", timeout=20)
    assert (answer.status, answer.output) == (0, "words: [block] [dns-blocked] [udp] [dport=53]\n")
    failed = lab_line.lab("fail", timeout=20)
    assert failed.status == 1 and failed.output.splitlines() == ["it broke", "twice"]
    with pytest.raises(HarnessError, match="not allowed"):
        lab_line.lab("fault", "x; reboot")  # words only: nothing reaches a shell
    with pytest.raises(HarnessError, match="not allowed"):
        lab_line.lab("*")


def test_vrig_lab_side_over_the_line(lab_line: VrigControl) -> None:
    side = VrigLabSide("vrig-t", lambda: lab_line)
    assert side.supports("dns-blocked") and side.supports("port-443-blocked")
    assert not side.supports("ap-down") and not side.supports("no-such-fault")
    with pytest.raises(FaultUnsupported, match="cannot produce fault 'ap-down'"):
        side.set_fault("ap-down", True)
    assert side.active_faults() == []
    with side.fault("dns-blocked"):
        assert side.active_faults() == ["dns-blocked"]
    assert side.active_faults() == []
    with pytest.raises(FaultUnsupported, match="this lab cannot do nope"):
        side._lab("nope")
    with pytest.raises(HarnessError, match=r"failed `fail` \(exit 1\): it broke; twice"):
        side._lab("fail")


def test_lab_line_times_out_with_a_clear_error(tmp_path: Path) -> None:
    """Nobody reading the guest's end: the request gives up after its timeout."""
    line = SerialSocket(tmp_path / "lab.sock")
    try:
        with pytest.raises(HarnessError, match=r"did not answer `faults` in 1s"):
            VrigControl("vrig-t", tmp_path / "lab.sock", tmp_path / "qmp.sock").lab(
                "faults", timeout=1
            )
    finally:
        line.close()
    with pytest.raises(HarnessError, match="cannot reach the VM's lab line"):
        VrigControl("vrig-t", tmp_path / "gone.sock", tmp_path / "qmp.sock").lab("faults")


def test_qmp_against_a_real_qemu(tmp_path: Path) -> None:
    qmp = tmp_path / "qmp.sock"
    qemu = subprocess.Popen(
        [QEMU, "-machine", "none", "-nodefaults", "-display", "none",
         "-qmp", f"unix:{qmp},server=on,wait=off"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(qmp)
        control = VrigControl("vrig-t", tmp_path / "lab.sock", qmp)
        assert control.qmp("query-status")["status"] == "running"
        control.qmp("stop")
        assert control.qmp("query-status")["status"] == "paused"
        with pytest.raises(HarnessError, match="QMP set_link: Device 'nic' not found"):
            control.qmp("set_link", name="nic", up=False)
    finally:
        qemu.terminate()
        qemu.wait(10)


def test_lab_disk_carries_the_faults_on_from_boot(tmp_path: Path) -> None:
    disk = tmp_path / "lab.img"
    write_lab_disk(disk, ["dns-blocked", "dhcp-timeout"])
    data = disk.read_bytes()
    assert len(data) == LAB_DISK_BYTES
    assert data.rstrip(b"\0").decode().splitlines() == [
        LAB_DISK_MAGIC,
        "dns-blocked",
        "dhcp-timeout",
    ]
