"""The proxy of balenaOS: `balena-proxy-config` (the REDSOCKS chain) and redsocks.

With `system-proxy/redsocks.conf` in the boot partition, `balena-proxy-config`
builds the nat chain REDSOCKS — the `no_proxy` lines first, then the private
ranges, then a DNAT of all other TCP to redsocks on 10.114.103.1:12345 — and
redsocks relays what arrives there to the proxy the file names. When
redsocks is not serving (a broken file, a `local_port` other than 12345), the
chain is bypassed and traffic goes direct (meta-balena's default failure
action), so a bad proxy file never cuts a device off.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from hil.sim.services.redsocks_conf import RedsocksConf, RedsocksConfError, parse_redsocks_conf

if TYPE_CHECKING:
    from hil.sim.services import Services

PROXY_DIR = "/mnt/boot/system-proxy"
REDSOCKS_CONF = f"{PROXY_DIR}/redsocks.conf"
NO_PROXY = f"{PROXY_DIR}/no_proxy"
REDSOCKS_ADDR, REDSOCKS_PORT = "10.114.103.1", 12345
EXEMPT = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


class Redsocks:
    """redsocks.service and balena-proxy-config.service of one board."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.world = services.world
        #: the REDSOCKS chain: (destination, target) rules; None when not installed
        self.chain: list[tuple[str, str]] | None = None
        self.bypassed = False
        self.conf: RedsocksConf | None = None
        self.state = "inactive"  # inactive | active | failed

    # -- balena-proxy-config ----------------------------------------------
    def configure(self) -> None:
        """`balena-proxy-config setup`: tear down, then build the chain if a proxy is set."""
        self.chain = None
        fs = self.world.fs
        if not fs.isfile(REDSOCKS_CONF):
            self.services.journal.log(
                "balena-proxy-config", "No proxy configuration found, skipping."
            )
            return
        rules: list[tuple[str, str]] = []
        if fs.isfile(NO_PROXY):
            self.services.journal.log(
                "balena-proxy-config", f"Noproxy configuration found in {NO_PROXY} ..."
            )
            for line in fs.read_text(NO_PROXY).splitlines():
                if line.strip():
                    rules.append((line.strip(), "RETURN"))
        rules += [(net, "RETURN") for net in EXEMPT]
        rules.append(("tcp", f"DNAT --to-destination {REDSOCKS_ADDR}:{REDSOCKS_PORT}"))
        self.chain = rules
        self.apply_redirect()

    def apply_redirect(self) -> None:
        """Engaged iff redsocks serves on the chain's port; else traffic goes direct."""
        serving = self.serving()
        if not serving and not self.bypassed and self.chain is not None:
            self.services.journal.log(
                "balena-proxy-config", "redsocks is not serving, sending traffic directly."
            )
        self.bypassed = not serving

    def serving(self) -> bool:
        if self.state != "active" or self.conf is None or self.conf.proxy is None:
            return False
        return self.conf.proxy.get("local_port") == REDSOCKS_PORT

    # -- redsocks.service ---------------------------------------------------
    def start(self) -> None:
        journal = self.services.journal
        fs = self.world.fs
        self.conf = None
        if not fs.isfile(REDSOCKS_CONF):
            self.state = "inactive"  # ConditionPathExists= not met
            return
        journal.start("redsocks")
        try:
            self.conf = parse_redsocks_conf(fs.read_text(REDSOCKS_CONF), resolve=self._resolve)
        except RedsocksConfError as e:
            journal.log("redsocks", str(e))
            journal.log(
                "redsocks.service", "Main process exited, code=exited, status=1/FAILURE", "systemd"
            )
            journal.log("redsocks.service", "Failed with result 'exit-code'.", "systemd")
            self.state = "failed"
        else:
            journal.log("redsocks", "redsocks started, conn_max=128")
            self.state = "active"
        self.apply_redirect()

    def stop(self) -> None:
        if self.state == "active":
            self.state = "inactive"
        self.apply_redirect()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _resolve(self, name: str) -> str | None:
        try:
            return self.services.dnsmasq.resolve(name)
        except Exception:
            return None

    # -- the path of one TCP connection ---------------------------------------
    def redirects(self, address: str) -> bool:
        """Whether the nat chain sends a TCP connection to `address` to redsocks."""
        if self.chain is None or self.bypassed:
            return False
        ip = ipaddress.IPv4Address(address)
        for dest, target in self.chain:
            if target != "RETURN":
                return True
            try:
                if ip in ipaddress.IPv4Network(dest, strict=False):
                    return False
            except ValueError:
                continue  # iptables refused this no_proxy line
        return True

    def iptables_rules(self) -> list[str]:
        """`iptables -t nat -S REDSOCKS`."""
        if self.chain is None:
            return []
        lines = ["-N REDSOCKS"]
        if self.bypassed:
            lines.append("-A REDSOCKS -p tcp -j RETURN")
        for dest, target in self.chain:
            if dest == "tcp":
                lines.append(f"-A REDSOCKS -p tcp -j {target}")
            else:
                net = dest if "/" in dest else f"{dest}/32"
                lines.append(f"-A REDSOCKS -d {net} -j {target}")
        return lines
