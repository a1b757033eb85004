"""A board's USB devices, read over its console into the same model as the lab host's.

The facts come from `udevadm info` on the board's USB devices, ttys, network
interfaces and cdc-wdm ports (a full `--export-db` is the fallback: it can
be 100 kB, 10 s at 115200 baud), and `lsusb` for the names. Waiting listens to
`udevadm monitor`: each wait step blocks on the board until the next kernel
event of a USB device, then lets udev settle and reads the port again.
"""

from __future__ import annotations

import time
from typing import Protocol

from hil.errors import HarnessError
from hil.lab.models import ModemConfig
from hil.probes.lsusb import LsusbEntry, parse_lsusb
from hil.probes.udevadm import UdevParseError, UdevRecord, parse_export_db, parse_monitor
from hil.usb.match import Match, MatchReport, NoMatch, match_usb
from hil.usb.model import Mode, UdevTree, UsbDevice
from hil.usb.wait import WaitTimeout, describe_wait, satisfied

#: the devices the model needs, listed by sysfs (only existing paths reach udevadm)
INFO_COMMAND = (
    "udevadm info $(ls -d /sys/bus/usb/devices/* /sys/class/tty/ttyUSB* /sys/class/tty/ttyACM* "
    "/sys/class/net/* /sys/class/usbmisc/* 2>/dev/null)"
)
EXPORT_COMMAND = "udevadm info --export-db"
#: one wait step: block until the next kernel event of a USB device (its UDEV twin
#: follows at once, so udevadm meets the closed pipe and exits right after grep)
MONITOR_COMMAND = (
    "timeout {seconds} udevadm monitor --kernel --udev --subsystem-match=usb/usb_device "
    "| grep -m 1 -E '^KERNEL\\['"
)
SETTLE_COMMAND = "udevadm settle --timeout={seconds}"
#: a wait step never blocks longer than this: events in the short gap between two
#: steps are not lost for long (the port is read again after every step)
STEP_MAX = 5.0


class Shell(Protocol):
    """What the board side needs of a console shell (`hil.console.ShellSession`)."""

    def run(self, command: str, timeout: float = ...):  # -> result with .output, .exit_code
        ...


class BoardUsb:
    """USB devices of a board, through its console shell."""

    def __init__(self, shell: Shell, board: str = "board") -> None:
        self.shell = shell
        self.board = board

    def _run(self, command: str, timeout: float = 60.0) -> tuple[str, int]:
        r = self.shell.run(command, timeout=timeout)
        return r.output, r.exit_code

    def records(self) -> list[UdevRecord]:
        output, status = self._run(INFO_COMMAND)
        try:
            records = parse_export_db(output, source=f"{self.board}: udevadm info")
        except UdevParseError:
            records = []
        if status != 0 or not records:
            output, status = self._run(EXPORT_COMMAND, timeout=120.0)
            if status != 0:
                raise HarnessError(
                    f"{self.board}: `{EXPORT_COMMAND}` failed ({status}): {output.strip()[:200]}"
                )
            records = parse_export_db(output, source=f"{self.board}: {EXPORT_COMMAND}")
        return records

    def tree(self) -> UdevTree:
        return UdevTree(self.records())

    def devices(self) -> list[UsbDevice]:
        return self.tree().usb_devices()

    def lsusb(self) -> list[LsusbEntry]:
        output, _ = self._run("lsusb")
        return parse_lsusb(output)

    def report(self, match: Match | dict[str, str] | str) -> MatchReport:
        return match_usb(self.tree(), Match.of(match), source=f"board {self.board}")

    def find(self, match: Match | dict[str, str] | str) -> UsbDevice:
        return self.report(match).one()

    def modem(self, modem: ModemConfig) -> UsbDevice:
        """A modem of the lab config: the USB device at its `usb_path`, whatever its ids."""
        try:
            return self.find(modem.usb_path)
        except NoMatch as e:
            raise NoMatch(f"{self.board}: modem {modem.name} ({modem.model}): {e}") from None

    def wait_for(
        self,
        match: Match | dict[str, str] | str,
        mode: Mode | None = None,
        timeout: float = 30.0,
        gone: bool = False,
    ) -> UsbDevice | None:
        """Block until the matched device is present (in `mode`, if given), or gone.

        Each step waits on the board for the next USB kernel event (at most
        `STEP_MAX` seconds), lets udev settle, and reads the port again."""
        match = Match.of(match)
        deadline = time.monotonic() + timeout
        history: list[str] = []
        report = self.report(match)
        while True:
            done, result = satisfied(report, mode, gone)
            if done:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(
                    f"{self.board}: " + describe_wait(match, mode, gone, timeout, report, history)
                )
            step = max(1, min(int(remaining + 0.999), int(STEP_MAX)))
            output, _ = self._run(MONITOR_COMMAND.format(seconds=step), timeout=step + 15)
            events = parse_monitor(output)
            history.extend(f"{e.action} {e.sys_name}" for e in events if e.source == "KERNEL")
            if events:
                self._run(SETTLE_COMMAND.format(seconds=10), timeout=20)
            report = self.report(match)
