"""Connection files and the other network files of a balenaOS boot partition.

For the simulator and the boot-partition writer, the stable API is:

- `Keyfile.parse(text) / .dump()`: a NetworkManager keyfile that round-trips,
  with `get/get_list/get_bool/set/remove` by setting name or alias;
- `validate(text_or_keyfile, path) -> Report(errors, warnings)`: would
  NetworkManager load it as written (`Report.valid`);
- `is_loaded_by_os(filename)` / `why_not_loaded(filename)`: `*.ignore` and
  the other names NetworkManager skips;
- builders (`hil.netconfig.builders`) for every example of the networking doc;
- `ConfigJson`/`parse_config_json`/`validate_config_json`/`merge_config_json`
  (config.json's networking keys, merged keeping every other key);
- `validate_redsocks`/`redsocks_conf`, `validate_no_proxy`, `validate_dispatcher`;
- `check_boot_file(kind, data, path)`: any of these by kind.
"""

from hil.netconfig.bootfiles import check_boot_file
from hil.netconfig.config_json import (
    ConfigJson,
    merge_config_json,
    parse_config_json,
    validate_config_json,
)
from hil.netconfig.dispatcher import validate_dispatcher
from hil.netconfig.gkeyfile import KeyfileSyntaxError, ValueSyntaxError
from hil.netconfig.keyfile import (
    SECTION_ALIASES,
    Keyfile,
    is_loaded_by_os,
    setting_name,
    why_not_loaded,
)
from hil.netconfig.proxy import redsocks_conf, validate_no_proxy, validate_redsocks
from hil.netconfig.report import Issue, Report
from hil.netconfig.validate import validate

__all__ = [
    "SECTION_ALIASES",
    "ConfigJson",
    "Issue",
    "Keyfile",
    "KeyfileSyntaxError",
    "Report",
    "ValueSyntaxError",
    "check_boot_file",
    "is_loaded_by_os",
    "merge_config_json",
    "parse_config_json",
    "redsocks_conf",
    "setting_name",
    "validate",
    "validate_config_json",
    "validate_dispatcher",
    "validate_no_proxy",
    "validate_redsocks",
    "why_not_loaded",
]
