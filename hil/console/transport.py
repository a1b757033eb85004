"""Opening a console line: local tty, rfc2217://, socket://, sim://.

All through `serial.serial_for_url`, so every transport is a pyserial port.
A port that is missing (board off, adapter unplugged, ser2net not up yet) or
busy (another program holds it) is waited for, then a clear error names the
board and the path. Baud rate, flow control and exclusive open come from the
lab config; `exclusive` is an flock on a local tty (as picocom and labgrid
take it); a network console is exclusive by ser2net's own connection limit.
"""

from __future__ import annotations

import errno
import importlib
import os
import time
from urllib.parse import parse_qsl, urlsplit

import serial

from hil.console.errors import PortUnavailable
from hil.errors import HarnessError

#: schemes resolved to a local tty path by another layer (imported lazily so
#: the console does not depend on the simulator)
RESOLVERS = {
    "sim": "hil.sim.server:resolve_url",
    "replay": "hil.repro.replay:resolve_url",
    "qemu": "hil.vrig.server:resolve_url",
}
FLOW_CONTROL = ("none", "rtscts", "xonxoff")


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else ""


def resolve(url: str) -> str:
    """Map a lab console url to what `serial_for_url` opens."""
    scheme = scheme_of(url)
    if scheme in RESOLVERS:
        module, func = RESOLVERS[scheme].split(":")
        return getattr(importlib.import_module(module), func)(url)
    if scheme == "rfc2217":
        # ser2net 4.x never acknowledges control-line changes; pyserial would
        # wait for that acknowledgement on open and fail (field notes)
        options = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if "ign_set_control" not in options:
            return url + ("&" if "?" in url else "?") + "ign_set_control"
    return url


def _is_local(target: str) -> bool:
    return "://" not in target


def _why_not(target: str, error: Exception | None) -> str:
    """The reason a port is unavailable, in words a lab engineer acts on."""
    if error is None:
        return "no such device" if _is_local(target) else "not reachable"
    text = str(error)
    if "exclusively lock" in text or getattr(error, "errno", None) == errno.EAGAIN:
        return "busy: another program holds it open (exclusive lock)"
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused (is ser2net running?)"
    if "No such file" in text:
        return "no such device"
    return text


def open_port(
    url: str,
    baudrate: int = 115200,
    *,
    flow_control: str = "none",
    exclusive: bool = True,
    port_timeout: float = 30.0,
    board: str | None = None,
) -> serial.SerialBase:
    """Open the console port, waiting up to `port_timeout` for it to appear or be free."""
    who = f"{board}: " if board else ""
    if flow_control not in FLOW_CONTROL:
        raise ValueError(f"flow_control must be one of {', '.join(FLOW_CONTROL)}")
    try:
        target = resolve(url)
    except HarnessError as e:
        raise PortUnavailable(f"{who}console {url}: {e}") from None
    local = _is_local(target)
    deadline = time.monotonic() + port_timeout
    last_error: Exception | None = None
    while True:
        if not local or os.path.exists(target):
            try:
                return serial.serial_for_url(
                    target,
                    baudrate=baudrate,
                    timeout=0,
                    write_timeout=None,
                    rtscts=flow_control == "rtscts",
                    xonxoff=flow_control == "xonxoff",
                    exclusive=exclusive if local else None,
                )
            except (serial.SerialException, OSError) as e:
                last_error = e
            except ValueError as e:  # a malformed url: waiting will not help
                raise PortUnavailable(f"{who}console {url}: {e}") from None
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    raise PortUnavailable(
        f"{who}console {url} not available after {port_timeout:g}s: {_why_not(target, last_error)}"
    )
