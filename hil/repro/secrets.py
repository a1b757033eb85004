"""The secrets of a bundle's files: found (so nothing logs them) and redacted on request.

Secret keys are the lab's (`psk`, `password`, `pin`, `puk`, `*-password`,
WEP keys) in connection files and redsocks.conf, and in config.json also the
balenaCloud credentials (`apiKey`, `deviceApiKey(s)`, `provisioningApiKey`,
tokens). A redacted value becomes `REDACTED-BY-HIL` — a valid passphrase, so
the file still loads — and `device.yaml` lists it under `redacted:`.
"""

from __future__ import annotations

import json
import re

from hil.lab.secrets import is_secret_key
from hil.repro.bundle import CONFIG_JSON, CONNECTIONS, LOGS, PROXY, REDACTED, Bundle

_GROUP = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_ENTRY = re.compile(r"^(\s*)([^=#;\s\[][^=]*?)(\s*=\s*)(.*?)(\s*)$")
_REDSOCKS = re.compile(r'^(\s*)(\w+)(\s*=\s*)("?)(.*?)("?\s*;\s*)$')
_CLOUD_KEY = re.compile(r"(?i)^(?:.*api_?keys?|.*token|wifikey|secret.*)$")


def _is_config_secret(key: str) -> bool:
    return is_secret_key(key) or bool(_CLOUD_KEY.match(key))


def _keyfile(text: str, redact: bool) -> tuple[str, list[tuple[str, str]]]:
    """(text with secrets redacted if asked, [(setting.key, value)])."""
    found = []
    group = ""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if m := _GROUP.match(body):
            group = m.group(1).strip()
        elif (m := _ENTRY.match(body)) and is_secret_key(m.group(2)) and m.group(4):
            found.append((f"{group}.{m.group(2)}", m.group(4)))
            if redact:
                body = f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}{m.group(5)}"
        out.append(body + ending)
    return "".join(out), found


def _redsocks(text: str, redact: bool) -> tuple[str, list[tuple[str, str]]]:
    found = []
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        m = _REDSOCKS.match(body)
        if m and is_secret_key(m.group(2)) and m.group(5):
            found.append((m.group(2), m.group(5)))
            if redact:
                body = "".join(
                    (m.group(1), m.group(2), m.group(3), m.group(4), REDACTED, m.group(6))
                )
        out.append(body + ending)
    return "".join(out), found


def _config_json(text: str, redact: bool) -> tuple[str, list[tuple[str, str]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text, []
    found: list[tuple[str, str]] = []

    def walk(node: object, path: str) -> object:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                here = f"{path}.{k}" if path else str(k)
                if _is_config_secret(str(k)) and v not in (None, "", {}, []):
                    for leaf in _leaves(v):
                        found.append((here, leaf))
                    out[k] = _mask(v) if redact else v
                else:
                    out[k] = walk(v, here)
            return out
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        return node

    result = walk(data, "")
    if not redact or not found:
        return text, found
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n", found


def _leaves(node: object) -> list[str]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _leaves(v)]
    if isinstance(node, list):
        return [x for v in node for x in _leaves(v)]
    return [str(node)] if node not in (None, "") else []


def _mask(node: object) -> object:
    if isinstance(node, dict):
        return {k: _mask(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v) for v in node]
    return REDACTED if node not in (None, "") else node


def _scan(path: str, data: bytes, redact: bool) -> tuple[bytes, list[tuple[str, str]]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, []
    if path.startswith(CONNECTIONS + "/"):
        new, found = _keyfile(text, redact)
    elif path == f"{PROXY}/redsocks.conf":
        new, found = _redsocks(text, redact)
    elif path == CONFIG_JSON:
        new, found = _config_json(text, redact)
    else:
        return data, []
    return new.encode(), found


def bundle_secrets(bundle: Bundle) -> list[str]:
    """Every secret value in the bundle's files (not the redacted placeholders)."""
    values = []
    for path, data in bundle.files.items():
        for _, value in _scan(path, data, redact=False)[1]:
            if value != REDACTED:
                values.append(value)
    return values


def redact_bundle(bundle: Bundle) -> Bundle:
    """A copy of `bundle` with every secret replaced by `REDACTED`, in files and logs."""
    files: dict[str, bytes] = {}
    redacted: list[str] = list(bundle.device.redacted)
    values: list[str] = []
    for path, data in sorted(bundle.files.items()):
        new, found = _scan(path, data, redact=True)
        files[path] = new
        for key, value in found:
            if value != REDACTED:
                values.append(value)
                entry = f"{path}: {key}"
                if entry not in redacted:
                    redacted.append(entry)
    for device_net in bundle.device.networks or []:
        if device_net.psk:
            values.append(device_net.psk)
    values = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)
    for name in LOGS:
        if name in files:
            text = files[name].decode("utf-8", "replace")
            for v in values:
                text = text.replace(v, REDACTED)
            files[name] = text.encode()
    networks = (
        [n.model_copy(update={"psk": None}) for n in bundle.device.networks]
        if bundle.device.networks is not None
        else None
    )
    device = bundle.device.model_copy(update={"redacted": redacted, "networks": networks})
    return Bundle(bundle.source, device, files)
