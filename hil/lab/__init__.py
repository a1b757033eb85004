"""Lab config: schema, loading, secrets and the fault catalogue."""

from hil.lab.faults import FAULTS, Fault
from hil.lab.loader import DEFAULT_LAB, load_lab
from hil.lab.models import BoardConfig, LabConfig, ModemConfig, WifiConfig
from hil.lab.secrets import REDACTOR, redact

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
