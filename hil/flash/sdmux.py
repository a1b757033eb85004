"""SD muxes: hand the board's SD card to the lab host for writing, then back.

- `usbsdmux CONTROL host|dut` (Linux Automation's USB-SD-Mux, PyPI `usbsdmux`),
- `sdwire switch -s SERIAL ts|dut` (Badgerd SDWire, PyPI `sdwire`),
- `block`: a card reader or an image file standing in for the card: no switching.
"""

from __future__ import annotations

import subprocess

from hil.errors import HarnessError
from hil.lab.models import SdMuxConfig


class SdMux:
    def __init__(self, board: str, config: SdMuxConfig) -> None:
        self.board = board
        self.config = config

    @property
    def device(self) -> str:
        return self.config.device

    def argv(self, side: str) -> list[str] | None:
        """The switch command for `side` ("host" or "dut"), None when nothing switches."""
        c = self.config
        if c.driver == "usbsdmux":
            return ["usbsdmux", str(c.control), "host" if side == "host" else "dut"]
        if c.driver == "sdwire":
            return ["sdwire", "switch", "-s", str(c.serial), "ts" if side == "host" else "dut"]
        return None

    def _switch(self, side: str) -> None:
        argv = self.argv(side)
        if argv is None:
            return
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            raise HarnessError(
                f"{self.board}: sd mux: {argv[0]}: command not found (pip install {argv[0]})"
            ) from None
        if r.returncode != 0:
            said = "; ".join(x for x in (r.stdout + r.stderr).splitlines() if x.strip())
            raise HarnessError(f"{self.board}: sd mux to {side} failed: {said[:300]}")

    def to_host(self) -> None:
        self._switch("host")

    def to_dut(self) -> None:
        self._switch("dut")
