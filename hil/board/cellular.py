"""A lab modem seen through a board's console: ModemManager and NetworkManager steps.

Everything goes through the machine outputs (`mmcli -K`, `nmcli -t`, `ip -j`)
and the parsers of `hil.probes`; waits are bounded polls sized by the lab
config's `timeout` for the modem, so a simulated board resolves them in a
fraction of a second and a real one gets its minute. Failures raise
`CellularError` with ModemManager's or NetworkManager's own words.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, field

from hil.console import ShellSession
from hil.lab.models import LabNetwork, ModemConfig
from hil.probes.mmcli import (
    Bearer,
    MmcliParseError,
    Modem,
    parse_bearer,
    parse_error,
    parse_modem,
    parse_modem_list,
)

NMCLI = "nmcli --colors no"
CONNECTIONS = "/etc/NetworkManager/system-connections"
BOOT_CONNECTIONS = "/mnt/boot/system-connections"


class CellularError(AssertionError):
    """The modem did not do what the qualification expects (a failed verdict)."""


def usb_port(path: str | None) -> str | None:
    """The hub port chain of an ID_PATH (`...-usb-0:1.3` → `1.3`) or a sysfs
    device path (`/sys/.../usb1/1-1.3` → `1.3`): how a modem is matched to its port."""
    if not path:
        return None
    m = re.search(r"-usb-\d+:([\d.]+)$", path) or re.search(r"/\d+-([\d.]+)$", path)
    return m[1] if m else None


@dataclass
class Cellular:
    shell: ShellSession
    config: ModemConfig
    #: the lab network's services (the HTTPS URL and name data must reach)
    network: LabNetwork = field(default_factory=LabNetwork)

    @property
    def interval(self) -> float:
        return max(0.02, min(1.0, self.config.timeout / 100))

    def run(self, command: str, timeout: float | None = None):
        return self.shell.run(command, timeout=timeout or self.config.timeout + 30)

    # -- ModemManager ------------------------------------------------------
    def modems(self) -> list[Modem]:
        listed = parse_modem_list(self.run("mmcli -L -K").output)
        found = []
        for index in listed.indices:
            r = self.run(f"mmcli -m {index} -K")
            if r.exit_code == 0:
                try:
                    found.append(parse_modem(r.output))
                except MmcliParseError:
                    continue  # gone between the list and the look
        return found

    def at_port(self) -> Modem | None:
        """The modem ModemManager exports for the configured USB port, if any."""
        port = usb_port(self.config.usb_path)
        for modem in self.modems():
            if port is None or usb_port(modem.device) == port:
                return modem
        return None

    def find(self) -> Modem:
        """Wait (bounded) until ModemManager exports the modem at its port."""
        deadline = time.monotonic() + self.config.timeout
        while True:
            modem = self.at_port()
            if modem is not None:
                return modem
            if time.monotonic() >= deadline:
                others = ", ".join(f"{m.model} at {m.device}" for m in self.modems())
                raise CellularError(
                    f"ModemManager exports no modem at USB port {self.config.usb_path} after "
                    f"{self.config.timeout:g} s (`mmcli -L`: {others or 'No modems were found'})"
                )
            time.sleep(self.interval)

    def refresh(self, modem: Modem) -> Modem | None:
        r = self.run(f"mmcli -m {modem.index} -K")
        return parse_modem(r.output) if r.exit_code == 0 else None

    def wait_state(
        self,
        modem: Modem,
        states: set[str],
        what: str,
        early: frozenset[str] | set[str] = frozenset({"failed", "locked"}),
    ) -> Modem:
        """Poll until the modem is in one of `states`; fail early on `failed`/`locked`
        (the `early` states)."""
        deadline = time.monotonic() + self.config.timeout
        current: Modem | None = modem
        while True:
            current = self.refresh(current) if current else None
            if current is None:
                raise CellularError(f"modem {modem.index} left ModemManager while {what}")
            if current.state in states:
                return current
            if current.state in early:
                raise CellularError(f"modem {current.index}: {what}: {current.describe_state()}")
            if time.monotonic() >= deadline:
                reg = current.registration_state or "--"
                raise CellularError(
                    f"modem {current.index}: {what}: still {current.describe_state()} after "
                    f"{self.config.timeout:g} s (registration: {reg})"
                )
            time.sleep(self.interval)

    def unlock(self, modem: Modem) -> Modem:
        """Send the lab's PIN once — never the last try, which would ask for the PUK."""
        if modem.state != "locked":
            return modem
        tries = modem.unlock_retries.get(modem.unlock_required or "", 0)
        if not self.config.pin:
            raise CellularError(
                f"modem {modem.index}: {modem.describe_state()}; lab config has no pin"
            )
        if modem.unlock_required != "sim-pin" or tries <= 1:
            raise CellularError(
                f"modem {modem.index}: {modem.describe_state()}; not risking the SIM"
            )
        r = self.run(f"mmcli -i {modem.sim_index} --pin={shlex.quote(self.config.pin)}")
        if r.exit_code != 0:
            err = parse_error(r.output)
            raise CellularError(
                f"modem {modem.index}: {modem.describe_state()}; the lab's PIN was refused: "
                f"{err.message if err else r.output.strip()}"
            )
        return self.refresh(modem) or modem

    def registered(self) -> Modem:
        """Find the modem, unlock the SIM, enable it, wait for the registration."""
        modem = self.unlock(self.find())
        if modem.state in ("locked", "initializing", "unknown"):
            # unlocked: ModemManager initializes the modem anew before it can be enabled
            modem = self.wait_state(
                modem, {"disabled", "enabling", "enabled", "searching", "registered",
                        "connected"}, "initializing after the PIN", early={"failed"},
            )  # fmt: skip
        if modem.state == "failed":
            raise CellularError(f"modem {modem.index}: {modem.describe_state()}")
        if modem.state == "disabled":
            r = self.run(f"mmcli -m {modem.index} -e")
            if r.exit_code != 0:
                err = parse_error(r.output)
                raise CellularError(f"modem {modem.index}: {err or r.output.strip()}")
        return self.wait_state(modem, {"registered", "connected"}, "registering")

    def bearer(self, modem: Modem) -> Bearer | None:
        """The modem's connected bearer (`mmcli -b N -K`), else its last one."""
        last = None
        for index in modem.bearer_indices:
            r = self.run(f"mmcli -b {index} -K")
            if r.exit_code == 0:
                last = parse_bearer(r.output)
                if last.connected:
                    return last
        return last

    # -- NetworkManager ------------------------------------------------------
    def up(self, connection: str) -> None:
        r = self.run(f"{NMCLI} connection up {shlex.quote(connection)}")
        if r.exit_code != 0:
            reason = r.output.strip().splitlines()[0] if r.output.strip() else f"exit {r.exit_code}"
            raise CellularError(f"nmcli connection up {connection}: {reason}")

    def wait_nm_connected(self, device: str) -> None:
        """NetworkManager's side: the modem's device reaches `100 (connected)`."""
        deadline = time.monotonic() + self.config.timeout
        while True:
            state = self.run(f"{NMCLI} -g GENERAL.STATE device show {device}").output.strip()
            if state.startswith("100"):
                return
            if time.monotonic() >= deadline:
                raise CellularError(f"NetworkManager device {device}: {state or 'absent'}")
            time.sleep(self.interval)

    def ip_interface(self, device: str) -> str:
        """The interface IP runs over for the modem's NetworkManager device: its net port,
        or for a PPP modem the `pppN` that pppd made on its serial port (ModemManager's
        bearer names the serial port)."""
        return self.run(f"{NMCLI} -g GENERAL.IP-IFACE device show {device}").output.strip()

    def forget(self, connection: str, filename: str) -> None:
        """Remove a test's connection everywhere it may be (overlay, boot partition)."""
        self.run(f"{NMCLI} connection delete {shlex.quote(connection)}")
        self.run(f"rm -f {BOOT_CONNECTIONS}/{filename} {CONNECTIONS}/{filename}")
