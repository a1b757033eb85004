"""Every byte that reaches allure results goes through the lab's redactor.

allure-pytest writes results through its `AllureFileLogger`; `install()` swaps
it for a subclass that redacts each result, container, step, parameter, label
and attachment as it is written — whoever created them (our hooks, a suite's
`allure.attach`, pytest's captured output, a traceback's local variables).
"""

from __future__ import annotations

import os
import shutil

from allure_commons import hookimpl
from allure_commons.logger import AllureFileLogger

from hil.lab.secrets import REDACTOR


def redact_tree(node: object) -> object:
    """A copy of a JSON-like tree with every string (keys too) redacted."""
    if isinstance(node, str):
        return REDACTOR.redact(node)
    if isinstance(node, dict):
        return {redact_tree(k): redact_tree(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [redact_tree(v) for v in node]
    return node


def _redact_item(item: object) -> None:
    """Redact an allure model object (attrs class) in place."""
    for name in getattr(type(item), "__attrs_attrs__", ()):
        value = getattr(item, name.name)
        if isinstance(value, str):
            setattr(item, name.name, REDACTOR.redact(value))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str):
                    value[i] = REDACTOR.redact(v)
                else:
                    _redact_item(v)
        elif value is not None and hasattr(type(value), "__attrs_attrs__"):
            _redact_item(value)


class RedactingFileLogger(AllureFileLogger):
    """allure-pytest's file logger, with the lab's secrets masked in all it writes."""

    @hookimpl
    def report_result(self, result) -> None:
        _redact_item(result)
        self._report_item(result)

    @hookimpl
    def report_container(self, container) -> None:
        _redact_item(container)
        self._report_item(container)

    @hookimpl
    def report_globals(self, globals_item) -> None:
        _redact_item(globals_item)
        self._report_item(globals_item)

    @hookimpl
    def report_attached_data(self, body, file_name) -> None:
        if isinstance(body, str):
            body = REDACTOR.redact(body)
        elif isinstance(body, bytes):
            body = REDACTOR.redact_bytes(body)
        super().report_attached_data(body, file_name)

    @hookimpl
    def report_attached_file(self, source, file_name) -> None:
        final = self._report_dir / file_name
        tmp = final.with_name(final.name + ".tmp")
        shutil.copyfile(source, tmp)
        tmp.write_bytes(REDACTOR.redact_bytes(tmp.read_bytes()))
        os.replace(tmp, final)


def install() -> None:
    """Make allure-pytest write through `RedactingFileLogger`.

    Called from a `tryfirst` pytest_configure, before allure-pytest's own
    creates its file logger by this name (and registers its cleanup with it).
    """
    import allure_pytest.plugin

    allure_pytest.plugin.AllureFileLogger = RedactingFileLogger  # type: ignore[misc]
