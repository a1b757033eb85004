"""One redaction facility for every log, transcript and report writer.

Secrets enter it two ways: values resolved from `${env:NAME}` references, and
values found under secret keys (`psk`, `password`, `pin`, `puk`, `*-password`,
`secrets`) of a lab config — even when written literally, as a sim lab may.
Writers call `redact()` on everything they emit.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator

MASK = "******"
_SECRET_KEY = re.compile(r"^(psk|password|pin|puk|secrets|.*[-_]password|wep-key\d)$", re.I)
# Secrets shorter than this are not redacted by value (a PIN "0000" would mask
# every run of zeros); they are still redacted by key where they appear as one.
MIN_SECRET_LEN = 4


def is_secret_key(key: str) -> bool:
    """True for the keys whose values are secret wherever they appear."""
    return bool(_SECRET_KEY.match(key))


class Redactor:
    """A thread-safe set of secret values, replaced by `MASK` in any text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: object) -> None:
        """Register a secret value (ignored if empty or too short to be safe)."""
        if value is None:
            return
        text = str(value)
        if len(text) < MIN_SECRET_LEN:
            return
        with self._lock:
            if text not in self._secrets:
                self._secrets.add(text)
                self._pattern = None

    def add_all(self, values: Iterable[object]) -> None:
        for v in values:
            self.add(v)

    @property
    def secrets(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._secrets)

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._secrets:
                # Longest first, so a secret that contains another is masked whole.
                alternatives = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))
            return self._pattern

    def redact(self, text: str) -> str:
        """Return `text` with every registered secret replaced by `MASK`."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact_bytes(self, data: bytes) -> bytes:
        pattern = self._compiled()
        if pattern is None or not data:
            return data
        return self.redact(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )

    @contextlib.contextmanager
    def masking(self, values: Iterable[object]) -> Iterator[None]:
        """Redact `values` only while the block runs: transient secrets such as the
        encoded chunks of a file being written over a console. Values that were
        already registered stay registered."""
        added: list[str] = []
        with self._lock:
            for value in values:
                text = str(value)
                if len(text) >= MIN_SECRET_LEN and text not in self._secrets:
                    self._secrets.add(text)
                    added.append(text)
            self._pattern = None
        try:
            yield
        finally:
            with self._lock:
                self._secrets.difference_update(added)
                self._pattern = None

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._pattern = None


#: The process-wide redactor that every writer uses.
REDACTOR = Redactor()


def redact(text: str) -> str:
    """Redact `text` with the process-wide redactor."""
    return REDACTOR.redact(text)


def collect_secret_values(data: object) -> list[str]:
    """Values under secret keys anywhere in a nested mapping/list structure."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and is_secret_key(k) and isinstance(v, str | int):
                    found.append(str(v))
                elif isinstance(k, str) and k.lower() == "secrets" and isinstance(v, dict | list):
                    found.extend(_leaves(v))
                else:
                    walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return found


def _leaves(node: object) -> list[str]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _leaves(v)]
    if isinstance(node, list):
        return [x for v in node for x in _leaves(v)]
    return [str(node)] if node is not None else []
