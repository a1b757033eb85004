"""A lab's usb_modeswitch rule for a modem the board's database does not know.

The networking doc warns that some modems need a usb_modeswitch configuration
the OS does not ship. balenaOS's /etc takes no usb_modeswitch.d file, but
config.json's `os.udevRules` (name → rule) becomes /etc/udev/rules.d/NAME.rules
at every boot; so the lab's configuration (`modeswitch_config`) becomes one
udev rule that runs usb_modeswitch with it (`hil.usb.modeswitch.udev_rule_for`),
or the lab gives the rule itself (`udev_rule`). The rule goes into config.json
through `hil.board.files` (merged on the board, checksummed); it takes effect
at the next boot. `hil flash` provisions the rules with the image
(`hil.usb.modeswitch.lab_udev_rules`), so a flashed board needs no reboot here.

What usb_modeswitch did is read back from its report on the board
(`/var/log/usb_modeswitch_<device>`: the dispatcher's log with `EnableLogging=1`,
or the lab rule's own `-W` output) and compared with the entry it should have
used (`switch_problem`).
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from hil.board.files import write_boot_files
from hil.bootfs.layout import BootFile
from hil.console import ShellSession
from hil.lab.models import ModemConfig
from hil.probes.usb_modeswitch import (
    PROCEDURES,
    ModeswitchReport,
    ModeswitchReportError,
    parse_report,
)
from hil.usb.modeswitch import REPORT_PREFIX, LabRule, ModeswitchEntry, lab_rule

if TYPE_CHECKING:
    from hil.board.board import Board

__all__ = [
    "LabRule",
    "ensure",
    "installed",
    "lab_rule",
    "read_report",
    "report_path",
    "switch_problem",
    "write",
]


def installed(shell: ShellSession, rule: LabRule) -> bool:
    """Whether the board runs with the rule now (installed from config.json at boot)."""
    r = shell.run(f"cat {shlex.quote(rule.path)}", timeout=15)
    return r.exit_code == 0 and r.output.strip() == rule.text


def write(shell: ShellSession, rule: LabRule) -> None:
    """Merge the rule into the boot partition's config.json (effective after a reboot)."""
    patch = {"os": {"udevRules": {rule.name: rule.text}}}
    write_boot_files(shell, [BootFile("config.json", json.dumps(patch).encode(), merge_json=True)])


def ensure(board: Board, shell: ShellSession, modem: ModemConfig) -> bool:
    """Make the board run with the lab's rule for `modem`: if it is not installed,
    write it and reboot (`Board.reboot`: logged in again on the same console, in a
    new boot). True if it rebooted."""
    rule = lab_rule(board.name, modem)
    if rule is None or installed(shell, rule):
        return False
    write(shell, rule)
    board.reboot(shell)
    return True


def report_path(sys_name: str) -> str:
    """Where the board keeps usb_modeswitch's report of the device at `sys_name` (1-1.3)."""
    return f"{REPORT_PREFIX}{sys_name}"


def read_report(shell: ShellSession, sys_name: str) -> ModeswitchReport | None:
    """usb_modeswitch's last report of the device at `sys_name`, None if the board kept
    none (the dispatcher logs only with EnableLogging=1 in /etc/usb_modeswitch.conf)."""
    r = shell.run(f"cat {report_path(sys_name)}", timeout=15)
    if r.exit_code != 0:
        return None
    try:
        return parse_report(r.output)
    except ModeswitchReportError:
        return None


def switch_problem(report: ModeswitchReport, entry: ModeswitchEntry, source: str) -> str:
    """'' when usb_modeswitch's run switched the device of `entry` the entry's way
    (its ids, its method, its message); else what differs. `source` names where
    the entry comes from ("usb-modeswitch-data's entry", "the lab's configuration")."""
    ids = entry.vid_pid
    if report.default_id != ids:
        return f"usb_modeswitch's last report is about {report.default_id}, not {ids}"
    if not report.found_device:
        return (
            f"usb_modeswitch's run for {ids} found no device in default mode: something "
            f"else switched the modem before it (another rule or setting for {ids})"
        )
    used = report.method or "no method"
    said = [line for line, method in PROCEDURES.items() if method in report.procedures]
    if said:
        used += f" (it printed {', '.join(repr(s) for s in said)})"
    where = f" from {report.config}" if report.config else ""
    if report.override:
        where += " (override folder)"
    if report.method != entry.method:
        return f"usb_modeswitch switched {ids} by {used}{where}; {source} says {entry.method}"
    if entry.method == "MessageContent" and report.message_contents[:1] != (entry.message_content,):
        sent = report.message_contents[0] if report.message_contents else "none"
        return (
            f"usb_modeswitch sent {ids} the message {sent}{where}; {source}'s is "
            f"{entry.message_content}"
        )
    wanted, told = set(entry.target_products), set(report.target_products)
    if entry.target_vendor and report.target_vendor not in (None, entry.target_vendor):
        return (
            f"usb_modeswitch was told target vendor {report.target_vendor}{where}; {source} "
            f"says {entry.target_vendor}"
        )
    if wanted and told and told != wanted:
        return (
            f"usb_modeswitch was told targets {sorted(told)}{where}; {source} says {sorted(wanted)}"
        )
    return ""
