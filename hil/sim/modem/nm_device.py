"""NetworkManager's gsm device for a modem ModemManager exports.

NetworkManager names it after the modem's primary port (`cdc-wdm0`,
`ttyUSB0`) and runs IP over the modem's data interface (`wwan0`, `usb0`, or
`ppp0` for a serial modem). Activating a gsm connection is what NetworkManager
asks of ModemManager: unlock the SIM with `gsm.pin`, enable the modem, wait
for the registration, connect a bearer with `gsm.apn`/`username`/`password`;
each failure ends the activation with NetworkManager's reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hil.sim.modem.model import (
    CONNECT_SECONDS,
    ME_ERROR,
    REGISTRATION_TIMEOUT,
    MMError,
    ModemManager,
    ModemUnit,
)
from hil.sim.nm.devices import Device, IpConfig, LinkOutcome
from hil.sim.nm.profiles import Profile

if TYPE_CHECKING:
    from hil.sim.world import World

#: ModemManager's errors → NetworkManager's device-state reasons (as nmcli prints them)
NM_REASONS = {
    # NetworkManager 1.42 maps no APN error of ModemManager 1.20 to a reason (its journal
    # says "failed to connect modem: Missing or unknown APN"; seen on the virtual rig)
    ME_ERROR + "MissingOrUnknownApn": "Unknown error",
    ME_ERROR + "UserAuthenticationFailed": "The dialing attempt failed",
    ME_ERROR + "IncorrectPassword": "SIM PIN was incorrect",
    ME_ERROR + "SimPuk": "GSM Modem's SIM PUK required",
}


class GsmDevice(Device):
    type = "gsm"

    def __init__(self, world: World, mm: ModemManager, unit: ModemUnit) -> None:
        super().__init__(world, unit.hardware.primary_port, "00:00:00:00:00:00")
        self.mm = mm
        self.unit = unit
        self.index = unit.index
        self.ip_iface = unit.hardware.net_port
        self.bearer = None

    def available(self) -> bool:
        return self.mm.running and self.unit.index == self.index and self.mm.on_bus(self.unit)

    def matches(self, profile: Profile) -> bool:
        """NetworkManager's check: the interface name, and `gsm.device-id` against
        ModemManager's device identifier of this modem."""
        device_id = profile.get("gsm", "device-id")
        return (
            profile.type == "gsm"
            and profile.interface_name in (None, self.name)
            and device_id in (None, self.mm.device_identifier(self.unit))
        )

    def link(self, profile: Profile) -> LinkOutcome:
        mm, unit = self.mm, self.unit
        if mm.sim_missing(unit):
            return LinkOutcome(False, "GSM Modem's SIM card not inserted", seconds=2)
        if mm.sim_locked(unit):
            pin = profile.get("gsm", "pin")
            if not pin:
                return LinkOutcome(False, "GSM Modem's SIM PIN required", seconds=2)
            try:
                mm.send_pin(unit, pin)
            except MMError as e:
                return LinkOutcome(False, NM_REASONS.get(e.name, "PIN check failed"), seconds=3)
        apn = profile.get("gsm", "apn") or ""
        bearer = mm.connect(
            unit,
            apn,
            profile.get("gsm", "username"),
            profile.get("gsm", "password"),
            activation=self.name,
        )
        self.bearer = bearer
        seconds = max(bearer.ready_at - mm.now(), CONNECT_SECONDS)
        if bearer.error is not None:
            if bearer.error[0].endswith("Retry"):
                return LinkOutcome(False, "Network registration timed out", REGISTRATION_TIMEOUT)
            reason = NM_REASONS.get(bearer.error[0], "The dialing attempt failed")
            return LinkOutcome(False, reason, seconds=seconds)
        return LinkOutcome(True, seconds=seconds)

    def still_linked(self, profile: Profile) -> str | None:
        if not self.available():
            return "Modem failed or no longer available"
        if self.bearer is not None and not self.bearer.connected(self.mm.now()):
            gone = not self.mm.on_bus(self.unit)
            return "The modem could not be found" if gone else "Carrier/link changed"
        return None

    def lease(self, profile: Profile) -> IpConfig | None:
        bearer = self.bearer
        if bearer is None or bearer.ip is None:
            return None
        ip = bearer.ip
        return IpConfig(f"{ip.address}/{ip.prefix}", ip.gateway, dns=list(ip.dns))
