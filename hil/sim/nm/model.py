"""The simulated NetworkManager: profiles, devices, activations, autoconnect.

Time is lazy: an activation is a plan of device states at world-time offsets
(compressed by the world's clock), and `tick()` — called by every command that
looks at NetworkManager — moves each activation along, fails it with
NetworkManager's reason, or drops a link whose network went away, then lets
autoconnect pick the next profile, as NetworkManager does.
"""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from hil.netconfig import is_loaded_by_os, validate
from hil.sim.nm.devices import DEFAULT_METRIC, Device, EthernetDevice, IpConfig, WifiDevice
from hil.sim.nm.profiles import Profile, ProfileError

if TYPE_CHECKING:
    from hil.sim.world import World

CONNECTIONS_DIR = "/etc/NetworkManager/system-connections"
DHCP_TIMEOUT = 45.0  # NetworkManager's default ipv4.dhcp-timeout, world seconds


class State(IntEnum):
    """NM_DEVICE_STATE_*, with nmcli's words."""

    UNMANAGED = 10
    UNAVAILABLE = 20
    DISCONNECTED = 30
    PREPARE = 40
    CONFIG = 50
    NEED_AUTH = 60
    IP_CONFIG = 70
    IP_CHECK = 80
    SECONDARIES = 90
    ACTIVATED = 100
    DEACTIVATING = 110
    FAILED = 120

    @property
    def words(self) -> str:
        return {
            10: "unmanaged",
            20: "unavailable",
            30: "disconnected",
            40: "connecting (prepare)",
            50: "connecting (configuring)",
            60: "connecting (need authentication)",
            70: "connecting (getting IP configuration)",
            80: "connecting (checking IP connectivity)",
            90: "connecting (starting secondary connections)",
            100: "connected",
            110: "deactivating",
            120: "connection failed",
        }[int(self)]


@dataclass
class Activation:
    profile: Profile
    device: Device
    started: float
    #: (world offset, state) in order; the last entry is the outcome
    plan: list[tuple[float, State]]
    failure: str = ""
    ip: IpConfig | None = None
    number: int = 0

    def state_at(self, now: float) -> State:
        state = State.PREPARE
        for offset, s in self.plan:
            if now - self.started >= offset:
                state = s
        return state

    @property
    def duration(self) -> float:
        return self.plan[-1][0]

    @property
    def outcome(self) -> State:
        return self.plan[-1][1]


@dataclass
class DeviceStatus:
    device: Device
    state: State
    activation: Activation | None
    last_failure: str = ""
    blocked: set[str] = field(default_factory=set)  # profile uuids autoconnect skips


class NetworkManager:
    """The model behind `nmcli`, `ip` and the boot-time copy of connections."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        self.running = False
        self.profiles: list[Profile] = []
        self.load_errors: dict[str, str] = {}
        self.devices: dict[str, DeviceStatus] = {}
        self.activations = 0
        self.wifi_enabled = True
        #: called first by `tick()`: other daemons' models catching up (ModemManager)
        self.tick_hooks: list[Callable[[], None]] = []
        self.add_device(EthernetDevice(world, "eth0", "dc:a6:32:01:02:03"))
        self.add_device(WifiDevice(world, "wlan0", "dc:a6:32:01:02:04"))

    # -- devices -------------------------------------------------------
    def add_device(self, device: Device) -> None:
        with self.lock:
            self.devices[device.name] = DeviceStatus(device, State.DISCONNECTED, None)
            if self.running:
                self.autoconnect()

    def remove_device(self, name: str) -> None:
        with self.lock:
            self.devices.pop(name, None)

    def now(self) -> float:
        return self.world.clock.uptime() / self.world.clock.scale

    # -- lifecycle -----------------------------------------------------
    def start(self) -> None:
        """NetworkManager starting: load every keyfile, autoconnect."""
        with self.lock:
            for st in self.devices.values():
                st.state = State.DISCONNECTED if st.device.available() else State.UNAVAILABLE
                st.activation = None
                st.blocked.clear()
                st.last_failure = ""
            self.profiles = []
            self.load_errors = {}
            self._load_dir()
            self._ensure_default_wired()
            self.running = True
            self.autoconnect()

    def stop(self) -> None:
        with self.lock:
            self.running = False
            for st in self.devices.values():
                st.activation = None
                st.state = State.UNMANAGED

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- profiles ------------------------------------------------------
    def _load_dir(self) -> None:
        fs = self.world.fs
        if not fs.isdir(CONNECTIONS_DIR):
            return
        for name in fs.listdir(CONNECTIONS_DIR):
            path = posixpath.join(CONNECTIONS_DIR, name)
            if fs.isfile(path) and is_loaded_by_os(name):
                self._load_file(path)

    def _load_file(self, path: str) -> Profile | None:
        try:
            profile = Profile.parse(self.world.fs.read(path), path)
        except ProfileError as e:
            self.load_errors[path] = str(e)
            return None
        self.load_errors.pop(path, None)
        self.profiles = [p for p in self.profiles if p.path != path and p.uuid != profile.uuid]
        profile.order = len(self.profiles)
        self.profiles.append(profile)
        return profile

    def check(self, profile: Profile) -> None:
        """Reject what NetworkManager would refuse to load (the same validator as
        `hil keyfile check`, which agrees with libnm)."""
        report = validate(profile.to_keyfile(), profile.path or f"<{profile.id or 'new'}>")
        if not report.valid:
            raise ProfileError(str(report.errors[0]))

    def _ensure_default_wired(self) -> None:
        """NetworkManager always sets up a default ethernet connection."""
        eth = [st.device for st in self.devices.values() if st.device.type == "ethernet"]
        for dev in eth:
            if any(p.type == "ethernet" and dev.matches(p) for p in self.profiles):
                continue
            p = Profile(
                {
                    "connection": {
                        "id": "Wired connection 1",
                        "type": "ethernet",
                        "interface-name": dev.name,
                        "autoconnect-priority": "-999",
                    },
                    "ipv4": {"method": "auto"},
                    "ipv6": {"method": "auto"},
                },
                path=None,
                origin="default",
            )
            p.order = len(self.profiles)
            self.profiles.append(p)

    def find(self, key: str) -> Profile | None:
        """A profile by id, uuid or file path (as nmcli takes them)."""
        for p in self.profiles:
            if key in (p.id, p.uuid, p.path):
                return p
        return None

    def reload(self) -> None:
        """`nmcli connection reload`: pick up new, changed and deleted files."""
        with self.lock:
            on_disk = {
                posixpath.join(CONNECTIONS_DIR, n)
                for n in (
                    self.world.fs.listdir(CONNECTIONS_DIR)
                    if self.world.fs.isdir(CONNECTIONS_DIR)
                    else []
                )
            }
            for p in list(self.profiles):
                if p.path and p.path not in on_disk:
                    self._drop(p)
            for path in sorted(on_disk):
                if is_loaded_by_os(path):
                    self._load_file(path)
            self._ensure_default_wired()
            self.autoconnect()

    def load(self, path: str) -> Profile | None:
        with self.lock:
            profile = self._load_file(path)
            self.autoconnect()
            return profile

    def add(self, profile: Profile, save: bool = True) -> Profile:
        """A profile added over D-Bus: saved in the overlay, never in the boot partition."""
        with self.lock:
            self.check(profile)
            if save:
                # NetworkManager's keyfile writer: the id as the name, the uuid
                # appended when another profile's file has that name already
                name = profile.id.replace("/", "*")
                path = posixpath.join(CONNECTIONS_DIR, f"{name}.nmconnection")
                if self.world.fs.exists(path):
                    path = posixpath.join(CONNECTIONS_DIR, f"{name}-{profile.uuid}.nmconnection")
                self.world.fs.write(path, profile.to_keyfile().dump(), mode=0o600)
                profile.path = path
            profile.order = len(self.profiles)
            self.profiles.append(profile)
            self.autoconnect()
            return profile

    def delete(self, profile: Profile) -> None:
        with self.lock:
            if profile.path and self.world.fs.exists(profile.path):
                self.world.fs.remove(profile.path)
            self._drop(profile)
            self.autoconnect()

    def _drop(self, profile: Profile) -> None:
        for st in self.devices.values():
            if st.activation and st.activation.profile is profile:
                st.activation = None
                st.state = State.DISCONNECTED
        self.profiles = [p for p in self.profiles if p is not profile]

    # -- activation ----------------------------------------------------
    def activate(self, profile: Profile, device: Device | None = None) -> Activation:
        """Start activating `profile`; the plan says how and when it ends."""
        with self.lock:
            device = device or self.device_for(profile)
            if device is None:
                raise ProfileError("No suitable device found for this connection")
            for st in self.devices.values():  # a profile is active on one device
                if st.activation and st.activation.profile is profile:
                    st.activation = None
                    st.state = State.DISCONNECTED
            link = device.link(profile)
            self.activations += 1
            plan: list[tuple[float, State]] = [(0.0, State.PREPARE), (0.3, State.CONFIG)]
            act = Activation(profile, device, self.now(), plan, number=self.activations)
            if not link.ok:
                if link.fail_state == State.NEED_AUTH:
                    plan.append((link.seconds / 2, State.NEED_AUTH))
                plan.append((link.seconds, State.FAILED))
                act.failure = link.reason
            else:
                t = link.seconds
                plan.append((t, State.IP_CONFIG))
                ip = self._ip_config(profile, device)
                if ip is None:
                    plan.append((t + DHCP_TIMEOUT, State.FAILED))
                    act.failure = (
                        "IP configuration could not be reserved "
                        "(no available address, timeout, etc.)"
                    )
                else:
                    act.ip = ip
                    plan.append((t + 1.0, State.ACTIVATED))
            st = self.devices[device.name]
            st.activation = act
            st.state = State.PREPARE
            return act

    def _ip_config(self, profile: Profile, device: Device) -> IpConfig | None:
        method = profile.get("ipv4", "method") or "auto"
        if method == "manual":
            address = profile.get("ipv4", "address1") or profile.get("ipv4", "addresses1") or ""
            addr, _, gw = address.partition(",")
            if device.static_address_in_use(addr.strip()):
                return None  # duplicate-address detection: "IP configuration could not be reserved"
            return IpConfig(
                addr.strip(),
                gw.strip() or profile.get("ipv4", "gateway"),
                dns=profile.semicolon_list("ipv4", "dns"),
                method="manual",
            )
        if method == "shared":
            return IpConfig("10.42.0.1/24", None, method="shared")
        if method == "disabled":
            return IpConfig("", None, method="disabled")
        lease = device.lease(profile)
        if lease is None:
            return None
        if profile.get_bool("ipv4", "ignore-auto-dns", False):
            lease.dns = []
        lease.dns = profile.semicolon_list("ipv4", "dns") + lease.dns
        return lease

    def device_for(self, profile: Profile) -> Device | None:
        for st in self.devices.values():
            if st.device.matches(profile) and st.device.available():
                return st.device
        return None

    def deactivate(self, profile: Profile) -> bool:
        with self.lock:
            for st in self.devices.values():
                if st.activation and st.activation.profile is profile:
                    st.activation = None
                    st.state = State.DISCONNECTED
                    st.blocked.add(profile.uuid)  # a manual down is not undone by autoconnect
                    return True
            return False

    def autoconnect(self) -> None:
        """Each idle device activates its best available autoconnect profile."""
        if not self.running:
            return
        for st in self.devices.values():
            if st.activation is not None or not st.device.available():
                continue
            candidates = [
                p
                for p in self.profiles
                if p.autoconnect
                and p.uuid not in st.blocked
                and st.device.can_autoconnect(p)
                and not self.active_elsewhere(p, st.device)
            ]
            if not candidates:
                continue
            best = max(candidates, key=lambda p: (p.priority, -p.order))
            self.activate(best, st.device)

    def active_elsewhere(self, profile: Profile, device: Device) -> bool:
        return any(
            st.activation and st.activation.profile is profile and st.device is not device
            for st in self.devices.values()
        )

    def tick(self) -> None:
        """Move every activation along to now; react to outcomes and lost links."""
        for hook in self.tick_hooks:
            hook()
        with self.lock:
            if not self.running:
                return
            changed = False
            now = self.now()
            for st in self.devices.values():
                act = st.activation
                if act is None:
                    if not st.device.available():
                        st.state = State.UNAVAILABLE
                    elif st.state == State.UNAVAILABLE:
                        st.state = State.DISCONNECTED
                        changed = True
                    continue
                state = act.state_at(now)
                if state == State.FAILED:
                    st.last_failure = act.failure
                    st.blocked.add(act.profile.uuid)
                    st.activation = None
                    st.state = State.DISCONNECTED
                    changed = True
                    continue
                st.state = state
                if state == State.ACTIVATED:
                    lost = st.device.still_linked(act.profile)
                    if lost:
                        st.last_failure = lost
                        st.activation = None
                        st.state = State.DISCONNECTED
                        changed = True
            if changed:
                self.autoconnect()

    def settling_seconds(self) -> float:
        """World seconds until no activation is in progress (startup complete)."""
        now = self.now()
        left = [a.started + a.duration - now for a in self.active()]
        return max([0.0, *left])

    # -- views ---------------------------------------------------------
    def active(self) -> list[Activation]:
        """Activations in progress or done (after a tick)."""
        return [st.activation for st in self.devices.values() if st.activation]

    def routes(self) -> list[dict]:
        """The IPv4 routes NetworkManager configured, as `ip -j route` shows them."""
        routes: list[dict] = []
        for st in self.devices.values():
            act = st.activation
            if act is None or st.state != State.ACTIVATED or not act.ip or not act.ip.address:
                continue
            p, ip = act.profile, act.ip
            metric = p.get_int("ipv4", "route-metric", -1)
            if metric < 0:
                metric = DEFAULT_METRIC.get(st.device.type, 100)
            proto = "dhcp" if ip.method == "auto" else "static"
            iface = ip.interface
            if ip.gateway and not p.get_bool("ipv4", "never-default", False):
                routes.append(
                    {
                        "dst": "default",
                        "gateway": ip.gateway,
                        "dev": st.device.ip_iface,
                        "protocol": proto,
                        "prefsrc": str(iface.ip),
                        "metric": metric,
                        "flags": [],
                    }
                )
            routes.append(
                {
                    "dst": str(iface.network),
                    "dev": st.device.ip_iface,
                    "protocol": "kernel",
                    "scope": "link",
                    "prefsrc": str(iface.ip),
                    "metric": metric,
                    "flags": [],
                }
            )
        routes.sort(key=lambda r: (r["dst"] != "default", r["metric"]))
        return routes

    def default_device(self) -> str | None:
        for r in self.routes():
            if r["dst"] == "default":
                return r["dev"]
        return None
