"""Console faults of the simulated line: kernel noise and dropped bytes.

They act on the bytes the board sends, as a real console does: a kernel
message lands at any byte position (mid-line, mid-prompt, mid-echo), and a
flaky adapter loses a byte now and then.
"""

from __future__ import annotations

import random

KERNEL_MESSAGES = [
    "usb 1-1.3: USB disconnect, device number 4",
    "brcmfmac: brcmf_cfg80211_set_power_mgmt: power save enabled",
    "IPv6: ADDRCONF(NETDEV_CHANGE): wlan0: link becomes ready",
    "cdc_ncm 1-1.3:1.1 wwan0: network connection: connected",
    "option 1-1.3:1.0: GSM modem (1-port) converter detected",
    "Under-voltage detected! (0x00050005)",
    "usb 1-1.3: new high-speed USB device number 5 using dwc2",
]


class LineFaults:
    """Applies the console faults that are on to each chunk of output."""

    def __init__(self, faults: set[str], clock_uptime, seed: int = 0) -> None:
        self.faults = faults
        self.uptime = clock_uptime
        self.rng = random.Random(seed)
        #: probability that a chunk gets a kernel message inserted
        self.noise_rate = 0.15
        #: probability that any one byte is lost
        self.drop_rate = 1 / 3000

    def kernel_line(self) -> bytes:
        msg = self.rng.choice(KERNEL_MESSAGES)
        return f"[{self.uptime():12.6f}] {msg}\r\n".encode()

    def apply(self, data: bytes) -> bytes:
        if "console-noise" in self.faults and data and self.rng.random() < self.noise_rate:
            at = self.rng.randrange(len(data) + 1)
            data = data[:at] + self.kernel_line() + data[at:]
        if "console-drop-bytes" in self.faults and data:
            data = bytes(b for b in data if self.rng.random() >= self.drop_rate)
        return data
