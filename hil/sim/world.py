"""The state of one simulated balenaOS board: files, facts, faults, clock.

Subsystems (NetworkManager, ModemManager, the USB bus, WiFi) hang off the
world and are driven by command handlers; `boot()` rebuilds what a real boot
rebuilds and keeps what persists (the boot partition, the state overlay).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import zlib
from collections.abc import Callable

from hil.lab.models import BoardConfig, SimWorld
from hil.sim.vfs import VirtualFS
from hil.usb.modeswitch import lab_udev_rules

BOOT = "/mnt/boot"
OVERLAY_CONNECTIONS = "/etc/NetworkManager/system-connections"
BOOT_ID = "/proc/sys/kernel/random/boot_id"

KERNELS = {
    "raspberrypi4-64": ("5.15.92", "aarch64"),
    "raspberrypi3-64": ("5.15.92", "aarch64"),
    "raspberrypi3": ("5.15.92", "armv7l"),
    "raspberrypi0-2w-64": ("5.15.92", "aarch64"),
    "fincm3": ("5.15.92", "armv7l"),
}

RESIN_SAMPLE = """\
[connection]
id=resin-sample
type=wifi

[wifi]
hidden=true
mode=infrastructure
ssid=My_Wifi_Ssid

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto

[wifi-security]
auth-alg=open
key-mgmt=wpa-psk
psk=super_secret_wifi_password
"""


class Clock:
    """World time. Events of the lab (DHCP, registration, timeouts) are
    compressed by `scale`: a 60 s registration takes 60 × scale real seconds."""

    def __init__(self, scale: float = 0.02) -> None:
        self.scale = scale
        self.booted_at = time.monotonic()

    def uptime(self) -> float:
        return time.monotonic() - self.booted_at

    def real_seconds(self, world_seconds: float) -> float:
        return world_seconds * self.scale

    def reset(self) -> None:
        self.booted_at = time.monotonic()


class World:
    """Everything the simulated board knows and remembers."""

    def __init__(self, board: BoardConfig) -> None:
        assert board.sim is not None
        self.board = board
        self.spec: SimWorld = board.sim
        self.device_type = board.device_type
        self.hostname = board.sim.hostname or board.name
        self.os_release = board.sim.os_release
        self.fs = VirtualFS()
        self.clock = Clock()
        self.faults: set[str] = set(board.faults)
        self.lock = threading.RLock()
        self.boot_count = 0
        #: functions run at every boot after the base files are laid out
        self.boot_hooks: list[Callable[[World], None]] = []
        #: subsystems by name (added by later layers of the model)
        self.subsystems: dict[str, object] = {}
        #: fault name → whether this world can have it (default: yes)
        self.fault_checks: dict[str, Callable[[], bool]] = {}
        self._lay_out_boot_partition()
        from hil.sim.nm import NetworkManager

        self.nm = NetworkManager(self)
        #: systemd units `systemctl` knows: name → (start, stop)
        self.services: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "NetworkManager": (self.nm.start, self.nm.stop),
        }
        #: whether each service runs
        self.service_probes: dict[str, Callable[[], bool]] = {
            "NetworkManager": lambda: self.nm.running,
        }
        #: systemd's state word of a service (active, inactive, failed), where
        #: the model knows more than running or not
        self.service_states: dict[str, Callable[[], str]] = {}
        from hil.sim.services import install

        install(self)
        from hil.sim.modem import install as install_modems

        self.modems = install_modems(self)

    # -- faults --------------------------------------------------------
    def fault(self, name: str) -> bool:
        return name in self.faults

    def fault_applies(self, name: str) -> bool:
        """Whether this world can have the fault (subsystems register checks)."""
        check = self.fault_checks.get(name)
        return check() if check else True

    def set_fault(self, name: str, on: bool) -> None:
        with self.lock:
            (self.faults.add if on else self.faults.discard)(name)

    # -- boot ----------------------------------------------------------
    def _lay_out_boot_partition(self) -> None:
        """The boot partition persists across boots: lay it out once."""
        fs = self.fs
        config = {
            "deviceType": self.device_type,
            "hostname": self.hostname,
            "persistentLogging": False,
            "localMode": True,
            "uuid": (self.hostname * 8)[:32],
        }
        # the card as the lab flashed it (`hil flash`): its modems' usb_modeswitch rules
        rules = lab_udev_rules(self.board.name, self.board.modems)
        if rules:
            config["os"] = {"udevRules": rules}
        fs.write(f"{BOOT}/config.json", json.dumps(config, indent=2) + "\n")
        fs.write(f"{BOOT}/system-connections/resin-sample.ignore", RESIN_SAMPLE, mode=0o600)
        fs.mkdir(f"{BOOT}/system-proxy")
        fs.mkdir(OVERLAY_CONNECTIONS)

    def boot(self) -> None:
        """What a (re)boot rebuilds: volatile files, clock, then the hooks."""
        self.boot_count += 1
        self.clock.reset()
        fs = self.fs
        version = self.os_release
        fs.write(
            "/etc/os-release",
            f'ID="balena-os"\nNAME="balenaOS"\nVERSION="{version}"\nVERSION_ID="{version}"\n'
            f'PRETTY_NAME="balenaOS {version}"\nMACHINE="{self.device_type}"\n'
            f'VARIANT="Development"\nVARIANT_ID="dev"\nMETA_BALENA_VERSION="{version}"\n'
            f'BALENA_BOARD_REV="{zlib.crc32(version.encode()) & 0xFFFFFFF:07x}"\n'
            f'SLUG="{self.device_type}"\n',
        )
        fs.write("/etc/hostname", self.hostname + "\n")
        for volatile in ("/tmp", "/run", "/var/volatile"):  # tmpfs: gone at every boot
            if fs.exists(volatile):
                fs.remove(volatile, recursive=True)
        fs.mkdir("/home/root")
        fs.mkdir("/tmp")
        fs.mkdir("/run")
        fs.mkdir("/var/log")
        fs.mkdir("/mnt/state/root-overlay/etc")
        fs.write("/proc/version", f"Linux version {self.kernel} (oe-user@oe-host) #1 SMP PREEMPT\n")
        # the kernel draws a new random boot id at every boot
        self.boot_id = str(uuid.uuid4())
        fs.write(BOOT_ID, self.boot_id + "\n", mode=0o444)
        self._copy_boot_connections()
        for hook in self.boot_hooks:
            hook(self)
        self.nm.start()

    def _copy_boot_connections(self) -> None:
        """balenaOS at boot: the boot partition's system-connections/ are copied into
        the state overlay (bind-mounted on NetworkManager's directory) without
        removing what is already there; `*.ignore` files are skipped."""
        src = f"{BOOT}/system-connections"
        if not self.fs.isdir(src):
            return
        for name in self.fs.listdir(src):
            path = f"{src}/{name}"
            if name.endswith(".ignore") or not self.fs.isfile(path):
                continue
            self.fs.write(f"{OVERLAY_CONNECTIONS}/{name}", self.fs.read(path), mode=0o600)

    def service_active(self, unit: str) -> bool:
        probe = self.service_probes.get(unit)
        return probe() if probe else False

    @property
    def kernel(self) -> str:
        return KERNELS.get(self.device_type, ("5.15.92", "aarch64"))[0]

    @property
    def machine(self) -> str:
        return KERNELS.get(self.device_type, ("5.15.92", "aarch64"))[1]
