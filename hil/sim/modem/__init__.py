"""The simulated ModemManager and the modems of a sim board (see `model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hil.sim.modem.catalog import CATALOG, ModemHardware
from hil.sim.modem.model import ModemManager

if TYPE_CHECKING:
    from hil.sim.world import World

__all__ = ["CATALOG", "ModemHardware", "ModemManager", "install"]

#: a Raspberry Pi's config.txt as balenaOS ships it (the USB current is left at its default)
CONFIG_TXT = """\
# balenaOS config.txt
disable_splash=1
dtparam=i2c_arm=on
dtparam=spi=on
dtparam=audio=on
gpu_mem=16
"""


def install(world: World) -> ModemManager:
    """Give a world its ModemManager: a service, a boot hook, NetworkManager's gsm devices."""
    mm = ModemManager(world)
    world.subsystems["modems"] = mm
    world.nm.tick_hooks.append(mm.tick)
    world.services["ModemManager"] = (mm.start, mm.stop)
    world.service_probes["ModemManager"] = lambda: mm.running
    world.boot_hooks.append(lambda w: mm.boot())
    for fault in ("modem-stuck-in-storage-mode", "modeswitch-wrong-method"):
        world.fault_checks[fault] = lambda: any(u.usb.storage is not None for u in mm.units)
    for fault in ("sim-missing", "sim-locked", "wrong-apn", "no-registration", "weak-signal"):
        world.fault_checks[fault] = lambda: bool(mm.units)
    for fault in ("modem-reenumerates", "modem-drops-off-bus"):
        world.fault_checks[fault] = lambda: bool(mm.units)
    world.fault_checks["undervoltage"] = lambda: world.device_type.startswith("raspberrypi")
    if world.device_type.startswith("raspberrypi") and not world.fs.exists("/mnt/boot/config.txt"):
        world.fs.write("/mnt/boot/config.txt", CONFIG_TXT)
    return mm
