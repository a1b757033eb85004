"""One entry point for every network file of a boot partition (for bootfs and the sim)."""

from __future__ import annotations

from typing import Literal

from hil.netconfig.config_json import validate_config_json
from hil.netconfig.dispatcher import validate_dispatcher
from hil.netconfig.proxy import validate_no_proxy, validate_redsocks
from hil.netconfig.report import Report
from hil.netconfig.validate import validate

BootFileKind = Literal["connection", "config.json", "redsocks.conf", "no_proxy", "dispatcher"]


def check_boot_file(
    kind: BootFileKind, data: bytes | str, path: str, mode: int | None = None
) -> Report:
    """Check a file bound for the boot partition: `system-connections/` (`connection`),
    `config.json`, `system-proxy/redsocks.conf`, `system-proxy/no_proxy`, `dispatcher.d/`."""
    if kind == "connection":
        return validate(data, path)
    if kind == "config.json":
        return validate_config_json(data, path)
    if kind == "redsocks.conf":
        return validate_redsocks(data, path)
    if kind == "no_proxy":
        return validate_no_proxy(data, path)
    if kind == "dispatcher":
        return validate_dispatcher(data, path, mode)
    raise ValueError(f"unknown boot file kind {kind!r}")
