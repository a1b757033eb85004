"""The console's transports: a tty, RFC 2217 through a real ser2net (Debian's
4.x, YAML config written here, serving a pty), a raw TCP socket, `sim://`;
waiting for a missing port, exclusive open, baud rate and flow control, and a
port that goes away in the middle of a command."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.console import ConsoleLost, PortUnavailable, open_shell
from hil.console.transport import open_port, resolve
from hil.lab import load_lab
from hil.sim.server import SimServer
from tests.conftest import SIM_LAB
from tests.console_rig import ShellRig

pytestmark = pytest.mark.real


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ShellRig]:
    with ShellRig(tmp_path / "board", "bash", noise=0.2) as r:
        yield r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def ser2net(device: str, port: int, workdir: Path) -> Iterator[subprocess.Popen]:
    """A real ser2net serving `device` over RFC 2217 on loopback."""
    config = workdir / "ser2net.yaml"
    config.write_text(
        "%YAML 1.1\n---\n"
        "connection: &console\n"
        f"  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}\n"
        f"  connector: serialdev,{device},115200n81,local\n"
        "  options:\n"
        "    kickolduser: true\n"
    )
    proc = subprocess.Popen(
        ["ser2net", "-n", "-d", "-c", str(config), "-P", str(workdir / "ser2net.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def wait_listening(port: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def check_shell(url: str, tmp_path: Path, **kw) -> None:
    with open_shell(url, transcript=str(tmp_path / "console.log"), timeout=15, **kw) as sh:
        assert sh.run("echo $((1 + 2))", timeout=5).output == "3\n"
        assert sh.run("printf '\\000\\377'", timeout=5).output_bytes == b"\x00\xff"
        big = sh.run("seq 1 30000", timeout=30)
        assert big.output == "".join(f"{i}\n" for i in range(1, 30001))


def test_rfc2217_through_a_real_ser2net(rig: ShellRig, tmp_path: Path) -> None:
    port = free_port()
    with ser2net(rig.path, port, tmp_path):
        wait_listening(port)
        check_shell(f"rfc2217://127.0.0.1:{port}", tmp_path)


def test_ser2net_that_comes_up_late_is_waited_for(rig: ShellRig, tmp_path: Path) -> None:
    port = free_port()
    late = threading.Timer(1.0, lambda: stack.enter_context(ser2net(rig.path, port, tmp_path)))
    with contextlib.ExitStack() as stack:
        late.start()
        t0 = time.monotonic()
        with open_shell(f"rfc2217://127.0.0.1:{port}", timeout=15, port_timeout=10) as sh:
            assert time.monotonic() - t0 >= 0.9
            assert sh.run("echo late", timeout=5).output == "late\n"
        late.join()


def test_rfc2217_urls_skip_control_line_acknowledgements() -> None:
    # ser2net 4.x never acknowledges them: pyserial would fail the open (field notes)
    assert resolve("rfc2217://lab-host:3001") == "rfc2217://lab-host:3001?ign_set_control"
    assert resolve("rfc2217://h:1?timeout=5") == "rfc2217://h:1?timeout=5&ign_set_control"
    assert resolve("rfc2217://h:1?ign_set_control") == "rfc2217://h:1?ign_set_control"


def test_raw_tcp_socket(tmp_path: Path) -> None:
    with ShellRig(tmp_path / "board", "busybox", transport="tcp", noise=0.2) as rig:
        check_shell(rig.path, tmp_path)


def test_missing_port_is_waited_for_then_named(tmp_path: Path) -> None:
    path = str(tmp_path / "serial" / "by-path" / "platform-usb-0:1.4:1.0-port0")
    t0 = time.monotonic()
    with pytest.raises(PortUnavailable) as e:
        open_shell(path, name="pi4-x", port_timeout=0.5)
    assert 0.5 <= time.monotonic() - t0 < 2
    assert str(e.value) == f"pi4-x: console {path} not available after 0.5s: no such device"
    port = free_port()
    with pytest.raises(PortUnavailable, match="connection refused"):
        open_shell(f"rfc2217://127.0.0.1:{port}", name="pi4-x", port_timeout=0.3)


def test_a_port_that_appears_is_used(rig: ShellRig, tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    threading.Timer(0.7, os.symlink, [rig.path, link]).start()
    with open_shell(str(link), port_timeout=10, timeout=15) as sh:
        assert sh.run("echo plugged", timeout=5).output == "plugged\n"


def test_exclusive_open(rig: ShellRig) -> None:
    first = open_port(rig.path, board="pi4-a")
    try:
        with pytest.raises(PortUnavailable, match="busy: another program holds it open"):
            open_port(rig.path, board="pi4-a", port_timeout=0.3)
        open_port(rig.path, exclusive=False).close()  # a lab may share on purpose
    finally:
        first.close()
    open_port(rig.path, port_timeout=0.3).close()  # free again once closed


@pytest.mark.parametrize(
    ("flow", "iflag", "cflag"),
    [
        ("rtscts", 0, termios.CRTSCTS),
        ("xonxoff", termios.IXON | termios.IXOFF, 0),
        ("none", 0, 0),
    ],
)
def test_baud_rate_and_flow_control_reach_the_tty(rig: ShellRig, flow, iflag, cflag) -> None:
    port = open_port(rig.path, 57600, flow_control=flow)
    try:
        attrs = termios.tcgetattr(port.fileno())
        assert attrs[4] == attrs[5] == termios.B57600
        assert attrs[0] & (termios.IXON | termios.IXOFF) == iflag
        assert attrs[2] & termios.CRTSCTS == cflag
    finally:
        port.close()
    with pytest.raises(ValueError, match="flow_control"):
        open_port(rig.path, flow_control="dsrdtr")


def test_a_port_that_goes_away_mid_command(tmp_path: Path) -> None:
    rig = ShellRig(tmp_path / "board", "bash").start()
    with open_shell(rig.path, timeout=15) as sh:
        threading.Timer(0.5, rig.stop).start()  # the adapter is unplugged
        t0 = time.monotonic()
        with pytest.raises(ConsoleLost, match="console lost"):
            sh.run("sleep 20", timeout=30)
        assert time.monotonic() - t0 < 5


def test_sim_url_reaches_a_simulated_board(tmp_path: Path) -> None:
    lab = load_lab(SIM_LAB, env={})
    server = SimServer(lab).start()
    try:
        import hil.sim.server as sim_server

        sim_server._local[lab.name] = server
        with open_shell("sim://pi3-b", transcript=str(tmp_path / "c.log"), timeout=15) as sh:
            assert sh.run("cat /etc/hostname", timeout=5).output == "9c41d07\n"
    finally:
        sim_server._local.pop(lab.name, None)
        server.stop()
    with pytest.raises(PortUnavailable, match="sim board nope is not running"):
        open_shell("sim://nope", port_timeout=0.2)
