"""Hooks the reporting plugin asks others to answer (registered with `pytest_addhooks`; pytest only
knows hooks whose names start with `pytest_`)."""

from __future__ import annotations

import pytest


@pytest.hookspec(firstresult=True)
def pytest_hil_modem_vid_pid(board, modem, shell):  # type: ignore[no-untyped-def]
    """VID:PID (`vvvv:pppp`) of `modem` as it enumerates on `board` now, or None.

    Asked at the end of each modem test (after any mode switch), for the
    `vid_pid` label. `shell` is the test's open shell on the board, or None.
    Whoever can read the board's USB bus (`hil.usb`) answers; the reporting
    plugin's own answer, tried last, is the lab config's.
    """
