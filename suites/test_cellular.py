"""Cellular qualification: from plug-in to data through the modem (networking doc,
"Cellular Modem Setup"), per board and per modem of the lab config.

ModemManager must export the modem at its USB port with its identity, unlock
its SIM with the lab's PIN, register with a usable signal; the doc's gsm
connection must bring up a bearer whose interface carries the default route
(ethernet and WiFi out of the way), hold for the soak time, survive a modem
reset; on a Raspberry Pi the supply must not sag. Faults turn exactly the
tests they break red, with ModemManager's or NetworkManager's words.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import time
from collections.abc import Iterator

import pytest
from _net import curl, lookup, wait_network

from hil.board import Board, modeswitch
from hil.board.cellular import NMCLI, Cellular, CellularError
from hil.board.files import write_boot_files
from hil.bootfs.layout import BootFile
from hil.console import ShellSession
from hil.errors import HarnessError
from hil.lab.models import ModemConfig
from hil.netconfig.builders import gsm
from hil.probes.ip import parse_route
from hil.probes.mmcli import Modem, parse_error

MODEM_FAULTS = ("modem-stuck-in-storage-mode",)
SIM_FAULTS = ("sim-missing", "sim-locked", "no-registration")
#: data through the modem: a bearer that holds, HTTPS (port 443) and DNS over it
DATA_FAULTS = (
    "wrong-apn",
    "modem-reenumerates",
    "modem-drops-off-bus",
    "dns-blocked",
    "port-443-blocked",
)
CONNECTION = "hil-cellular"
FILENAME = "hil-cellular"


@pytest.fixture
def cell(board: Board, shell: ShellSession, modem: ModemConfig) -> Iterator[Cellular]:
    """The modem on the board; a modem the board's usb_modeswitch does not know gets
    the lab's rule first (see `hil.board.modeswitch`; one reboot, once)."""
    modeswitch.ensure(board, shell, modem)
    c = Cellular(shell, modem, board.network)
    yield c
    if c.shell is not shell:  # a test that rebooted the board opened a new console
        c.shell.close()


def power_cycle(request: pytest.FixtureRequest, board: Board, cell: Cellular) -> None:
    """Cycle the board's power and log in again on a console that keeps writing the
    test's own transcript (the evidence, and what a replay of the test answers from)."""
    cell.shell.close()
    board.power_cycle(wait=False)
    cell.shell = board.open_shell(transcript=getattr(request.node, "hil_transcript", None))


def gsm_keyfile(modem: ModemConfig, device_id: str | None) -> str:
    """The doc's cellular example with the lab's APN and credentials, for this modem."""
    return gsm(
        modem.apn or "",
        id=CONNECTION,
        device_id=device_id,
        number=modem.number or "*99#",
        username=modem.username,
        password=modem.password,
        pin=modem.pin,
    ).dump()


@pytest.fixture(autouse=True)
def power_report(request: pytest.FixtureRequest, board: Board, cell: Cellular) -> Iterator[None]:
    """Raspberry Pi: the supply's state (`vcgencmd get_throttled`) after every cellular
    test, in its report — a starved modem shows here before it drops off the bus."""
    yield
    if not board.device_type.startswith("raspberrypi"):
        return
    with contextlib.suppress(HarnessError):
        out = cell.run("vcgencmd get_throttled", timeout=15).output.strip()
        request.node.user_properties.append(("get_throttled", out))


@pytest.fixture
def cellular_only(request: pytest.FixtureRequest, board: Board, cell: Cellular) -> Iterator[None]:
    """Ethernet and WiFi out of the way for the test, so data really goes over cellular.
    Afterwards: the connection removed, the board's other links back, and a modem
    that fell off the bus brought back as a lab does it, by cycling the power."""
    other_links_down(cell)
    try:
        yield
    finally:
        cell.forget(CONNECTION, FILENAME)
        for dev in ("eth0", "wlan0"):
            cell.run(f"{NMCLI} device connect {dev}")
        if cell.at_port() is None:
            power_cycle(request, board, cell)


def other_links_down(cell: Cellular) -> None:
    """Ethernet and WiFi disconnected, once NetworkManager's startup is complete (after
    a power cycle, a link it has not activated yet would come up after the disconnect
    and take the default route: seen on the virtual rig)."""
    wait_network(cell.shell, seconds=90)
    for dev in ("eth0", "wlan0"):
        cell.run(f"{NMCLI} device disconnect {dev}")


def check_data_path(cell: Cellular, modem: Modem) -> Modem:
    """Bearer connected, its interface addressed with the default route, HTTPS and DNS
    through it; held for the soak."""
    current = cell.wait_state(modem, {"connected"}, "connecting")
    device = current.primary_port or ""
    cell.wait_nm_connected(device)
    # read once: the console checks every output (a garbled read raises, never misleads)
    iface = cell.ip_interface(device)
    problem = (
        bearer_problem(cell, current)
        or addressed_and_default(cell, iface, device)
        or traffic_problem(cell, iface, device)
    )
    if problem:
        raise CellularError(problem)
    return hold(cell, current)


def bearer_problem(cell: Cellular, modem: Modem) -> str:
    """'' when the modem's bearer is connected over one of its own ports (its net port,
    or for PPP the serial port ModemManager dialled on); else why not."""
    bearer = cell.bearer(cell.refresh(modem) or modem)
    if bearer is None:
        return f"modem {modem.index}: connected but lists no bearer"
    if not bearer.connected:
        return f"bearer {bearer.index}: not connected: {bearer.error}"
    if bearer.interface not in [p.name for p in modem.ports]:
        return f"bearer {bearer.index} runs over {bearer.interface}, not one of {modem.ports}"
    return ""


def addressed_and_default(cell: Cellular, iface: str, device: str) -> str:
    """'' when the interface has an IPv4 address, the default route and DNS; else why not."""
    try:
        addrs = json.loads(cell.run(f"ip -j addr show {iface}").output or "[]")
        routes = json.loads(cell.run("ip -j route").output or "[]")
    except ValueError as e:
        return f"ip -j output unreadable: {e}"
    v4 = [a for link in addrs for a in link.get("addr_info", []) if a.get("family") == "inet"]
    if not v4:
        return f"{iface} has no IPv4 address"
    default = [r for r in routes if r.get("dst") == "default"]
    if not default or min(default, key=lambda r: r.get("metric", 0))["dev"] != iface:
        return f"the default route is not via {iface}: {default}"
    if not cell.run(f"{NMCLI} -g IP4.DNS device show {device}").output.strip():
        return f"no DNS server on {device}"
    return ""


def traffic_problem(cell: Cellular, iface: str, device: str) -> str:
    """'' when data goes through the modem's interface; else why not: HTTPS from a
    socket bound to it (`curl --interface`, which only that interface's routes can
    carry), and a DNS lookup at the carrier's DNS server, which the kernel routes
    through it."""
    url, name = cell.network.https_url, cell.network.lookup_name
    r = curl(cell.shell, url, max_time=int(cell.config.timeout) + 10, extra=f"--interface {iface}")
    if not r.connected:
        return f"curl --interface {iface} {url}: exit {r.exit_code}: {r.error}"
    shown = cell.run(f"{NMCLI} -g IP4.DNS device show {device}").output
    servers = shown.replace("|", " ").split()  # one a line, or ` | ` between them
    dns = servers[0] if servers else ""
    if not dns:
        return f"no DNS server on {device}"
    try:
        routes = parse_route(cell.run(f"ip -j route get {dns}").output)
    except ValueError as e:
        return f"ip -j route get {dns}: {e}"
    if [r.dev for r in routes] != [iface]:
        return f"the carrier's DNS server {dns} is routed via {routes}, not {iface}"
    answer = lookup(cell.shell, name, dns)
    if not answer.ok:
        return f"nslookup {name} {dns} (over {iface}): {answer.error}"
    return ""


def hold(cell: Cellular, modem: Modem) -> Modem:
    """The session holds for soak_seconds: same modem, bearer still connected.

    Checked a fixed number of times over the soak rather than until a clock
    deadline, so that a replay of the run asks exactly as often as the board
    was asked (a busy machine must not add a check the recording lacks).
    """
    step = cell.interval * 5
    checks = 1 + math.ceil(cell.config.soak_seconds / step)
    for check in range(checks):
        now = cell.at_port()
        if now is None:
            raise CellularError(
                f"modem {modem.index} dropped off the bus at {cell.config.usb_path} during the "
                f"data session"
            )
        if now.index != modem.index:
            raise CellularError(
                f"modem re-enumerated during the data session (Modem/{modem.index} → "
                f"Modem/{now.index} at {cell.config.usb_path})"
            )
        bearer = cell.bearer(now)
        if bearer is None or not bearer.connected:
            raise CellularError(f"modem {now.index}: bearer dropped ({now.describe_state()})")
        if check + 1 < checks:
            time.sleep(step)
    return now


def connect_at_runtime(cell: Cellular, modem: Modem) -> None:
    """A gsm connection added over D-Bus (nmcli), as WiFi Connect adds WiFi ones; tied
    to this modem by ModemManager's device identifier (a board may have several), then
    activated once. Not left to autoconnect as well: an activation asked for while
    autoconnect's is still dialling replaces it, and when the first dial then fails
    NetworkManager 1.42 exits (seen on the virtual rig under wrong-apn)."""
    m = cell.config
    args = ["type", "gsm", "con-name", CONNECTION, "ifname", "*", "apn", m.apn or ""]
    args += ["connection.autoconnect", "no"]
    if modem.device_identifier:
        args += ["gsm.device-id", modem.device_identifier]
    if m.username:
        args += ["user", m.username]
    if m.password:
        args += ["password", m.password]
    if m.pin:
        args += ["gsm.pin", m.pin]
    r = cell.run(f"{NMCLI} connection add {' '.join(shlex.quote(a) for a in args)}")
    assert r.exit_code == 0, f"nmcli connection add: {r.output}"
    cell.up(CONNECTION)


# -- detection ------------------------------------------------------------------------


@pytest.mark.faults(*MODEM_FAULTS)
def test_modemmanager_sees_the_modem(cell: Cellular, modem: ModemConfig) -> None:
    """`mmcli -m N -K` at the configured port: identity, ports, drivers, plugin."""
    m = cell.find()
    assert m.manufacturer and m.model and m.revision, f"modem {m.index}: incomplete identity"
    assert m.plugin, f"modem {m.index}: no plugin"
    assert m.drivers, f"modem {m.index}: no kernel drivers"
    assert m.primary_port and m.primary_port in [p.name for p in m.ports], (
        f"modem {m.index}: primary port {m.primary_port} is not one of {m.ports}"
    )
    assert m.net_ports or any(p.type == "at" for p in m.ports), f"no data port: {m.ports}"
    assert m.state != "failed" or m.failed_reason, "failed without a reason"


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS)
def test_sim_ready_and_registered(cell: Cellular) -> None:
    """The SIM is unlocked (with the lab's PIN if it has one) and the modem registers."""
    m = cell.registered()
    assert m.registered, m.describe_state()
    assert m.sim_index is not None, f"modem {m.index}: no SIM object"
    r = cell.run(f"mmcli -i {m.sim_index} -K")
    assert r.exit_code == 0, r.output


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, "weak-signal")
def test_signal_and_operator(cell: Cellular, modem: ModemConfig) -> None:
    """Access technology, operator and a signal at or above the modem's threshold."""
    m = cell.registered()
    assert m.access_technologies, f"modem {m.index}: no access technology"
    assert m.operator_name or m.operator_code, f"modem {m.index}: no operator"
    assert m.signal_quality is not None and m.signal_quality >= modem.min_signal, (
        f"modem {m.index}: signal quality {m.signal_quality}% below the minimum "
        f"{modem.min_signal}% ({m.operator_name}, {', '.join(m.access_technologies)})"
    )


# -- data -----------------------------------------------------------------------------


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS)
def test_gsm_connection_at_runtime(cell: Cellular, cellular_only: None) -> None:
    """A gsm connection added over D-Bus connects; data goes over the modem."""
    m = cell.registered()
    connect_at_runtime(cell, m)
    check_data_path(cell, m)


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS)
def test_gsm_connection_from_boot_partition(
    request: pytest.FixtureRequest,
    board: Board,
    cell: Cellular,
    modem: ModemConfig,
    cellular_only: None,
) -> None:
    """The doc's cellular file in the boot partition connects after a reboot."""
    secrets = tuple(s for s in (modem.password, modem.pin) if s)
    # the lab's PIN proven right (sent once, guarded) before NetworkManager gets it: a
    # wrong one in the keyfile would be tried at every activation until the SIM wants its PUK
    found = cell.unlock(cell.find())
    text = gsm_keyfile(modem, found.device_identifier)
    keyfile = BootFile(f"system-connections/{FILENAME}", text.encode(), 0o600, secrets=secrets)
    write_boot_files(cell.shell, [keyfile])
    power_cycle(request, board, cell)
    other_links_down(cell)
    m = cell.find()
    active = cell.run(f"{NMCLI} -t -f NAME,TYPE connection show --active").output
    if f"{CONNECTION}:gsm" not in active:
        cell.up(CONNECTION)  # autoconnect may have lost the race against the modem's probe
    check_data_path(cell, cell.refresh(m) or m)


# -- faults reported, and recovery ------------------------------------------------------


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS)
def test_wrong_apn_is_reported_and_recovers(
    board: Board, cell: Cellular, cellular_only: None
) -> None:
    """A refused APN fails the activation, in ModemManager's words on the bearer (the
    precise reason: NetworkManager 1.42 maps none of ModemManager's APN errors, nmcli
    says "Unknown error"); fixed, it connects."""
    m = cell.registered()
    with board.lab.fault("wrong-apn"):
        with pytest.raises(CellularError, match="nmcli connection up"):
            connect_at_runtime(cell, m)
        bearer = cell.bearer(cell.refresh(m) or m)
        assert bearer is not None and bearer.error_message == "Missing or unknown APN", bearer
    cell.up(CONNECTION)
    check_data_path(cell, cell.refresh(m) or m)


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS)
def test_missing_sim_is_reported_and_recovers(board: Board, cell: Cellular) -> None:
    """No SIM: ModemManager says `failed (sim-missing)`; with the SIM back it registers."""
    cell.find()
    with board.lab.fault("sim-missing"):
        m = cell.find()
        assert m.describe_state() == "failed (sim-missing)", m.describe_state()
    cell.registered()


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS)
def test_no_registration_is_reported_and_recovers(board: Board, cell: Cellular) -> None:
    """No network: the modem stays `searching` (bounded wait); back in coverage it registers."""
    cell.registered()
    with board.lab.fault("no-registration"):
        m = cell.wait_state(cell.find(), {"searching"}, "losing the network")
        assert m.registration_state == "searching", m.registration_state
        assert not m.registered and m.signal_quality == 0, m.describe_state()
    cell.registered()


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS)
def test_modem_reset_reenumerates_and_reconnects(
    cell: Cellular, modem: ModemConfig, cellular_only: None
) -> None:
    """`mmcli --reset`: the modem comes back at the same port and reconnects."""
    m = cell.registered()
    connect_at_runtime(cell, m)
    m = check_data_path(cell, m)
    r = cell.run(f"mmcli -m {m.index} --reset")
    err = parse_error(r.output) if r.exit_code != 0 else None
    if err is not None and err.short == "Unsupported":
        # ModemManager has no reset for this modem (plugin, or AT-only control): the
        # USB power-cycle test covers recovery instead
        pytest.skip(f"{modem.model}: ModemManager cannot reset it: {err.message}")
    assert r.exit_code == 0, r.output
    reconnects(cell, m, "its reset (mmcli --reset)")


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS)
def test_usb_power_cycle_reenumerates_and_reconnects(
    board: Board, cell: Cellular, modem: ModemConfig, cellular_only: None
) -> None:
    """The modem's USB port powered off and on by the lab (a switchable hub): it comes
    back at the same port and reconnects within the recovery time."""
    m = cell.registered()
    connect_at_runtime(cell, m)
    m = check_data_path(cell, m)
    board.lab.usb_port(modem.name, "replug")
    reconnects(cell, m, "a power cycle of its USB port")


def reconnects(cell: Cellular, gone: Modem, after: str) -> None:
    """The modem is back at its port as a new ModemManager object, registers and its
    connection carries data again, all within the recovery time."""
    limit = cell.config.recovery_timeout or cell.config.timeout
    deadline = time.monotonic() + limit
    back = cell.at_port()
    while back is None or back.index == gone.index:
        assert time.monotonic() < deadline, (
            f"modem did not come back at {cell.config.usb_path} within {limit:g} s after {after}"
        )
        time.sleep(cell.interval)
        back = cell.at_port()
    back = cell.registered()
    if back.state != "connected":
        cell.up(CONNECTION)
    check_data_path(cell, cell.refresh(back) or back)


# -- power ----------------------------------------------------------------------------

THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    16: "under-voltage has occurred",
    18: "throttling has occurred",
}


@pytest.mark.faults(*MODEM_FAULTS, *SIM_FAULTS, *DATA_FAULTS, "undervoltage")
def test_power_holds_under_load(
    board: Board, cell: Cellular, cellular_only: None, record_property
) -> None:
    """Raspberry Pi: no under-voltage while the modem carries data, and it stays on the bus."""
    if not board.device_type.startswith("raspberrypi"):
        pytest.skip(f"{board.name}: {board.device_type} is not a Raspberry Pi")
    config = cell.run("cat /mnt/boot/config.txt").output
    usb_current = [
        line.strip()
        for line in config.splitlines()
        if line.strip().startswith(("max_usb_current", "usb_max_current_enable"))
    ]
    record_property("usb_current", ", ".join(usb_current) or "default")
    m = cell.registered()
    connect_at_runtime(cell, m)
    check_data_path(cell, m)
    out = cell.run("vcgencmd get_throttled").output.strip()
    assert out.startswith("throttled="), f"vcgencmd get_throttled: {out}"
    flags = int(out.split("=", 1)[1], 16)
    problems = [words for bit, words in THROTTLE_BITS.items() if flags & (1 << bit)]
    assert not problems, (
        f"{out}: {', '.join(problems)} (USB current: {', '.join(usb_current) or 'default'})"
    )
