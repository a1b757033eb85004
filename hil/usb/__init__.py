"""USB modems and consoles: one model, two sources, matching by port, modes, modeswitch.

- `hil.usb.model`: `UdevRecord`/`UdevTree` (udev's view) → `UsbDevice` (a device at
  a port with interfaces, drivers, ttys, net interfaces) and its `mode`;
- `hil.usb.host.HostUsb`: the lab host through pyudev (discovery, `wait_for` on a Monitor);
- `hil.usb.board.BoardUsb`: a board through its console (`udevadm info`, `udevadm monitor`);
- `hil.usb.match`: labgrid-style matches with `@` ancestor keys and `usb_path`,
  with explanations of which key failed on which candidate;
- `hil.usb.modeswitch`: usb-modeswitch-data (`hil modeswitch lookup`), the stuck check;
- `hil.usb.inventory`: the modems and consoles among devices (`hil devices`).
"""

from hil.usb.match import AmbiguousMatch, Match, MatchReport, NoMatch
from hil.usb.model import Mode, UdevTree, UsbDevice, UsbInterface
from hil.usb.wait import WaitTimeout

__all__ = [
    "AmbiguousMatch",
    "Match",
    "MatchReport",
    "Mode",
    "NoMatch",
    "UdevTree",
    "UsbDevice",
    "UsbInterface",
    "WaitTimeout",
]
