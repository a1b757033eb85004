"""The simulated ModemManager: modems on the USB bus, their SIM, registration and bearers.

Time is lazy, as in the NetworkManager model: every modem keeps the world
time of its events (enabled, bearer connected) and its state is computed from
them, the SIM and the lab faults whenever someone looks (`tick()`). Whether
the modem is there at all is the board's USB bus's business (`hil.sim.usb`,
the one source of truth that `lsusb`, `udevadm` and `usb_modeswitch` read
too): a modem with a storage mode enumerates as a CD-ROM first, udev's
usb_modeswitch switches it (never under `modem-stuck-in-storage-mode`) and it
re-enumerates at the same port with its modem-mode id and ports. What
ModemManager does with what the bus shows:

- every enumeration in modem mode is a new device: ModemManager probes its
  ports (the bus's ttys, cdc-wdm and net interfaces, with their udev tags)
  for `PROBE_SECONDS`, then exports it as
  `/org/freedesktop/ModemManager1/Modem/N` (N counts up with every export, as
  the real daemon does: a modem that re-enumerates comes back as N+1);
- the SIM: `missing` → state `failed` (`sim-missing`); PIN-locked → `locked`
  until someone sends the right PIN (3 tries, then `sim-puk`);
- enabled (by NetworkManager activating a gsm connection, or `mmcli -e`) it
  searches, then registers after `REGISTER_SECONDS` (never under
  `no-registration`), with the operator, signal and access technology of the
  lab's network (`weak-signal`: 3 %);
- a bearer connects when the APN (and user/password, if the network wants
  them) match the lab's network, else fails with ModemManager's error
  (`wrong-apn`: every APN is refused).
Under load (a bearer carrying data for `LOAD_SECONDS`), `modem-reenumerates`
power-cycles the modem's port on the bus (it leaves and enumerates again),
and `modem-drops-off-bus` unplugs it for as long as the fault lasts.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hil.lab.models import ModemConfig, SimModem
from hil.sim.modem.catalog import ModemHardware, find, generic

if TYPE_CHECKING:
    from hil.sim.usb import SimUsbModem, UsbBus
    from hil.sim.world import World

PROBE_SECONDS = 2.0
ENABLE_SECONDS = 1.0
REGISTER_SECONDS = 4.0
CONNECT_SECONDS = 3.0
LOAD_SECONDS = 1.0
REPLUG_SECONDS = 3.0
#: how long ModemManager's simple connect waits for a registration
REGISTRATION_TIMEOUT = 60.0
PIN_TRIES, PUK_TRIES = 3, 10
WEAK_SIGNAL = 3

#: well-known operators of the lab's network names (MCC+MNC); others get a test PLMN
OPERATOR_CODES = {"giffgaff": "23410", "o2 - uk": "23410", "vodafone uk": "23415", "ee": "23430"}

ME_ERROR = "org.freedesktop.ModemManager1.Error.MobileEquipment."
CORE_ERROR = "org.freedesktop.ModemManager1.Error.Core."


class MMError(Exception):
    """A ModemManager D-Bus error: its name and message, as mmcli prints them."""

    def __init__(self, name: str, message: str, action: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        #: what mmcli was doing ("couldn't connect the modem"), set by the command
        self.action = action


@dataclass
class SimCard:
    state: str  # ready | missing | locked
    pin: str | None
    unlocked: bool = False
    pin_tries: int = PIN_TRIES
    puk_tries: int = PUK_TRIES
    index: int = 0


@dataclass
class BearerIp:
    address: str
    prefix: int
    gateway: str | None
    dns: list[str]
    mtu: int = 1500


@dataclass
class Bearer:
    index: int
    unit: ModemUnit
    apn: str
    user: str | None
    password: str | None
    started: float
    ready_at: float
    error: tuple[str, str] | None = None  # (D-Bus name, message), set when it failed
    ip: BearerIp | None = None
    disconnected: bool = False
    #: the NetworkManager device whose activation made it (None: mmcli --simple-connect)
    activation: str | None = None

    def connected(self, now: float) -> bool:
        return not self.disconnected and self.error is None and now >= self.ready_at

    def failed(self, now: float) -> bool:
        return self.error is not None and now >= self.ready_at


#: ModemManager's port type of a tty, by the udev tag of its interface
_TTY_TYPES = {"AT_PRIMARY": "at", "AT_SECONDARY": "at", "GPS": "gps", "QCDM": "qcdm"}
#: ModemManager's port type of a cdc-wdm port, by its driver
_WDM_TYPES = {"qmi_wwan": "qmi", "cdc_mbim": "mbim", "huawei_cdc_ncm": "at"}


@dataclass
class ModemUnit:
    """One physical modem in one USB port, and what ModemManager made of it."""

    spec: SimModem
    config: ModemConfig | None
    #: what the catalog says this device is (identity, plugin, IP method)
    base: ModemHardware
    #: the device on the board's USB bus
    usb: SimUsbModem
    sim: SimCard
    #: the bus enumeration ModemManager has taken in (None: none yet)
    seen: int | None = None
    index: int | None = None
    enabled_at: float | None = None
    bearers: list[Bearer] = field(default_factory=list)
    #: unplugged by `modem-drops-off-bus`, until the fault is lifted
    off_bus: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def usb_path(self) -> str:
        return self.usb.id_path

    @property
    def hardware(self) -> ModemHardware:
        """The modem as ModemManager sees it now: the catalog's identity with the ports,
        primary port and drivers of what is on the bus."""
        return self.hardware_now() or self.base

    def hardware_now(self) -> ModemHardware | None:
        """None when the device on the bus is no modem ModemManager drives (a HiLink
        network card, a CD-ROM)."""
        usb = self.usb
        if usb.mode != "modem" or usb.vid_pid is None:
            return None
        base = self.base if self.base.vid_pid == usb.vid_pid else find(usb.vid_pid)
        ports = []
        for port in usb.ports:
            function = usb.interfaces[port.interface]
            if port.kind == "tty":
                kind = _TTY_TYPES.get(function.mm_port_type or "", "at")
            elif port.kind == "wdm":
                kind = _WDM_TYPES.get(function.driver or "", "at")
            else:
                kind = "net"
            ports.append((port.name, kind))
        ports.sort()
        if base is None:
            if not any(kind == "at" and name.startswith("tty") for name, kind in ports):
                return None
            base = generic(usb.vid_pid)
        primary = base.primary_port
        if primary.startswith("cdc-wdm"):
            primary = next((n for n, _ in ports if n.startswith("cdc-wdm")), primary)
        elif primary.startswith("tty"):
            first_at = next((n for n, k in ports if k == "at" and n.startswith("tty")), primary)
            primary = usb.at_port.removeprefix("/dev/") if usb.at_port else first_at
        drivers = tuple(d for d in usb.drivers if d != "usb-storage")
        return replace(base, ports=tuple(ports), primary_port=primary, drivers=drivers)


class ModemManager:
    """The model behind `mmcli`, the gsm devices of NetworkManager and `lsusb`'s modems."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        self.running = False
        self.units: list[ModemUnit] = []
        self.next_modem = 0
        self.next_bearer = 0
        self.next_sim = 0
        self.bus: UsbBus | None = None
        if not world.spec.modems:
            return
        from hil.sim.usb import usb_bus

        self.bus = usb_bus(world)
        configs = {m.name: m for m in world.board.modems}
        for spec in world.spec.modems:
            config = configs.get(spec.name)
            model = config.model if config else None
            hardware = find(spec.switches_to or spec.vid_pid, model) or generic(spec.vid_pid)
            sim = SimCard(spec.sim, spec.pin)
            self.units.append(ModemUnit(spec, config, hardware, self.bus.modem(spec.name), sim))

    def now(self) -> float:
        return self.world.clock.uptime() / self.world.clock.scale

    # -- lifecycle -----------------------------------------------------
    def boot(self) -> None:
        """A boot powers the USB ports anew (the bus enumerates every modem again)
        and ModemManager numbers its objects from 0."""
        with self.lock:
            self.next_modem = self.next_bearer = self.next_sim = 0
            for unit in self.units:
                self._lost(unit)
                unit.off_bus = False
            self.running = True

    def start(self) -> None:
        with self.lock:
            if not self.running:
                self.running = True
                for unit in self.units:  # a restarted daemon probes and numbers anew
                    unit.index = None
                    unit.enabled_at = None
                    unit.bearers = []

    def stop(self) -> None:
        with self.lock:
            self.running = False
            self._sync_nm()

    def _lost(self, unit: ModemUnit) -> None:
        """The device ModemManager knew left the bus: its objects go with it."""
        unit.seen = None
        unit.index = None
        unit.enabled_at = None
        for b in unit.bearers:
            b.disconnected = True
        unit.bearers = []
        unit.sim.unlocked = False

    # -- the USB side (the bus's view) -----------------------------------
    def on_bus(self, unit: ModemUnit) -> bool:
        """In modem mode on the bus, as ModemManager took it in."""
        return unit.usb.mode == "modem" and unit.seen == unit.usb.serial

    def mode(self, unit: ModemUnit) -> str:
        """`storage`, `modem` or `absent`: the bus's word."""
        if self.bus is not None:
            self.bus.advance()
        return unit.usb.mode

    def vid_pid(self, unit: ModemUnit) -> str | None:
        self.mode(unit)
        return unit.usb.vid_pid

    # -- time ----------------------------------------------------------
    def tick(self) -> None:
        """Bring every modem up to now: the bus's news, exports, load faults."""
        with self.lock:
            if self.bus is not None:
                self.bus.advance()
            now = self.now()
            for unit in self.units:
                self._tick_unit(unit, now)
            self._sync_nm()

    def _tick_unit(self, unit: ModemUnit, now: float) -> None:
        usb = unit.usb
        if unit.off_bus and not self.world.fault("modem-drops-off-bus"):
            unit.off_bus = False
            self.bus.plug(usb)  # type: ignore[union-attr]
        if usb.mode != "modem" or (unit.seen is not None and unit.seen != usb.serial):
            if unit.seen is not None:
                self._lost(unit)
            if usb.mode != "modem":
                return
        unit.seen = usb.serial
        if unit.hardware_now() is None:
            return  # not a modem ModemManager drives
        if unit.index is None and self.running and now >= usb.enumerated_at + PROBE_SECONDS:
            unit.index = self.next_modem
            self.next_modem += 1
            if unit.sim.state != "missing":
                unit.sim.index = self.next_sim
                self.next_sim += 1
        registered = self.state(unit, now) in ("registered", "connecting", "connected")
        nm_devices = self.world.nm.devices
        for b in unit.bearers:
            if b.connected(now) and not registered:
                b.disconnected = True
            owner = nm_devices.get(b.activation) if b.activation else None
            if b.activation and (owner is None or owner.activation is None):
                b.disconnected = True  # NetworkManager took the connection down
        loaded = [b for b in unit.bearers if b.connected(now) and now >= b.ready_at + LOAD_SECONDS]
        if loaded and self.world.fault("modem-drops-off-bus"):
            self.bus.unplug(usb)  # type: ignore[union-attr]
            unit.off_bus = True
            self._lost(unit)
        elif loaded and self.world.fault("modem-reenumerates"):
            self.bus.replug(usb, off_for=REPLUG_SECONDS)  # type: ignore[union-attr]
            self._lost(unit)

    def _sync_nm(self) -> None:
        """NetworkManager has a gsm device for each modem ModemManager exports."""
        from hil.sim.modem.nm_device import GsmDevice

        nm = self.world.nm
        wanted = {
            u.hardware.primary_port: u
            for u in self.units
            if self.running and u.index is not None and self.on_bus(u)
        }
        for name, st in list(nm.devices.items()):
            dev = st.device
            if isinstance(dev, GsmDevice) and (
                name not in wanted or wanted[name] is not dev.unit or dev.index != dev.unit.index
            ):
                nm.remove_device(name)
        for name, unit in wanted.items():
            if name not in nm.devices:
                nm.add_device(GsmDevice(self.world, self, unit))

    # -- ModemManager's view ---------------------------------------------
    def exported(self) -> list[ModemUnit]:
        """Modems `mmcli -L` lists, in index order."""
        if not self.running:
            return []
        units = [u for u in self.units if u.index is not None and self.on_bus(u)]
        return sorted(units, key=lambda u: u.index or 0)

    def by_index(self, index: int) -> ModemUnit | None:
        return next((u for u in self.exported() if u.index == index), None)

    def sim_missing(self, unit: ModemUnit) -> bool:
        return unit.sim.state == "missing" or self.world.fault("sim-missing")

    def sim_locked(self, unit: ModemUnit) -> bool:
        locked = unit.sim.state == "locked" or self.world.fault("sim-locked")
        return locked and not unit.sim.unlocked

    def unlock_required(self, unit: ModemUnit) -> str | None:
        if not self.sim_locked(unit):
            return None
        return "sim-pin" if unit.sim.pin_tries > 0 else "sim-puk"

    def state(self, unit: ModemUnit, now: float | None = None) -> str:
        """ModemManager's modem state word."""
        now = self.now() if now is None else now
        if self.sim_missing(unit):
            return "failed"
        if self.sim_locked(unit):
            return "locked"
        if unit.enabled_at is None:
            return "disabled"
        if now < unit.enabled_at + ENABLE_SECONDS:
            return "enabling"
        if self.world.fault("no-registration") or now < unit.enabled_at + REGISTER_SECONDS:
            return "searching"
        if any(b.connected(now) for b in unit.bearers):
            return "connected"
        if any(not b.disconnected and b.error is None for b in unit.bearers):
            return "connecting"
        return "registered"

    def registration(self, unit: ModemUnit) -> str | None:
        state = self.state(unit)
        if state in ("failed", "locked", "disabled", "enabling"):
            return None
        return "searching" if state == "searching" else "home"

    def signal(self, unit: ModemUnit) -> int:
        if self.state(unit) in ("failed", "locked", "disabled", "enabling", "searching"):
            return 0
        return WEAK_SIGNAL if self.world.fault("weak-signal") else unit.spec.signal

    def operator(self, unit: ModemUnit) -> tuple[str | None, str | None]:
        if self.registration(unit) != "home":
            return None, None
        name = unit.spec.operator
        return OPERATOR_CODES.get(name.lower(), "00101"), name

    def device_identifier(self, unit: ModemUnit) -> str:
        """ModemManager's stable id of the device (a digest of its port and ids)."""
        return hashlib.sha1(f"{unit.usb_path}{unit.hardware.vid_pid}".encode()).hexdigest()

    def imei(self, unit: ModemUnit) -> str:
        return f"86{zlib.crc32(unit.usb_path.encode()) % 10**13:013d}"

    # -- actions -------------------------------------------------------
    def enable(self, unit: ModemUnit) -> None:
        with self.lock:
            if self.sim_missing(unit):
                raise MMError(CORE_ERROR + "WrongState", "modem in failed state")
            if self.sim_locked(unit):
                raise MMError(CORE_ERROR + "WrongState", "Cannot enable modem: device locked")
            if unit.enabled_at is None:
                unit.enabled_at = self.now()

    def disable(self, unit: ModemUnit) -> None:
        with self.lock:
            for b in unit.bearers:
                b.disconnected = True
            unit.enabled_at = None

    def send_pin(self, unit: ModemUnit, pin: str) -> None:
        """What `mmcli -i N --pin=...` and NetworkManager's `gsm.pin` do."""
        with self.lock:
            if not self.sim_locked(unit):
                raise MMError(
                    CORE_ERROR + "WrongState", "Cannot send PIN: device is not SIM-PIN locked"
                )
            if unit.sim.pin_tries <= 0:
                raise MMError(ME_ERROR + "SimPuk", "SIM PUK required")
            # under `sim-locked` the SIM's PIN is not the one the lab knows
            right = unit.sim.pin if unit.sim.state == "locked" else None
            if self.world.fault("sim-locked") or pin != right:
                unit.sim.pin_tries -= 1
                raise MMError(ME_ERROR + "IncorrectPassword", "Incorrect password")
            unit.sim.unlocked = True
            unit.sim.pin_tries = PIN_TRIES

    def reset(self, unit: ModemUnit) -> None:
        """`mmcli --reset`: the modem reboots, leaves the bus and enumerates again."""
        with self.lock:
            self.bus.replug(unit.usb, off_for=REPLUG_SECONDS)  # type: ignore[union-attr]
            self._lost(unit)
            self._sync_nm()

    def connect(
        self,
        unit: ModemUnit,
        apn: str,
        user: str | None = None,
        password: str | None = None,
        activation: str | None = None,
    ) -> Bearer:
        """Create a bearer and start connecting it; the outcome is known at `ready_at`."""
        with self.lock:
            now = self.now()
            if unit.enabled_at is None:
                self.enable(unit)
            registered_at = unit.enabled_at + REGISTER_SECONDS  # type: ignore[operator]
            start = max(now, registered_at)
            bearer = Bearer(
                index=self.next_bearer,
                unit=unit,
                apn=apn,
                user=user,
                password=password,
                started=now,
                ready_at=start + CONNECT_SECONDS,
                activation=activation,
            )
            self.next_bearer += 1
            if self.world.fault("no-registration"):
                bearer.ready_at = now + REGISTRATION_TIMEOUT
                bearer.error = (CORE_ERROR + "Retry", "Too much time waiting to get registered")
            else:
                bearer.error = self._refusal(unit, apn, user, password)
            if bearer.error is None:
                bearer.ip = self._address(unit, bearer)
            unit.bearers = [b for b in unit.bearers if not b.disconnected] + [bearer]
            return bearer

    def _refusal(
        self, unit: ModemUnit, apn: str, user: str | None, password: str | None
    ) -> tuple[str, str] | None:
        net = unit.spec
        if self.world.fault("wrong-apn") or (net.apn is not None and apn != net.apn):
            return (ME_ERROR + "MissingOrUnknownApn", "Missing or unknown APN")
        if net.username is not None and (user, password) != (net.username, net.password):
            return (ME_ERROR + "UserAuthenticationFailed", "User authentication failed")
        return None

    def _address(self, unit: ModemUnit, bearer: Bearer) -> BearerIp:
        """The carrier's address for this bearer (a CGNAT range, stable per board)."""
        seed = zlib.crc32(f"{self.world.hostname}:{unit.usb_path}".encode())
        net = ipaddress.IPv4Network(f"10.{64 + seed % 64}.{(seed >> 8) % 256}.0/24")
        host = net.network_address + 8 + 4 * ((seed >> 16) % 50)
        dns = ["10.177.0.34", "10.177.0.210"]
        if unit.hardware.ip_method == "ppp":
            return BearerIp(str(host + 1), 32, "10.64.64.64", dns)
        return BearerIp(str(host + 1), 30, str(host + 2), dns, mtu=1500)

    def disconnect_all(self, unit: ModemUnit) -> None:
        with self.lock:
            for b in unit.bearers:
                b.disconnected = True

    def bearer(self, index: int) -> Bearer | None:
        for unit in self.exported():
            for b in unit.bearers:
                if b.index == index:
                    return b
        return None

    def unit_at(self, usb_path: str) -> ModemUnit | None:
        return next((u for u in self.units if u.usb_path == usb_path), None)
