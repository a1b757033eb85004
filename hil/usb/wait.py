"""What `wait_for` waits for, shared by the lab host (pyudev) and the board (udevadm)."""

from __future__ import annotations

from hil.errors import HarnessError
from hil.usb.match import Match, MatchReport
from hil.usb.model import Mode, UsbDevice


class WaitTimeout(HarnessError):
    """The device did not reach the awaited state in time; says what was seen."""


def satisfied(report: MatchReport, mode: Mode | None, gone: bool) -> tuple[bool, UsbDevice | None]:
    """Whether the awaited state holds, and the device that satisfies it."""
    if gone:
        return (not report.devices, None)
    for device in report.devices:
        if device.complete and (mode is None or device.mode == mode):
            return True, device
    return False, None


def describe_wait(
    match: Match,
    mode: Mode | None,
    gone: bool,
    timeout: float,
    report: MatchReport,
    history: list[str],
) -> str:
    """One paragraph: what was awaited, what is there now, which events came."""
    want = "to disappear" if gone else f"in {mode} mode" if mode else "to appear"
    if report.devices:
        now = "now: " + ", ".join(d.describe() for d in report.devices)
    else:
        now = "now: " + report.explain()
    events = f"; events seen: {', '.join(history[-12:])}" if history else "; no udev event for it"
    return f"waited {timeout:g}s for {match} {want}; {now}{events}"
