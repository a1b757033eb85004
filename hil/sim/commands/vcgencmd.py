"""`vcgencmd` of a Raspberry Pi: the firmware's throttling flags and config values.

`get_throttled` is the under-voltage/throttling bit field (bit 0 under-voltage
now, 2 throttled now, 16 under-voltage has occurred, 18 throttling has
occurred): `0x0` on a healthy supply, `0x50005` under the `undervoltage` fault.
`get_config NAME` reads the boot partition's `config.txt` as the firmware
parsed it at boot (0 when unset). Boards that are not a Raspberry Pi have no
vcgencmd.
"""

from __future__ import annotations

from hil.sim.commands import command
from hil.sim.shell.interp import Proc

UNDERVOLTAGE = 0x50005


def config_txt(p: Proc) -> dict[str, str]:
    path = "/mnt/boot/config.txt"
    if not p.world.fs.exists(path):
        return {}
    values = {}
    for line in p.world.fs.read_text(path).splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@command("vcgencmd")
def vcgencmd(p: Proc) -> int:
    if not p.world.device_type.startswith("raspberrypi"):
        p.err("sh: vcgencmd: not found\n")
        return 127
    args = p.args[1:]
    if args[:1] == ["get_throttled"]:
        flags = UNDERVOLTAGE if p.world.fault("undervoltage") else 0
        p.out(f"throttled={flags:#x}\n")
        return 0
    if args[:1] == ["get_config"] and len(args) == 2:
        values = config_txt(p)
        if args[1] == "int":
            for k, v in values.items():
                if v.lstrip("-").isdigit():
                    p.out(f"{k}={v}\n")
            return 0
        p.out(f"{args[1]}={values.get(args[1], '0')}\n")
        return 0
    if args[:1] == ["measure_volts"]:
        volts = "0.8000" if p.world.fault("undervoltage") else "0.8500"
        p.out(f"volt={volts}V\n")
        return 0
    p.err(f"Command not registered: {' '.join(args)}\n" if args else "usage: vcgencmd COMMAND\n")
    return 255
