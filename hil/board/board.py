"""What a suite talks to: a board's console, lab side and facts.

Suites never know which tier they run on; this is the layer that does. It
starts sim boards on demand (`sim://`) and boards replayed from a recording
(`replay://`, served like sim boards) and virtual rigs (`qemu://`), and hands out shells whose
transcripts are the evidence attached to every test.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hil.board.labnet import ProxyLogReader
from hil.board.labside import (
    LAB_SIDE_RECORD,
    FaultUnsupported,
    LabSide,
    NoLabSide,
    ProxyLog,
    RecordedProxyLog,
    SimLabSide,
    SimProxyLog,
)
from hil.board.lock import RigLock
from hil.board.wifi_client import (
    HostWifiClient,
    RecordedWifiClient,
    RecordingWifiClient,
    SimWifiClient,
    VrigWifiClient,
    WifiClient,
)
from hil.console import ShellSession, open_shell
from hil.lab.models import BoardConfig, LabConfig, LabNetwork
from hil.usb.board import BoardUsb


class Board:
    """One board of the lab."""

    #: where this run records the board (transcripts, board.yaml, lab-side answers)
    recording_dir: Path | None = None
    #: a reboot the board is owed and why (`owe_reboot`): paid by the next reboot or
    #: power cycle, else by the next shell opened (`open_shell`) unless `folds_reboot`
    reboot_owed: str | None = None
    #: the running test reboots the board itself first (its boot-partition case's
    #: apply reboot, marker `boot_case`): what is owed is folded into that reboot
    folds_reboot: bool = False
    #: owed reboots are allowed: this process runs every later test of the board (not
    #: so in an xdist worker, which may get only some of them)
    batch_reboots: bool = True

    def __init__(self, lab: LabConfig, config: BoardConfig) -> None:
        self.lab_config = lab
        self.config = config
        self.name = config.name
        self._endpoint = None
        self.lab: LabSide = self._make_lab_side()

    @property
    def is_replay(self) -> bool:
        """Served from a recording (`replay://`): a sim board's lab side, recorded answers."""
        return self.config.console.scheme == "replay"

    def _make_lab_side(self) -> LabSide:
        if self.config.is_sim or self.is_replay:
            return SimLabSide(self.name, self.sim_endpoint)
        if self.config.console.scheme == "qemu":  # the lab inside the virtual board's guest
            from hil.board.vrig_faults import VrigLabSide
            from hil.vrig.server import control

            return VrigLabSide(self.name, lambda: control(self.lab_config, self.name))
        if self.config.lab_side is not None:
            from hil.board.rig_faults import RigLabSide

            return RigLabSide(self.name, self.config.lab_side)
        return NoLabSide(self.name)

    @functools.cached_property
    def sim_endpoint(self):
        if self.is_replay:
            from hil.repro.replay import endpoint as replay_endpoint

            return replay_endpoint(self.lab_config, self.name)
        from hil.sim.server import endpoint

        return endpoint(self.lab_config, self.name)

    @functools.cached_property
    def _recorded_proxy_log(self) -> RecordedProxyLog:
        """One per board for the whole replay: its answers are given back once each."""
        return RecordedProxyLog(self.name, self._recording_folder() / LAB_SIDE_RECORD)

    def proxy_log(self) -> ProxyLog:
        """What the lab's proxy relayed: the sim's proxy model, the proxy in a virtual
        board's lab (over its lab line), or the proxy's access log on the lab host
        (`network.proxy.log`)."""
        if self.is_replay:
            return self._recorded_proxy_log
        if self.config.is_sim:
            record = self.recording_dir / LAB_SIDE_RECORD if self.recording_dir else None
            return SimProxyLog(self.sim_endpoint, record)
        if self.config.console.scheme == "qemu":  # the proxy inside the guest's lab
            from hil.board.vrig_faults import VrigLabSide, VrigProxyLog

            assert isinstance(self.lab, VrigLabSide)
            record = self.recording_dir / LAB_SIDE_RECORD if self.recording_dir else None
            return VrigProxyLog(self.lab, record)
        proxy = self.network.proxy
        if proxy is None or not proxy.log:
            raise FaultUnsupported(
                f"{self.name}: the lab config names no proxy log (network.proxy.log)"
            )
        return ProxyLogReader(proxy.log)

    @property
    def network(self) -> LabNetwork:
        """The lab network this board sits in (its own `network:`, else the lab's)."""
        return self.lab_config.network_of(self.config)

    @property
    def device_type(self) -> str:
        return self.config.device_type

    def console_target(self) -> str:
        """What the console layer opens: the pty of a sim or replay board, else the url."""
        if self.config.is_sim or self.is_replay:
            return self.sim_endpoint.pty
        if self.config.console.scheme == "qemu":  # a virtual rig: booted on demand
            from hil.vrig.server import endpoint

            return endpoint(self.lab_config, self.name)
        return self.config.console.url

    def open_shell(
        self, transcript: str | Path | None = None, timeout: float | None = None
    ) -> ShellSession:
        c = self.config.console
        if self.is_replay and transcript:
            # the test's own recorded answers first: its transcript has the same name
            self.sim_endpoint.request(op="scope", name=Path(transcript).stem)
        session = open_shell(
            self.console_target(),
            baudrate=c.baudrate,
            username=c.username,
            password=c.password,
            transcript=str(transcript) if transcript else None,
            name=self.name,
            timeout=timeout or c.login_timeout,
            port_timeout=c.port_timeout,
            flow_control=c.flow_control,
            exclusive=c.exclusive,
        )
        if self.is_replay:
            from hil.console.replay import guard

            guard(session)
        if self.reboot_owed and not self.folds_reboot:
            self.pay_reboot(session)
        return session

    def reboot_later(self, shell: ShellSession, why: str) -> None:
        """A reboot the board needs before another test: owed (`owe_reboot`) where this
        process runs the board's next tests, else now (`batch_reboots` off)."""
        if self.batch_reboots:
            self.owe_reboot(why)
        else:
            shell.transcript.note(f"reboot now: {why}")
            self.reboot(shell)

    def owe_reboot(self, why: str) -> None:
        """Leave a reboot for later: the next reboot pays it (a boot-partition case's
        apply reboot also undoes the previous case), else the next shell opened for a
        test that does not reboot first (`open_shell`), else the run's end."""
        self.reboot_owed = why

    def pay_reboot(self, shell: ShellSession) -> None:
        """The owed reboot, now (its reason in the transcript)."""
        if self.reboot_owed:
            shell.transcript.note(f"reboot owed by an earlier test: {self.reboot_owed}")
            self.reboot(shell)

    @functools.cached_property
    def power(self):
        """The board's power driver (the lab config's `power.driver`)."""
        from hil.power import make_driver

        simulated = self.config.is_sim or self.is_replay
        config = self.config.power
        if config is None and self.config.console.scheme == "qemu":
            from hil.board.vrig_faults import VrigLabSide, VrigPower

            assert isinstance(self.lab, VrigLabSide)
            return VrigPower(self.lab)
        if config is None and simulated:
            from hil.lab.models import PowerConfig

            config = PowerConfig(driver="sim")
        return make_driver(self.name, config, self.sim_endpoint if simulated else None)

    def lock(self) -> RigLock:
        """This board's rig lock (not taken yet)."""
        return RigLock(self.lab_config.name, self.name, self.lab_config.lock_dir)

    def power_cycle(self, wait: bool = True, timeout: float | None = None) -> None:
        """Cycle the power; with `wait`, until the console answers at a shell again
        (USB-serial adapters vanish while the board is off: the port is waited for)."""
        self.power.cycle()
        self.reboot_owed = None  # a power cycle is a reboot
        if wait:
            self.open_shell(timeout=timeout).close()

    def reboot(self, shell: ShellSession, timeout: float | None = None) -> str:
        """`reboot` from `shell`, logged in again in the new boot (within `timeout`,
        default the console's `login_timeout`); the new boot id. Raises
        `DidNotReboot` when the boot id did not change (a reboot that did not happen
        must not let a test check the old boot's state)."""
        from hil.board.reboot import reboot

        # a simulated board is down and up again before its `reboot` returns
        later = not self.config.is_sim
        boot = reboot(shell, self.name, timeout or self.config.console.login_timeout, later)
        self.reboot_owed = None
        return boot

    def usb(self, shell: ShellSession) -> BoardUsb:
        """The board's USB devices over `shell`: modems by `usb_path`, modes, `wait_for`."""
        return BoardUsb(shell, self.name)

    @functools.cached_property
    def _recorded_wifi_client(self) -> RecordedWifiClient:
        """One per board for the whole replay: its answers are given back once each."""
        return RecordedWifiClient(self.name, self._recording_folder() / LAB_SIDE_RECORD)

    def _recording_folder(self) -> Path:
        from hil.repro.replay import recording_path

        where = Path(recording_path(self.config.console.url))
        return where if where.is_dir() else where.parent

    def wifi_client(self) -> WifiClient | None:
        """The lab's WiFi test client for this board's hotspot (None: the lab has none);
        in a recorded run its answers are recorded, in a replay given back."""
        if self.is_replay:
            return self._recorded_wifi_client
        client: WifiClient | None = None
        hotspot = self.config.hotspot
        if self.config.is_sim:
            client = SimWifiClient(self.sim_endpoint)
        elif hotspot and self.config.console.scheme == "qemu":  # the guest lab's station
            from hil.board.vrig_faults import VrigLabSide

            assert isinstance(self.lab, VrigLabSide)
            client = VrigWifiClient(self.name, self.lab.ask)
        elif hotspot and hotspot.client_interface:
            client = HostWifiClient(hotspot.client_interface)
        if client is not None and self.recording_dir is not None:
            client = RecordingWifiClient(client, self.recording_dir / LAB_SIDE_RECORD)
        return client

    def capabilities(self) -> set[str]:
        """What this board offers to suites (for `@pytest.mark.needs`)."""
        caps = {"console", "ethernet"}
        if self.config.modems:
            caps.add("modem")
        if self.config.wifi:
            caps.add("wifi")
        if self.config.hotspot:
            caps.add("hotspot")
        net = self.network
        for cap, present in (
            ("proxy", net.proxy),
            ("ntp-servers", net.ntp_servers),
            ("dns-servers", net.dns_servers),
            ("connectivity-endpoint", net.connectivity),
        ):
            if present:
                caps.add(cap)
        return caps
