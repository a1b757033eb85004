"""Board power: uhubctl, command, manual and sim drivers."""

from hil.power.drivers import (
    CommandPower,
    ManualPower,
    PowerDriver,
    SimPower,
    UhubctlPower,
    make_driver,
)

__all__ = ["CommandPower", "ManualPower", "PowerDriver", "SimPower", "UhubctlPower", "make_driver"]
