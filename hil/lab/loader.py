"""Load a lab config YAML: resolve `${env:NAME}` secrets, validate, register secrets.

Every problem is a `ConfigError` with one line naming the file, the line, the
key path (with the board's name) and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from hil.errors import ConfigError
from hil.lab.models import LabConfig
from hil.lab.secrets import REDACTOR, collect_secret_values


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. (YAML 1.1 reads `on:`/`off:` — the power
    driver's keys — and yes/no as booleans.)"""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_LAB = Path("lab-config/sim.yaml")

PathKey = tuple[str | int, ...]


def _line_map(node: yaml.Node, path: PathKey = (), out: dict | None = None) -> dict[PathKey, int]:
    """Map each key path of a composed YAML document to its 1-based line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, key_node.value)
            out[key] = key_node.start_mark.line + 1
            _line_map(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)
    return out


def _describe(path: PathKey, data: object) -> str:
    """`boards[1] (pi3-b).console.url` — the key path, with board names."""
    parts: list[str] = []
    node = data
    for key in path:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node):
                item = node[key]
                if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    label += f" ({item['name']})"
                node = item
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + key)
            node = node.get(key) if isinstance(node, Mapping) else None
    return "".join(parts) or "(top level)"


def _resolve_env(
    node: object, path: PathKey, where: str, lines: dict, env: Mapping, root: object
) -> object:
    if isinstance(node, dict):
        return {k: _resolve_env(v, (*path, k), where, lines, env, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_env(v, (*path, i), where, lines, env, root) for i, v in enumerate(node)]
    if isinstance(node, str) and "${env:" in node:

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                line = lines.get(path, 0)
                raise ConfigError(
                    f"{where}:{line}: {_describe(path, root)}: environment variable {name} "
                    "is not set (secret referenced as ${env:" + name + "})"
                )
            value = env[name]
            REDACTOR.add(value)
            return value

        return _ENV_REF.sub(sub, node)
    return node


def _first_error(exc: ValidationError, data: object, where: str, lines: dict) -> str:
    errors = exc.errors()
    err = errors[0]
    loc = tuple(err["loc"])
    # pydantic adds no location for model validators; their message names the item
    line = lines.get(loc) or lines.get(loc[:-1]) or lines.get((), 0)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif (
        "input" in err
        and err["type"] not in {"value_error"}
        and not isinstance(err["input"], dict | list)
    ):
        msg += f" (got {err['input']!r})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}:{line}: {_describe(loc, data)}: {msg}{more}"


def load_lab(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> LabConfig:
    """Load and validate the lab config at `path`; raise `ConfigError` on any problem."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: lab config not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: cannot read lab config: {e}") from None
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}{line}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with 'name' and 'boards'")
    lines = _line_map(root) if root is not None else {}
    # Literal secrets (a sim lab may write them) are redacted by key.
    REDACTOR.add_all(collect_secret_values(data))
    data = _resolve_env(data, (), where, lines, os.environ if env is None else env, data)
    try:
        lab = LabConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_first_error(e, data, where, lines)) from None
    REDACTOR.add_all(collect_secret_values(lab.model_dump()))
    return lab
