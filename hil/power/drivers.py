"""Power drivers, chosen by the lab config's `power.driver`.

- `uhubctl`: USB hub port power (a Raspberry Pi or a modem on a per-port
  switchable hub): `uhubctl -l LOCATION -p PORT -a on|off|cycle -d SECONDS`.
- `command`: any on/off/cycle shell commands (a PDU's CLI, a relay, ykushcmd).
- `manual`: asks the operator at the terminal and waits for Enter.
- `sim`: the simulated board's power, through its server's control socket.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING, Protocol

from hil.errors import ConfigError, HarnessError
from hil.lab.models import PowerConfig

if TYPE_CHECKING:
    from collections.abc import Callable


class PowerDriver(Protocol):
    def on(self) -> None: ...

    def off(self) -> None: ...

    def cycle(self) -> None: ...


def _run(board: str, argv: list[str] | str, what: str, timeout: float = 60) -> None:
    shell = isinstance(argv, str)
    try:
        proc = subprocess.run(argv, shell=shell, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        cmd = argv if shell else argv[0]
        raise HarnessError(f"{board}: power {what}: {cmd}: command not found") from None
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{board}: power {what}: timed out after {timeout:g}s") from None
    if proc.returncode != 0:
        # everything the tool said, on one line
        said = "; ".join(x.strip() for x in (proc.stdout + proc.stderr).splitlines() if x.strip())
        raise HarnessError(
            f"{board}: power {what} failed (exit {proc.returncode})"
            f"{': ' + said[:300] if said else ''}"
        )


class UhubctlPower:
    """Port power of a smart USB hub, through uhubctl."""

    def __init__(
        self, board: str, location: str, port: int, off_time: float = 3.0, binary: str = "uhubctl"
    ) -> None:
        self.board, self.location, self.port = board, location, port
        self.off_time = off_time
        self.binary = binary

    def argv(self, action: str) -> list[str]:
        args = [self.binary, "-l", self.location, "-p", str(self.port), "-a", action]
        if action == "cycle":
            args += ["-d", f"{self.off_time:g}"]
        return args

    def on(self) -> None:
        _run(self.board, self.argv("on"), "on")

    def off(self) -> None:
        _run(self.board, self.argv("off"), "off")

    def cycle(self) -> None:
        _run(self.board, self.argv("cycle"), "cycle", timeout=60 + self.off_time)


class CommandPower:
    """Any shell commands: a PDU's CLI, a relay, ykushcmd."""

    def __init__(
        self,
        board: str,
        on: str,
        off: str,
        cycle: str | None = None,
        off_time: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.board, self._on, self._off, self._cycle = board, on, off, cycle
        self.off_time = off_time
        self._sleep = sleep

    def on(self) -> None:
        _run(self.board, self._on, "on")

    def off(self) -> None:
        _run(self.board, self._off, "off")

    def cycle(self) -> None:
        if self._cycle:
            _run(self.board, self._cycle, "cycle")
            return
        self.off()
        self._sleep(self.off_time)
        self.on()


class ManualPower:
    """An operator switches the board; we ask and wait for Enter."""

    def __init__(self, board: str, stdin=None, stdout=None) -> None:
        self.board = board
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stderr

    def _ask(self, what: str) -> None:
        if not self.stdin.isatty():
            raise HarnessError(
                f"{self.board}: manual power needs an operator at a terminal to switch it {what}"
            )
        self.stdout.write(f"[{self.board}] switch the board {what}, then press Enter: ")
        self.stdout.flush()
        self.stdin.readline()

    def on(self) -> None:
        self._ask("ON")

    def off(self) -> None:
        self._ask("OFF")

    def cycle(self) -> None:
        self._ask("OFF and back ON")


class SimPower:
    """The simulated board's power switch."""

    def __init__(self, board: str, endpoint) -> None:
        self.board = board
        self.endpoint = endpoint

    def on(self) -> None:
        self.endpoint.request(op="power", on=True)

    def off(self) -> None:
        self.endpoint.request(op="power", on=False)

    def cycle(self) -> None:
        self.off()
        self.on()


def make_driver(board: str, config: PowerConfig | None, sim_endpoint=None) -> PowerDriver:
    """The driver the lab config names for `board`."""
    if config is None:
        raise ConfigError(f"{board}: no power driver in the lab config (power: {{driver: ...}})")
    if config.driver == "uhubctl":
        assert config.location is not None and config.port is not None
        return UhubctlPower(board, config.location, config.port, config.off_time)
    if config.driver == "command":
        assert config.on and config.off
        return CommandPower(board, config.on, config.off, config.cycle, config.off_time)
    if config.driver == "manual":
        return ManualPower(board)
    if sim_endpoint is None:
        raise ConfigError(f"{board}: power driver sim is only for sim:// boards")
    return SimPower(board, sim_endpoint)
