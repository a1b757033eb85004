"""The modems and serial consoles among a set of USB devices (`hil devices`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hil.usb.model import Kind, Mode, UsbDevice

if TYPE_CHECKING:  # loaded by whoever hands a database in (tarfile and all, only then)
    from hil.usb.modeswitch import ModeswitchDb


@dataclass(frozen=True)
class InventoryEntry:
    """One row of `hil devices` (DESIGN.md: id_path, vid, pid, kind, mode, drivers, ttys, net)."""

    device: UsbDevice
    kind: Kind

    @property
    def mode(self) -> Mode | None:
        return None if self.kind == "console" else self.device.mode

    def as_json(self) -> dict[str, object]:
        d = self.device
        return {
            "id_path": d.id_path,
            "vid": d.vid,
            "pid": d.pid,
            "kind": self.kind,
            "mode": self.mode,
            "drivers": d.drivers,
            "ttys": d.ttys,
            "net": d.net,
        }


def kind_of(
    device: UsbDevice, db: ModeswitchDb | Callable[[], ModeswitchDb | None] | None
) -> Kind | None:
    """`modem`, `console` or None (hubs, keyboards, USB sticks…).

    The interfaces decide first; a storage-only device is a modem when
    usb_modeswitch knows it (it is a modem waiting to be switched), and a device
    without bound drivers is one when usb_modeswitch switches devices into it."""
    kind = device.kind
    if kind is not None or db is None or device.is_hub:
        return kind
    if callable(db):
        db = db()  # loaded only when a device needs it
        if db is None:
            return None
    if device.mode == "storage" and db.switchable(device.vid, device.pid):
        return "modem"
    if db.is_target(device.vid, device.pid):
        return "modem"
    return None


def inventory(
    devices: Iterable[UsbDevice], db: ModeswitchDb | Callable[[], ModeswitchDb | None] | None
) -> list[InventoryEntry]:
    """Modems and consoles, ordered by physical port."""
    rows = []
    for device in devices:
        kind = kind_of(device, db)
        if kind is not None:
            rows.append(InventoryEntry(device, kind))
    return sorted(rows, key=lambda r: r.device.id_path or r.device.devpath)
