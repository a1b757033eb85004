"""The services of a simulated balenaOS board beyond NetworkManager.

`install(world)` adds them to the world: the journal, dnsmasq and its
upstreams, chronyd, the proxy (balena-proxy-config and redsocks), the
connectivity check, and `config-json.path` — a change of the boot
partition's config.json re-runs the services that read it, as on balenaOS.
The lab network beyond the board is `hil.sim.lab_net.LabNet`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hil.lab.models import LabNetwork
from hil.sim.lab_net import LabNet, NetFailure
from hil.sim.services.chrony import Chrony
from hil.sim.services.config_json import CONFIG_JSON, ConfigJsonError, ConfigVars, parse_config
from hil.sim.services.connectivity import Connectivity
from hil.sim.services.dnsmasq import RESOLV_CONF, Dnsmasq
from hil.sim.services.journal import Journal
from hil.sim.services.redsocks import Redsocks

if TYPE_CHECKING:
    from hil.sim.world import World

#: the units config-json.target restarts when config.json changes
CONFIG_JSON_UNITS = ["balena-net-config", "balena-ntp-config", "os-networkmanager", "dnsmasq"]


class Services:
    """The board's daemons and the lab network they talk to."""

    def __init__(self, world: World) -> None:
        self.world = world
        network = world.board.network or LabNetwork()
        self.lab = LabNet(world, network)
        self.journal = Journal()
        self.dnsmasq = Dnsmasq(self)
        self.chrony = Chrony(self)
        self.redsocks = Redsocks(self)
        self.connectivity = Connectivity(self)
        self.config: ConfigVars | None = None

    def now(self) -> float:
        """World seconds since boot."""
        return self.world.clock.uptime() / self.world.clock.scale

    # -- units ---------------------------------------------------------------
    def units(self) -> dict[str, tuple]:
        """unit → (start, stop, state) for systemctl."""
        oneshot = lambda: "active"  # noqa: E731 - RemainAfterExit=yes oneshots
        return {
            "dnsmasq": (
                self.dnsmasq.start,
                self.dnsmasq.stop,
                self._word(lambda: self.dnsmasq.running),
            ),
            "chronyd": (
                self.chrony.start,
                self.chrony.stop,
                self._word(lambda: self.chrony.running),
            ),
            "balena-net-config": (self.net_config, _nothing, oneshot),
            "balena-ntp-config": (self.ntp_config, _nothing, oneshot),
            "os-networkmanager": (self.nm_config, _nothing, oneshot),
            "balena-proxy-config": (self.redsocks.configure, _nothing, oneshot),
            "redsocks": (self.redsocks.start, self.redsocks.stop, lambda: self.redsocks.state),
        }

    @staticmethod
    def _word(running) -> object:
        return lambda: "active" if running() else "inactive"

    def read_config(self) -> ConfigVars | None:
        """config.json as balena-config-vars reads it; None (and a log line) when broken."""
        try:
            self.config = parse_config(self.world.fs.read_text(CONFIG_JSON))
        except (ConfigJsonError, Exception) as e:  # a missing file fails the same way
            self.journal.log("balena-config-vars", f"[ERROR] {e}")
            return None
        return self.config

    def net_config(self) -> None:
        config = self.read_config()
        if config is not None:
            self.dnsmasq.write_servers_file(config)

    def ntp_config(self) -> None:
        config = self.read_config()
        if config is not None:
            self.chrony.configure(config)

    def nm_config(self) -> None:
        config = self.read_config()
        if config is not None:
            self.connectivity.configure(config)

    def boot(self) -> None:
        """What systemd starts at boot, in dependency order."""
        self.journal.new_boot()
        if self.world.fault("state-not-persistent"):
            self._lose_state()
        self.world.fs.write(RESOLV_CONF, "nameserver 127.0.0.2\noptions timeout:15\n")
        self.dnsmasq.boot()
        self.connectivity.install_base_config()
        self.net_config()
        self.dnsmasq.start()
        self.ntp_config()
        self.chrony.start()
        self.nm_config()
        self.redsocks.state = "inactive"
        self.redsocks.configure()
        self.redsocks.start()

    def _lose_state(self) -> None:
        """The state partition did not persist: the overlay starts empty, and only
        the boot partition's connections are copied in again."""
        from hil.sim.world import OVERLAY_CONNECTIONS

        fs = self.world.fs
        for path in fs.files_under(OVERLAY_CONNECTIONS):
            fs.remove(path)
        self.world._copy_boot_connections()

    def config_json_changed(self, _path: str) -> None:
        """config-json.path: re-run the services of config-json.target."""
        if self.read_config() is None:
            return
        self.net_config()
        self.dnsmasq.stop()
        self.dnsmasq.start()
        self.ntp_config()
        self.nm_config()

    # -- the board's network stack ------------------------------------------
    def resolve(self, name: str) -> str | None:
        """A lookup through /etc/resolv.conf (dnsmasq on 127.0.0.2)."""
        return self.dnsmasq.resolve(name)

    def connect(self, address: str, port: int, iface: str | None = None) -> str:
        """One outbound TCP connection: through redsocks when the nat chain sends
        it there, else direct. Returns "proxy" or "direct"; NetFailure if it fails."""
        if iface is None and self.redsocks.redirects(address):
            conf = self.redsocks.conf
            assert conf is not None and conf.proxy is not None
            proxy = conf.proxy
            self.lab.relay(
                str(proxy.get("ip", "0.0.0.0")),
                int(proxy.get("port", 0)),  # type: ignore[call-overload]
                str(proxy.get("type")),
                proxy.get("login"),  # type: ignore[arg-type]
                proxy.get("password"),  # type: ignore[arg-type]
                address,
                port,
                transparent=True,
            )
            return "proxy"
        self.lab.direct(address, port, iface)
        return "direct"


def _nothing() -> None:
    return None


def install(world: World) -> Services:
    """Add the services to `world` (its units, hooks and the connectivity check)."""
    services = Services(world)
    world.subsystems["services"] = services
    world.subsystems["connectivity"] = services.connectivity.check
    for unit, (start, stop, state) in services.units().items():
        world.services[unit] = (start, stop)
        world.service_probes[unit] = lambda state=state: state() == "active"
        world.service_states[unit] = state
    world.boot_hooks.append(lambda w: services.boot())
    world.fs.watch(CONFIG_JSON, services.config_json_changed)
    return services


__all__ = ["NetFailure", "Services", "install"]
