"""Console faults of the simulated line: kernel noise, lost bytes, reboots mid-command.

They act on the bytes the board sends, as a real console does:

- `console-noise`: a kernel message (`[  123.456789] ...\\r\\n`, printed by the
  kernel straight to the UART) lands at any byte position — mid-line,
  mid-prompt, inside the echo or a marker — in about one chunk of output in
  five.
- `console-drop-bytes`: a UART that overruns loses a byte now and then (one
  in `drop_rate`), anywhere: in output, markers, prompts.
- `reboot-during-command`: the board reboots while a command runs. It is the
  `REBOOT_AT`-th command line after each boot, so that the harness's setup
  of a session (a few lines) gets through and the session's second or third
  command meets the reboot.

The harness must keep its verdicts under all of them, or report the test
broken with a clear reason — never return a wrong output.
"""

from __future__ import annotations

import random
from collections.abc import Callable

KERNEL_MESSAGES = [
    "usb 1-1.3: USB disconnect, device number 4",
    "brcmfmac: brcmf_cfg80211_set_power_mgmt: power save enabled",
    "IPv6: ADDRCONF(NETDEV_CHANGE): wlan0: link becomes ready",
    "cdc_ncm 1-1.3:1.1 wwan0: network connection: connected",
    "option 1-1.3:1.0: GSM modem (1-port) converter detected",
    "Under-voltage detected! (0x00050005)",
    "usb 1-1.3: new high-speed USB device number 5 using dwc2",
    "EXT4-fs (mmcblk0p6): re-mounted. Opts: (null). Quota mode: none.",
]
#: the command line after each boot during which `reboot-during-command` reboots the board
REBOOT_AT = 6


class LineFaults:
    """Applies the console faults that are on to each chunk the board sends."""

    def __init__(self, faults: set[str], clock_uptime: Callable[[], float], seed: int = 0) -> None:
        self.faults = faults
        self.uptime = clock_uptime
        self.rng = random.Random(seed)
        #: probability that a chunk gets a kernel message inserted
        self.noise_rate = 0.2
        #: one byte in this many is lost
        self.drop_rate = 3000

    def kernel_line(self) -> bytes:
        msg = self.rng.choice(KERNEL_MESSAGES)
        return f"[{self.uptime():12.6f}] {msg}\r\n".encode()

    def apply(self, data: bytes) -> bytes:
        if "console-noise" in self.faults and data and self.rng.random() < self.noise_rate:
            at = self.rng.randrange(len(data) + 1)
            data = data[:at] + self.kernel_line() + data[at:]
        if "console-drop-bytes" in self.faults and data:
            data = self._drop(data)
        return data

    def _drop(self, data: bytes) -> bytes:
        """Lose each byte with probability 1/drop_rate (geometric gaps: fast on big chunks)."""
        out = bytearray()
        pos = 0
        p = 1 / self.drop_rate
        while True:
            gap = int(self.rng.expovariate(p))
            if pos + gap >= len(data):
                out += data[pos:]
                return bytes(out)
            out += data[pos : pos + gap]
            pos += gap + 1

    @staticmethod
    def reboots_during(command_number: int) -> bool:
        """Whether the `command_number`-th command line after boot meets the reboot."""
        return command_number == REBOOT_AT
