"""usb_modeswitch qualification (networking doc, "Cellular Modem Setup"), per board and
per modem of the lab config.

The modem must sit at its configured port (`usb_path`, udev's ID_PATH: the
physical port, whatever its ids) in modem mode — serial, QMI, MBIM or NCM
interfaces with their drivers, ttys and net interfaces — never stuck in
USB mass-storage mode. If usb_modeswitch had to switch it (the kernel log
shows another id at that port first), the switch must be the one
usb-modeswitch-data's entry describes: the entry's target vendor and one of
its target products (or the modem-mode id the lab config names), with the
entry's method — read back from usb_modeswitch's own report on the board
(`/var/log/usb_modeswitch_<device>`: its dispatcher's log, or the lab rule's
`-W` output): the config it used, the mode keyword or message it was given,
the procedure it ran. The doc warns that some modems are unknown to
usb_modeswitch: for those the lab config supplies a usb_modeswitch
configuration or a udev rule, applied as config.json's `os.udevRules`
(`hil.board.modeswitch`), and the suite checks it took effect and holds
across a reboot.
"""

from __future__ import annotations

import pytest

from hil.board import Board, modeswitch
from hil.console import ShellSession
from hil.lab.models import ModemConfig
from hil.probes.dmesg import ids_at, parse_usb_events
from hil.usb.board import BoardUsb
from hil.usb.match import NoMatch
from hil.usb.model import UsbDevice
from hil.usb.modeswitch import ModeswitchDb, ModeswitchEntry, stuck_in_storage
from hil.usb.wait import WaitTimeout

STUCK = "modem-stuck-in-storage-mode"
WRONG_METHOD = "modeswitch-wrong-method"


@pytest.fixture(scope="session")
def db() -> ModeswitchDb:
    """usb-modeswitch-data on the lab host: what the board's usb_modeswitch knows."""
    return ModeswitchDb.load()


@pytest.fixture
def usb(board: Board, shell: ShellSession, modem: ModemConfig) -> BoardUsb:
    """The board's USB devices; a modem the database does not know gets the lab's
    rule first (installed from config.json at boot: `hil flash` provisions it;
    a board flashed otherwise gets it written and one reboot, once)."""
    modeswitch.ensure(board, shell, modem)
    return board.usb(shell)


def in_modem_mode(usb: BoardUsb, modem: ModemConfig, db: ModeswitchDb) -> UsbDevice:
    """The device at the modem's port once it is in modem mode (a bounded wait); one
    still in storage mode fails with what usb_modeswitch should have made of it."""
    try:
        found = usb.wait_for(modem.usb_path, mode="modem", timeout=modem.timeout)
    except WaitTimeout as timeout:
        try:
            device = usb.modem(modem)
        except NoMatch as gone:
            pytest.fail(str(gone))
        problem = stuck_in_storage(device, db)
        rule = modeswitch.lab_rule(usb.board, modem)
        if problem is None and device.mode == "storage" and rule is not None:
            pytest.fail(
                f"{modem.name}: stuck in storage mode as {device.vid_pid} at "
                f"{modem.usb_path} with the lab's rule in place ({rule.path}: {rule.text})"
            )
        pytest.fail(f"{modem.name}: {problem}" if problem else str(timeout))
    assert found is not None
    # the port may have been read while the kernel was still adding its interfaces:
    # once udev's queue is empty, read it again
    usb.shell.run("udevadm settle --timeout=10", timeout=30)
    device = usb.modem(modem)
    assert device.mode == "modem", f"{modem.name}: left modem mode: {device.describe()}"
    return device


def switch_entry(
    db: ModeswitchDb, board: str, modem: ModemConfig, vid_pid: str
) -> ModeswitchEntry | None:
    """The entry usb_modeswitch switches a device of `vid_pid` with: the lab's own
    configuration for this modem, else the database's (plain, else its first variant)."""
    rule = modeswitch.lab_rule(board, modem)
    if rule is not None and rule.entry is not None and rule.entry.vid_pid == vid_pid:
        return rule.entry
    vid, pid = vid_pid.split(":")
    entry = db.lookup(vid, pid)
    variants = db.variants_of(vid, pid)
    return entry or (variants[0] if variants else None)


@pytest.mark.faults(STUCK)
def test_modem_is_at_its_port_in_modem_mode(
    usb: BoardUsb, modem: ModemConfig, db: ModeswitchDb, record_property
) -> None:
    """At `usb_path`, in modem mode, with the drivers and ports a modem has."""
    device = in_modem_mode(usb, modem, db)
    record_property("usb_device", device.describe())
    assert device.kind == "modem", f"{modem.name}: not a modem at its port: {device.describe()}"
    assert device.ttys or device.net, f"{modem.name}: no tty and no net interface: {device}"
    if modem.vid_pid:
        assert device.vid_pid == modem.vid_pid, (
            f"{modem.name}: {device.vid_pid} at {modem.usb_path}, the lab config expects "
            f"{modem.vid_pid} in modem mode"
        )


@pytest.mark.faults(STUCK, WRONG_METHOD)
def test_switch_matches_usb_modeswitch_data(
    board: Board,
    shell: ShellSession,
    usb: BoardUsb,
    modem: ModemConfig,
    db: ModeswitchDb,
    record_property,
) -> None:
    """Switched from storage mode (the kernel log's ids at the port): to the target
    vendor and one of the target products of the entry, by its method."""
    device = in_modem_mode(usb, modem, db)
    history = ids_at(parse_usb_events(shell.run("dmesg", timeout=60).output), device.sys_name)
    if not history:
        pytest.skip(f"{modem.name}: the kernel log holds no enumeration at {device.sys_name}")
    first = history[0]
    assert history[-1] == device.vid_pid, (
        f"{modem.name}: the kernel's last enumeration at {device.sys_name} is {history[-1]}, "
        f"udev has {device.vid_pid}"
    )
    entry = switch_entry(db, board.name, modem, first)
    if first == device.vid_pid:
        assert entry is None, (
            f"{modem.name}: came up as {first} and stayed, but usb_modeswitch has an entry for "
            f"it ({entry.method if entry else ''}): never switched"
        )
        record_property("modeswitch", f"not needed ({device.vid_pid})")
        return
    assert entry is not None, (
        f"{modem.name}: enumerated as {first}, then {device.vid_pid} at {device.sys_name}; "
        "neither usb-modeswitch-data nor the lab config has an entry for "
        f"{first}: who switched it?"
    )
    vendor = entry.target_vendor or entry.vendor
    targets = entry.target_products
    record_property("modeswitch", f"{first} → {device.vid_pid} ({entry.method})")
    assert entry.method, f"{modem.name}: the entry for {first} names no switching method"
    expected = device.vid_pid == modem.vid_pid  # the lab knows where its firmware goes
    assert expected or (device.vid == vendor and (not targets or device.pid in targets)), (
        f"{modem.name}: usb_modeswitch's entry for {first} ({entry.method}) switches to "
        f"{vendor}:{{{','.join(targets)}}}, the modem came back as {device.vid_pid}"
    )
    # the method, from what the board kept of usb_modeswitch's run
    report = modeswitch.read_report(shell, device.sys_name)
    path = modeswitch.report_path(device.sys_name)
    if report is None:
        pytest.skip(
            f"{modem.name}: switched {first} → {device.vid_pid}, but the board kept no "
            f"usb_modeswitch report ({path}; the dispatcher logs only with EnableLogging=1 in "
            "/etc/usb_modeswitch.conf): the method cannot be read back"
        )
    rule = modeswitch.lab_rule(board.name, modem)
    ours = rule is not None and rule.entry == entry
    source = "the lab's configuration" if ours else "usb-modeswitch-data's entry"
    problem = modeswitch.switch_problem(report, entry, source)
    assert not problem, f"{modem.name}: {problem} ({path})"
    record_property(
        "modeswitch",
        f"{first} → {device.vid_pid} by {report.method} ({report.config or 'its udev rule'})",
    )


@pytest.mark.faults(STUCK, "reboot-ignored")
def test_lab_rule_for_an_unknown_modem_holds_across_a_reboot(
    board: Board,
    shell: ShellSession,
    usb: BoardUsb,
    modem: ModemConfig,
    db: ModeswitchDb,
) -> None:
    """The doc's warning: the lab's usb_modeswitch configuration (as a udev rule in
    config.json's `os.udevRules`) is installed, switches the modem out of storage
    mode, and does so again after a reboot."""
    rule = modeswitch.lab_rule(board.name, modem)
    if rule is None:
        pytest.skip(f"{modem.name}: no usb_modeswitch configuration or udev rule in the lab config")
    assert modeswitch.installed(shell, rule), (
        f"{modem.name}: config.json's os.udevRules.{rule.name} is not installed as {rule.path}"
    )
    device = in_modem_mode(usb, modem, db)
    if rule.entry is not None:
        history = ids_at(parse_usb_events(shell.run("dmesg", timeout=60).output), device.sys_name)
        assert history[:1] == [rule.entry.vid_pid], (
            f"{modem.name}: the kernel saw {history} at {device.sys_name}, not first "
            f"{rule.entry.vid_pid} (the id the lab's rule switches)"
        )
    board.reboot(shell)  # DidNotReboot when the boot id stays the same
    assert modeswitch.installed(shell, rule), f"{rule.path} is gone after a reboot"
    again = in_modem_mode(usb, modem, db)
    assert again.vid_pid == device.vid_pid, (
        f"{modem.name}: {device.vid_pid} before the reboot, {again.vid_pid} after"
    )
