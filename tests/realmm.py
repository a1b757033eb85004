"""Real ModemManager on a private D-Bus, with a fake AT modem on a unix socket.

ModemManager's own test suite works this way (its `plugins/tests/`): the daemon
runs with `--test-session --test-enable --test-no-udev`, a "virtual port" is a
socket that answers AT commands from a table, and the Test interface's
`SetProfile(id, plugin, ports)` makes the daemon probe it as a modem. Here the
table is a file of ours (`fixtures/mmcli/at/*.conf`: `COMMAND  RESPONSE`, the
response with `\\r\\n` escapes), and the real `mmcli --test-session` prints what
it prints on a board. Used by the tests that check our `mmcli` parsers and the
simulator's `mmcli` against the real tool, and to record `fixtures/mmcli/`
(`python -m tests.realmm --record`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AT_DIR = REPO / "fixtures" / "mmcli" / "at"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def available() -> str | None:
    """None when the real daemons are here; else what is missing."""
    for tool in ("ModemManager", "mmcli", "dbus-daemon"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed"
    return None


def load_at_table(path: Path) -> dict[str, str]:
    """`COMMAND  RESPONSE` lines; `@include NAME` reads NAME.conf first (later lines win).

    A command written `PREVIOUS;COMMAND` answers only right after PREVIOUS
    (`AT+COPS=3,0;AT+COPS?` is the operator name, `AT+COPS=3,2;AT+COPS?` its code).
    """
    table: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@include "):
            table.update(load_at_table(path.parent / f"{line.split()[1]}.conf"))
            continue
        command, _, response = line.partition(" ")
        table[command] = response.strip().replace("\\r", "\r").replace("\\n", "\n")
    return table


class AtPort:
    """A modem's AT port: answers each command line from a table (ERROR if unknown)."""

    def __init__(self, path: str, table: dict[str, str]) -> None:
        self.path = path
        self.table = table
        self.log: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(4)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        previous = ""
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(1024)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while True:
                    ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
                    if not ends:
                        break
                    line, buf = buf[: min(ends)], buf[min(ends) :].lstrip(b"\r\n")
                    command = line.decode(errors="replace").strip()
                    if not command:
                        continue
                    self.log.append(command)
                    reply = self.table.get(f"{previous};{command}") or self.table.get(
                        command, "\r\nERROR\r\n"
                    )
                    previous = command
                    with contextlib.suppress(OSError):
                        conn.sendall(reply.encode())

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()


class RealModemManager:
    """ModemManager + a private bus; `mmcli()` runs the real client against it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hil-realmm-"))
        self.bus_path = str(self.dir / "bus")
        self.env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.bus_path}"}
        self.procs: list[subprocess.Popen] = []
        self.ports: list[AtPort] = []

    def __enter__(self) -> RealModemManager:
        config = self.dir / "bus.conf"
        config.write_text(BUS_CONFIG.format(path=self.bus_path))
        self._spawn(["dbus-daemon", f"--config-file={config}", "--nofork"])
        self._wait(lambda: os.path.exists(self.bus_path), "dbus-daemon socket")
        mm = shutil.which("ModemManager") or "/usr/sbin/ModemManager"
        self.log = open(self.dir / "mm.log", "w")
        self._spawn([mm, "--test-session", "--test-enable", "--test-no-udev"], log=self.log)
        self._wait(lambda: self.mmcli("-B").returncode == 0, "ModemManager on the bus")
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for port in self.ports:
            port.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _spawn(self, argv: list[str], log=subprocess.DEVNULL) -> None:
        self.procs.append(
            subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    @staticmethod
    def _wait(ok, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ok():
                return
            time.sleep(0.1)
        raise TimeoutError(f"real ModemManager testbed: no {what} after {timeout:.0f} s")

    def mmcli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["mmcli", "--test-session", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def plug(self, conf: str | Path, plugin: str = "generic", profile: str = "hil") -> AtPort:
        """Offer a fake AT modem to the daemon and wait until it lists a modem."""
        path = Path(conf) if Path(conf).is_absolute() else AT_DIR / f"{conf}.conf"
        port = AtPort(str(self.dir / f"port{len(self.ports)}"), load_at_table(path))
        self.ports.append(port)
        self._call_set_profile(profile, plugin, [port.path])
        self._wait(lambda: "/Modem/" in self.mmcli("-L").stdout, "modem listed")
        return port

    def wait_state(self, modem: str, states: tuple[str, ...], timeout: float = 30) -> str:
        seen = {"state": ""}

        def check() -> bool:
            out = self.mmcli("-m", modem, "-K").stdout
            for line in out.splitlines():
                if line.startswith("modem.generic.state "):
                    seen["state"] = line.split(":", 1)[1].strip()
            return seen["state"] in states

        self._wait(check, f"modem {modem} in {'/'.join(states)} (last: {seen['state']})", timeout)
        return seen["state"]

    def _call_set_profile(self, profile: str, plugin: str, ports: list[str]) -> None:
        from gi.repository import Gio, GLib

        conn = Gio.DBusConnection.new_for_address_sync(
            f"unix:path={self.bus_path}",
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
            None,
            None,
        )
        conn.call_sync(
            "org.freedesktop.ModemManager1",
            "/org/freedesktop/ModemManager1",
            "org.freedesktop.ModemManager1.Test",
            "SetProfile",
            GLib.Variant("(ssas)", (profile, plugin, ports)),
            None,
            Gio.DBusCallFlags.NONE,
            10000,
            None,
        )
        conn.close_sync(None)


# -- recording fixtures/mmcli/ ------------------------------------------------

FIXTURES = REPO / "fixtures" / "mmcli"
#: the socket directory differs per run; fixtures show it as this
STABLE_DIR = "/tmp/hil-realmm"


def _version() -> str:
    out = subprocess.run(["mmcli", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "mmcli"


def _record(mm: RealModemManager, name: str, conf: str, args: list[str]) -> None:
    r = mm.mmcli(*args)
    text = (r.stdout if r.returncode == 0 else r.stderr).replace(str(mm.dir), STABLE_DIR)
    header = (
        f"# source: real `mmcli --test-session {' '.join(args)}` ({_version()}, Debian 12 package\n"
        f"# modemmanager 1.20.4-1), exit status {r.returncode}, against the real ModemManager\n"
        f"# 1.20.4 in its test mode with the fake AT modem fixtures/mmcli/at/{conf}.conf\n"
        f"# (tests/realmm.py; regenerate with `python -m tests.realmm --record`)\n"
    )
    (FIXTURES / f"{name}.txt").write_text(header + text)


def record() -> None:
    """Run every scenario against the real daemon and write fixtures/mmcli/*.txt."""
    with RealModemManager() as mm:
        _record(mm, "list-empty.K", "registered", ["-L", "-K"])
    with RealModemManager() as mm:
        mm.plug("registered")
        _record(mm, "list", "registered", ["-L"])
        _record(mm, "list.K", "registered", ["-L", "-K"])
        _record(mm, "list.J", "registered", ["-L", "-J"])
        mm.wait_state("0", ("disabled",))
        _record(mm, "modem-disabled.K", "registered", ["-m", "0", "-K"])
        mm.mmcli("-m", "0", "-e")
        mm.wait_state("0", ("registered",))
        for fmt in ("K", "J"):
            _record(mm, f"modem-registered.{fmt}", "registered", ["-m", "0", f"-{fmt}"])
            _record(mm, f"sim.{fmt}", "registered", ["-i", "0", f"-{fmt}"])
        mm.mmcli("-m", "0", "--simple-connect=apn=internet")
        mm.wait_state("0", ("connected",))
        for fmt in ("K", "J"):
            _record(mm, f"modem-connected.{fmt}", "registered", ["-m", "0", f"-{fmt}"])
            _record(mm, f"bearer-connected.{fmt}", "registered", ["-b", "0", f"-{fmt}"])
        _record(mm, "error-no-modem", "registered", ["-m", "7", "-K"])
        _record(mm, "error-no-bearer", "registered", ["-b", "9", "-K"])
        _record(mm, "error-no-sim", "registered", ["-i", "4", "-K"])
        _record(mm, "error-reset-unsupported", "registered", ["-m", "0", "--reset"])
    with RealModemManager() as mm:
        mm.plug("sim-pin")
        mm.wait_state("0", ("locked",))
        for fmt in ("K", "J"):
            _record(mm, f"modem-locked.{fmt}", "sim-pin", ["-m", "0", f"-{fmt}"])
        _record(mm, "error-enable-locked", "sim-pin", ["-m", "0", "-e"])
        _record(mm, "error-pin-incorrect", "sim-pin", ["-i", "0", "--pin=0000"])
    with RealModemManager() as mm:
        mm.plug("sim-missing")
        mm.wait_state("0", ("failed",))
        for fmt in ("K", "J"):
            _record(mm, f"modem-failed-sim-missing.{fmt}", "sim-missing", ["-m", "0", f"-{fmt}"])
        _record(mm, "error-enable-failed", "sim-missing", ["-m", "0", "-e"])
    with RealModemManager() as mm:
        mm.plug("searching")
        mm.wait_state("0", ("disabled",))
        mm.mmcli("-m", "0", "-e")
        mm.wait_state("0", ("searching",))
        _record(mm, "modem-searching.K", "searching", ["-m", "0", "-K"])
    with RealModemManager() as mm:
        mm.plug("weak-signal")
        mm.wait_state("0", ("disabled",))
        mm.mmcli("-m", "0", "-e")
        mm.wait_state("0", ("registered",))
        _record(mm, "modem-weak-signal.K", "weak-signal", ["-m", "0", "-K"])
    with RealModemManager() as mm:
        mm.plug("wrong-apn")
        mm.wait_state("0", ("disabled",))
        mm.mmcli("-m", "0", "-e")
        mm.wait_state("0", ("registered",))
        _record(
            mm,
            "error-connect-wrong-apn",
            "wrong-apn",
            ["-m", "0", "--simple-connect=apn=wrong.apn"],
        )
        for fmt in ("K", "J"):
            _record(mm, f"bearer-wrong-apn.{fmt}", "wrong-apn", ["-b", "0", f"-{fmt}"])


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python -m tests.realmm --record")
    record()
