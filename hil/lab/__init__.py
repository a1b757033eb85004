"""Lab config: schema, loading, secrets and the fault catalogue.

The names below are imported on first use (PEP 562), so a command that only
needs the redactor (`hil image`, `hil keyfile`) does not pay for building the
lab config's pydantic models at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hil.lab.faults import FAULTS, Fault
    from hil.lab.loader import DEFAULT_LAB, load_lab
    from hil.lab.models import BoardConfig, LabConfig, ModemConfig, WifiConfig
    from hil.lab.secrets import REDACTOR, redact

_WHERE = {
    "FAULTS": "faults",
    "Fault": "faults",
    "DEFAULT_LAB": "loader",
    "load_lab": "loader",
    "BoardConfig": "models",
    "LabConfig": "models",
    "ModemConfig": "models",
    "WifiConfig": "models",
    "REDACTOR": "secrets",
    "redact": "secrets",
}

__all__ = [
    "DEFAULT_LAB",
    "FAULTS",
    "REDACTOR",
    "BoardConfig",
    "Fault",
    "LabConfig",
    "ModemConfig",
    "WifiConfig",
    "load_lab",
    "redact",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hil.lab.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'hil.lab' has no attribute {name!r}")
