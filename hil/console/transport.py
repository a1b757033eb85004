"""Opening a console line: local tty, rfc2217://, socket://, sim://.

All through `serial.serial_for_url`, so every transport is a pyserial port.
A port that is missing (board off, adapter unplugged) is waited for, then a
clear error names the board and the path.
"""

from __future__ import annotations

import importlib
import os
import time

import serial

from hil.errors import HarnessError

#: schemes resolved to a local tty path by another layer (lazy, to keep layering)
_RESOLVERS = {
    "sim": "hil.sim.server:resolve_url",
    "replay": "hil.repro.replay:resolve_url",
}


def resolve(url: str) -> str:
    """Map a lab console url to something `serial_for_url` opens."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in _RESOLVERS:
        module, func = _RESOLVERS[scheme].split(":")
        return getattr(importlib.import_module(module), func)(url)
    if scheme == "rfc2217" and "?" not in url:
        # ser2net 4.x may never acknowledge control-line changes; don't wait on them
        return url + "?ign_set_control"
    return url


def open_port(
    url: str,
    baudrate: int = 115200,
    *,
    flow_control: str = "none",
    exclusive: bool = True,
    port_timeout: float = 30.0,
    board: str | None = None,
) -> serial.SerialBase:
    """Open the console port, waiting up to `port_timeout` for it to appear."""
    who = f"{board}: " if board else ""
    target = resolve(url)
    deadline = time.monotonic() + port_timeout
    last_error: Exception | None = None
    while True:
        local = "://" not in target
        if not local or os.path.exists(target):
            try:
                port = serial.serial_for_url(
                    target,
                    baudrate=baudrate,
                    timeout=0,
                    rtscts=flow_control == "rtscts",
                    xonxoff=flow_control == "xonxoff",
                    exclusive=exclusive if local else None,
                    do_not_open=False,
                )
                return port
            except (serial.SerialException, OSError, ValueError) as e:
                last_error = e
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    reason = f": {last_error}" if last_error else ": no such device"
    raise HarnessError(f"{who}console {url} not available after {port_timeout:g}s{reason}")
