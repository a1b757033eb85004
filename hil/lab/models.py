"""The lab config (DESIGN.md "Lab config") as typed pydantic models.

Validation happens here, at the edge: unknown keys, wrong types and bad values
are rejected with the key path; `hil.lab.loader` turns that into one line.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hil.lab.faults import FAULTS

_VID_PID = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{4}$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ConsoleConfig(Model):
    url: str
    baudrate: int = Field(115200, gt=0)
    username: str | None = None
    password: str | None = None
    flow_control: Literal["none", "rtscts", "xonxoff"] = "none"
    exclusive: bool = True
    #: seconds to wait for a missing port (board off, adapter unplugged)
    port_timeout: float = Field(30.0, ge=0)
    #: seconds to reach a shell prompt from whatever state the line is in
    login_timeout: float = Field(60.0, gt=0)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url.startswith("/"):
            return url
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in {"sim", "qemu", "rfc2217", "socket", "replay", "loop"}:
            raise ValueError(
                "expected /dev/..., sim://NAME, qemu://NAME, rfc2217://HOST:PORT, "
                f"socket://HOST:PORT or replay://FILE, got {url!r}"
            )
        return url

    @property
    def scheme(self) -> str:
        return "tty" if self.url.startswith("/") else self.url.split("://", 1)[0]


class PowerConfig(Model):
    driver: Literal["uhubctl", "command", "manual", "sim"]
    location: str | None = None
    port: int | None = None
    on: str | None = None
    off: str | None = None
    cycle: str | None = None
    #: seconds the power stays off during a cycle
    off_time: float = Field(3.0, ge=0)

    @model_validator(mode="after")
    def _driver_fields(self) -> PowerConfig:
        if self.driver == "uhubctl" and (self.location is None or self.port is None):
            raise ValueError("driver uhubctl needs location and port")
        if self.driver == "command" and not (self.on and self.off):
            raise ValueError("driver command needs on and off commands")
        return self


class ModemConfig(Model):
    name: str
    model: str
    usb_path: str
    apn: str | None = None
    number: str | None = None
    username: str | None = None
    password: str | None = None
    pin: str | None = None
    #: minimal signal quality (percent) the cellular suite accepts
    min_signal: int = Field(10, ge=0, le=100)
    #: seconds ModemManager gets to export, register and connect the modem (each)
    timeout: float = Field(90.0, gt=0)
    #: seconds a data session must hold (no drop, no re-enumeration) to pass
    soak_seconds: float = Field(60.0, ge=0)
    #: seconds the modem gets to come back at its port after a reset or a USB power
    #: cycle, and to register again (default: `timeout`)
    recovery_timeout: float | None = Field(None, gt=0)
    #: the id it enumerates with in modem mode, when the lab knows it (`12d1:1506`):
    #: the modeswitch suite then accepts it even where usb-modeswitch-data's target
    #: list lacks it (the E3372's stick firmware)
    vid_pid: str | None = None
    #: a usb_modeswitch configuration for a modem the database does not know
    #: (`DefaultVendor=`, `DefaultProduct=`, `TargetVendor=`, `TargetProduct=`, a
    #: mode keyword or `MessageContent=`): applied as a udev rule (config.json's
    #: `os.udevRules`) that runs usb_modeswitch with it
    modeswitch_config: str | None = None
    #: or the udev rule itself (one line), as the lab wrote it
    udev_rule: str | None = None

    @field_validator("vid_pid")
    @classmethod
    def _vid_pid(cls, v: str | None) -> str | None:
        if v is not None and not _VID_PID.match(v):
            raise ValueError(f"expected VVVV:PPPP with 4 lowercase hex digits each, got {v!r}")
        return v


class StaticAddressConfig(Model):
    """A free static address for the static-IP tests (the doc's `address1=`/`dns=`)."""

    address: str  # "192.168.1.127/24"
    gateway: str | None = None
    dns: list[str] = []

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        try:
            ipaddress.IPv4Interface(v)
        except ValueError:
            raise ValueError(f"expected IPv4 ADDRESS/PREFIX, got {v!r}") from None
        if "/" not in v:
            raise ValueError(f"give the prefix length, as in {v}/24")
        return v


class WifiConfig(Model):
    name: str
    ssid: str = Field(min_length=1)
    security: Literal["none", "wpa-psk", "wpa-eap"] = "wpa-psk"
    psk: str | None = None
    hidden: bool = False
    eap: Literal["peap", "ttls", "tls"] | None = None
    identity: str | None = None
    password: str | None = None
    phase2_auth: str | None = "mschapv2"
    #: the RADIUS server's CA (PEM) on the lab host, absolute or relative to the lab
    #: config's directory; the eduroam test installs it on the board as `ca-cert`
    ca_cert: str | None = None
    #: autoconnect-priority; the failover test uses the networks that have one (the
    #: highest is preferred, and the `preferred-ap-down` fault switches its AP off)
    priority: int | None = None
    #: what the lab AP is known to use, checked when given
    bssid: str | None = None
    channel: int | None = Field(None, ge=1, le=196)
    #: a free address on this network for the static-IP test (default: the doc's
    #: 192.168.1.127/24 via 192.168.1.1, which only a lab network on that subnet serves)
    static: StaticAddressConfig | None = None

    @field_validator("bssid")
    @classmethod
    def _bssid(cls, v: str | None) -> str | None:
        if v is not None and not _MAC.match(v):
            raise ValueError(f"expected a MAC address such as 02:00:5e:10:00:01, got {v!r}")
        return v.upper() if v else v

    @model_validator(mode="after")
    def _credentials(self) -> WifiConfig:
        if self.security == "wpa-psk" and not self.psk:
            raise ValueError("security wpa-psk needs psk")
        if self.security == "wpa-eap" and not (self.eap and self.identity):
            raise ValueError("security wpa-eap needs eap and identity")
        return self


class SimModem(Model):
    name: str
    vid_pid: str
    sim: Literal["ready", "missing", "locked"] = "ready"
    pin: str | None = None
    operator: str = "hil-net"
    signal: int = Field(70, ge=0, le=100)
    apn: str | None = None
    #: credentials the network wants with the APN (None: any)
    username: str | None = None
    password: str | None = None
    firmware: str | None = None
    #: the physical port (ID_PATH) the modem sits in; default derived from order
    usb_path: str | None = None
    #: a stick usb-modeswitch-data may not know: it enumerates as storage with
    #: `vid_pid` and comes back as this id once usb_modeswitch sends it a message
    switches_to: str | None = None

    @field_validator("vid_pid")
    @classmethod
    def _vid_pid(cls, v: str) -> str:
        if not _VID_PID.match(v):
            raise ValueError(f"expected VVVV:PPPP with 4 lowercase hex digits each, got {v!r}")
        return v


class SimNetwork(Model):
    ssid: str = Field(min_length=1, max_length=32)
    security: Literal["none", "wpa-psk", "wpa-eap"] = "wpa-psk"
    psk: str | None = None
    hidden: bool = False
    channel: int = Field(6, ge=1, le=196)
    eap: Literal["peap", "ttls", "tls"] | None = None
    identity: str | None = None
    password: str | None = None
    bssid: str | None = None
    signal: int = Field(80, ge=0, le=100)
    #: sha256 fingerprint (hex, as `openssl x509 -fingerprint -sha256`) of the CA that
    #: signed the RADIUS server's certificate; a profile's ca-cert must be that CA
    ca_fingerprint: str | None = None


class HotspotConfig(Model):
    """The board as a hotspot (networking doc, "Creating a Hotspot") and the lab's test client."""

    ssid: str = Field("hil-hotspot", min_length=1, max_length=32)
    psk: str = Field(min_length=1)
    #: the lab host's WiFi interface that joins the board's hotspot (configured through
    #: NetworkManager on the lab host); sim boards use a simulated station instead
    client_interface: str | None = None


class SimWorld(Model):
    os_release: str = "2.113.4"
    hostname: str | None = None
    modems: list[SimModem] = []
    networks: list[SimNetwork] = []
    ethernet: bool = True


class LabProxy(Model):
    """The lab's proxy, as a board's `system-proxy/redsocks.conf` names it."""

    type: Literal["socks4", "socks5", "http-connect", "http-relay"] = "socks5"
    #: an IPv4 address: redsocks resolves `ip` once at start, a name is fragile
    ip: str
    port: int = Field(gt=0, lt=65536)
    login: str | None = None
    password: str | None = None
    #: the proxy's access log on the lab host (tinyproxy, squid or dante), read by
    #: the lab side to prove that a board's traffic went through the proxy
    log: str | None = None

    @field_validator("ip")
    @classmethod
    def _ipv4(cls, v: str) -> str:
        try:
            ipaddress.IPv4Address(v)
        except ValueError:
            raise ValueError(f"expected an IPv4 address, got {v!r}") from None
        return v


class LabConnectivity(Model):
    """An HTTP endpoint of the lab for NetworkManager's connectivity check
    (config.json `os.network.connectivity`)."""

    uri: str
    #: what the endpoint answers (the start of the body NetworkManager expects)
    response: str = "NetworkManager is online"

    @field_validator("uri")
    @classmethod
    def _http(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URI, got {v!r}")
        return v


class LabNetwork(Model):
    """What the lab's network offers its boards, and what the network suites
    may expect of it (the doc's "Network Requirements")."""

    #: a destination on outbound TCP 443 the boards must reach
    https_url: str = "https://api.balena-cloud.com/ping"
    #: the lab's own NTP servers, for config.json `ntpServers` (none: only the
    #: default pools are tested)
    ntp_servers: list[str] = []
    #: the lab's own DNS servers, for config.json `dnsServers`
    dns_servers: list[str] = []
    #: a name every resolver of the lab can answer
    lookup_name: str = "api.balena-cloud.com"
    proxy: LabProxy | None = None
    connectivity: LabConnectivity | None = None

    @field_validator("https_url")
    @classmethod
    def _https(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"expected an https:// URL, got {v!r}")
        return v

    @field_validator("dns_servers")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for server in v:
            try:
                ipaddress.ip_address(server)
            except ValueError:
                raise ValueError(f"expected IP addresses, got {server!r}") from None
        return v


FaultName = Annotated[str, Field(min_length=1)]


class SdMuxConfig(Model):
    """How the board's SD card reaches the lab host for flashing."""

    #: usbsdmux (Linux Automation USB-SD-Mux), sdwire (Tizen SDWire),
    #: block (a card reader or an image file standing in for the card)
    driver: Literal["usbsdmux", "sdwire", "block"]
    #: the block device (or image file) the host writes: use /dev/disk/by-id/... names
    device: str
    #: usbsdmux: its control device (/dev/sg0 or /dev/usb-sd-mux/id-...)
    control: str | None = None
    #: sdwire: the mux's serial
    serial: str | None = None

    @model_validator(mode="after")
    def _driver_fields(self) -> SdMuxConfig:
        if self.driver == "usbsdmux" and not self.control:
            raise ValueError("driver usbsdmux needs control (its /dev/sg* device)")
        if self.driver == "sdwire" and not self.serial:
            raise ValueError("driver sdwire needs serial")
        return self


class FlashConfig(Model):
    """Files injected into every image flashed onto this board."""

    connections: list[str] = []
    config_json: str | None = None
    redsocks_conf: str | None = None
    no_proxy: str | None = None
    dispatchers: list[str] = []
    #: seconds to wait for a shell after the board powers on with a new image
    boot_timeout: float = Field(300.0, gt=0)


class ReleaseImage(Model):
    release: str
    device_type: str
    path: str | None = None
    url: str | None = None
    bmap: str | None = None

    @model_validator(mode="after")
    def _source(self) -> ReleaseImage:
        if bool(self.path) == bool(self.url):
            raise ValueError("give exactly one of path or url")
        return self


class ReleaseCatalog(Model):
    """OS release x device type -> image: a directory, explicit entries, or both.

    In `dir`, images are found as `<device_type>-<release>.img` (with an
    optional `.bmap` beside them)."""

    dir: str | None = None
    images: list[ReleaseImage] = []


class FaultCommands(Model):
    """Shell commands that switch one lab fault on and off (run on the lab host)."""

    on: str
    off: str


class RouterConfig(Model):
    """The lab router between the board and the world: network faults become
    nftables rules in a table of its own, in the router's network namespace."""

    #: network namespace of the router on the lab host (None: the host itself)
    netns: str | None = None
    #: the board's address as the router sees it
    board_ip: str
    #: the lab proxy (`proxy-down` rejects it) and the connectivity-check host
    proxy: str | None = None
    connectivity_host: str | None = None


class ModemPortConfig(Model):
    """The hub port a modem sits in, for `modem-drops-off-bus` / `modem-reenumerates`."""

    location: str
    port: int


class LabSideConfig(Model):
    """What the lab can do to a physical board (the board's lab side)."""

    faults: dict[str, FaultCommands] = {}
    router: RouterConfig | None = None
    modem_power: ModemPortConfig | None = None

    @field_validator("faults")
    @classmethod
    def _known(cls, v: dict[str, FaultCommands]) -> dict[str, FaultCommands]:
        for name in v:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
        return v


class BoardConfig(Model):
    name: str
    device_type: str
    console: ConsoleConfig
    power: PowerConfig | None = None
    modems: list[ModemConfig] = []
    wifi: list[WifiConfig] = []
    hotspot: HotspotConfig | None = None
    #: a free address on the lab's wired network for the ethernet static-IP test
    #: (default: the doc's 192.168.1.111/24 via 192.168.1.1)
    ethernet_static: StaticAddressConfig | None = None
    faults: list[FaultName] = []
    os_release: str | None = None
    sim: SimWorld | None = None
    qemu: dict[str, object] | None = None
    sd_mux: SdMuxConfig | None = None
    lab_side: LabSideConfig | None = None
    flash: FlashConfig = FlashConfig()
    #: this board's network, when it differs from the lab's `network:`
    network: LabNetwork | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"expected letters, digits, '-', '_' or '.', got {v!r}")
        return v

    @field_validator("faults")
    @classmethod
    def _faults(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})")
        return v

    @model_validator(mode="after")
    def _sim_world(self) -> BoardConfig:
        if self.console.scheme == "sim" and self.sim is None:
            self.sim = SimWorld()
        if self.sim is not None:
            names = {m.name for m in self.sim.modems}
            for i, modem in enumerate(self.modems):
                if self.console.scheme == "sim" and modem.name not in names:
                    raise ValueError(
                        f"modems[{i}] {modem.name!r} is not plugged into the sim "
                        f"(sim.modems has: {', '.join(sorted(names)) or 'none'})"
                    )
        return self

    @property
    def is_sim(self) -> bool:
        return self.console.scheme == "sim"

    @property
    def is_shared_hardware(self) -> bool:
        """A board other runs may use too (a physical rig): it takes a rig lock.
        sim://, replay:// and qemu:// boards are served by the run that uses them."""
        return self.console.scheme in ("tty", "rfc2217", "socket")


class LabConfig(Model):
    name: str
    boards: list[BoardConfig] = Field(min_length=1)
    #: where rig locks live (shared between runs on the lab host)
    lock_dir: str | None = None
    #: OS release images for `hil flash` / `hil qualify`
    releases: ReleaseCatalog | None = None
    #: the lab's network services (proxy, NTP, DNS, connectivity endpoint)
    network: LabNetwork | None = None

    @model_validator(mode="after")
    def _unique_boards(self) -> LabConfig:
        seen: set[str] = set()
        for board in self.boards:
            if board.name in seen:
                raise ValueError(f"duplicate board name {board.name!r}")
            seen.add(board.name)
        return self

    def network_of(self, board: BoardConfig) -> LabNetwork:
        """The board's network: its own `network:`, else the lab's, else the defaults."""
        return board.network or self.network or LabNetwork()

    def board(self, name: str) -> BoardConfig:
        for b in self.boards:
            if b.name == name:
                return b
        raise KeyError(name)
