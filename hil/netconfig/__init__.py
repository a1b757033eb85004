"""Connection files and the other network files of a balenaOS boot partition.

For the simulator and the boot-partition writer, the stable API is:

- `Keyfile.parse(text) / .dump()`: a NetworkManager keyfile that round-trips,
  with `get/get_list/get_bool/set/remove` by setting name or alias;
- `validate(text_or_keyfile, path) -> Report(errors, warnings)`: would
  NetworkManager load it as written (`Report.valid`);
- `is_loaded_by_os(filename)` / `why_not_loaded(filename)`: `*.ignore` and
  the other names NetworkManager skips;
- builders (`hil.netconfig.builders`) for every example of the networking doc;
- `config_json` (model, validation, `merge_config_json`), `proxy`
  (redsocks.conf, no_proxy), `dispatcher` (dispatcher scripts).
"""

from hil.netconfig.gkeyfile import KeyfileSyntaxError, ValueSyntaxError
from hil.netconfig.keyfile import (
    SECTION_ALIASES,
    Keyfile,
    is_loaded_by_os,
    setting_name,
    why_not_loaded,
)
from hil.netconfig.report import Issue, Report
from hil.netconfig.validate import validate

__all__ = [
    "SECTION_ALIASES",
    "Issue",
    "Keyfile",
    "KeyfileSyntaxError",
    "Report",
    "ValueSyntaxError",
    "is_loaded_by_os",
    "setting_name",
    "validate",
    "why_not_loaded",
]
