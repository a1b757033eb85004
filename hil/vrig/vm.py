"""One virtual board: a QEMU process whose serial port is a TCP socket on the loopback.

QEMU runs with no network at all (`-nic none`); the host's root file system
is shared read-only over 9p and the guest writes only to a tmpfs overlay.
The console is `socket://127.0.0.1:PORT`, opened by the same console code as
a ser2net line. Beside it, in the VM's control directory: the lab line (a
second serial port on `lab.sock`), QEMU's monitor (`qmp.sock`) and the lab's
own small disk (`lab.img`: the faults that are on, so they stay on across the
board's reboots as a lab router's rules do) — see `hil.vrig.control`.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from threading import Thread

from hil.errors import HarnessError
from hil.vrig.build import Artifacts, build
from hil.vrig.control import VrigControl
from hil.vrig.disk import default_config_json, make_boot_image
from hil.vrig.modem import FW_CFG_NAME as MODEM_FW_CFG
from hil.vrig.modem import write_description
from hil.vrig.options import QemuOptions
from hil.vrig.wifi import FW_CFG_NAME as WIFI_FW_CFG
from hil.vrig.wifi import WifiLab

QEMU = "qemu-system-x86_64"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In QEMU's child process: SIGTERM when the process that started it dies, even by
    a signal that skips its atexit handlers (no VM outlives its `hil` process)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: the board's ethernet and the lab's NIC (found by this MAC inside the guest)
BOARD_MAC = "52:54:00:b0:a2:d1"
LAB_MAC = "52:54:00:4c:41:42"


#: the lab's disk: a block of text (`LAB_DISK_MAGIC`, then one active fault per line)
LAB_DISK_MAGIC = "hil-vrig-lab-state"
LAB_DISK_BYTES = 64 << 10


def write_lab_disk(path: Path, faults: list[str]) -> None:
    """The lab's disk with `faults` on: the guest's lab applies them when it starts."""
    text = "".join(f"{line}\n" for line in [LAB_DISK_MAGIC, *faults]).encode()
    path.write_bytes(text.ljust(LAB_DISK_BYTES, b"\0"))


def qemu_command(
    art: Artifacts,
    opts: QemuOptions,
    port: int,
    boot_image: Path,
    control: Path | None = None,
    fw_cfg: dict[str, Path] | None = None,
) -> list[str]:
    """The QEMU command line of a virtual board.

    No host network (`-nic none`): the board's NIC and the lab's NIC are joined
    by one of QEMU's internal hubs and nothing else; inside the guest the lab's
    NIC goes into the lab's network namespace. The guest's `reboot` resets the
    machine (no `-no-reboot`): the console socket and the boot disk stay. With
    a `control` directory: the lab line (ttyS1), QMP and the lab's disk there.
    `fw_cfg` files (name → host file) reach the guest under
    /sys/firmware/qemu_fw_cfg/by_name/ (the lab's modem, see `hil.vrig.modem`; the
    WiFi lab's tar, see `hil.vrig.wifi`), read by the guest at every boot.
    """
    machine = re.sub(r"[^A-Za-z0-9._+-]", "_", opts.machine or "qemux86-64")
    append = (
        f"console=ttyS0,115200 panic=-1 quiet net.ifnames=0 hil.release={opts.os_release} "
        f"hil.hostname={opts.hostname} hil.machine={machine}"
    )
    cmd = [
        QEMU,
        "-accel", opts.accel,
        "-m", str(opts.memory),
        "-smp", str(opts.cpus),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-nic", "none",
        "-netdev", "hubport,id=board,hubid=0",
        "-device", f"virtio-net-pci,netdev=board,mac={BOARD_MAC}",
        "-netdev", "hubport,id=lab,hubid=0",
        "-device", f"virtio-net-pci,netdev=lab,mac={LAB_MAC}",
        "-drive", f"file={boot_image},format=raw,if=virtio,cache=writeback",
        "-kernel", str(art.kernel),
        "-initrd", str(art.initrd),
        "-append", append,
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-serial", f"tcp:127.0.0.1:{port},server=on,wait=off",
        *[a for n, p in (fw_cfg or {}).items() for a in ("-fw_cfg", f"name={n},file={p}")],
    ]  # fmt: skip
    if control is not None:
        cmd += [
            "-chardev", f"socket,id=labline,path={control / 'lab.sock'},server=on,wait=off",
            "-serial", "chardev:labline",
            "-qmp", f"unix:{control / 'qmp.sock'},server=on,wait=off",
            "-drive", f"file={control / 'lab.img'},format=raw,if=none,id=labdisk",
            "-device", "virtio-blk-pci,drive=labdisk,serial=hil-lab,addr=0x1e",
        ]  # fmt: skip
    return cmd


class VirtualBoard:
    """A `qemu://` board's VM, started and stopped by this process."""

    def __init__(
        self,
        name: str,
        opts: QemuOptions,
        device_type: str = "",
        faults: list[str] | None = None,
        wifi: WifiLab | None = None,
    ) -> None:
        self.name = name
        self.opts = opts
        self.wifi = wifi
        self.device_type = device_type or opts.machine or "genericx86-64-ext"
        #: lab faults on from boot (the board's `faults:`, `--lab-fault`)
        self.faults = list(faults or [])
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=20)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def control_dir(self) -> Path:
        """This VM's lab line, QMP socket and lab disk (a directory of its own)."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix=f"hil-vrig-{self.name}-")
        return Path(self._scratch.name)

    def control(self) -> VrigControl:
        return VrigControl(self.name, self.control_dir / "lab.sock", self.control_dir / "qmp.sock")

    def start(self) -> VirtualBoard:
        if shutil.which(QEMU) is None:
            raise HarnessError(f"{self.name}: {QEMU} missing (scripts/setup.sh installs it)")
        art = build()
        image = self.boot_image()
        control = self.control_dir
        write_lab_disk(control / "lab.img", self.faults)
        for _ in range(5):  # the port may be taken between probing and QEMU binding it
            self.port = _free_port()
            self.proc = subprocess.Popen(
                qemu_command(art, self.opts, self.port, image, control, self._fw_cfg()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            Thread(target=self._drain, args=(self.proc,), daemon=True).start()
            if self._wait_listening(10.0):
                return self
            self._kill()
        raise HarnessError(f"{self.name}: QEMU did not start: {self.last_error()}")

    def boot_image(self) -> Path:
        """The board's boot disk: the `qemu.boot_image` file (kept between runs, made if
        missing), else a fresh one for this VM's life."""
        if self.opts.boot_image:
            path = Path(self.opts.boot_image).expanduser()
        else:
            path = self.control_dir / "boot.img"
        config = default_config_json(self.device_type, self.opts.hostname)
        return make_boot_image(path, config)

    def _fw_cfg(self) -> dict[str, Path]:
        """The lab's modem and WiFi lab for the guest (the SIM's PIN and the networks'
        secrets: private files in this VM's own directory, gone with the VM)."""
        files: dict[str, Path] = {}
        if self.opts.modems:
            path = self.control_dir / "modem.json"
            files[MODEM_FW_CFG] = write_description(path, self.opts.modems[0], self.name)
        if self.wifi:
            files[WIFI_FW_CFG] = self.wifi.write(self.control_dir / "wifi.tar")
        return files

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            self._stderr.append(raw.decode(errors="replace").rstrip())

    def last_error(self) -> str:
        lines = [line for line in self._stderr if "warning" not in line]
        return lines[-1] if lines else "no message"

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return True
            time.sleep(0.05)
        return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self._kill()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
