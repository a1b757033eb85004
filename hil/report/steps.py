"""One allure step per console command, with its output attached.

The console's transcript tells every listener of each command it records
(`hil.console.transcript.add_command_listener`); `CommandSteps` turns those
records into steps of the allure test result (or of the step) that is open
at that moment — a command run in a fixture lands in that fixture's setup.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from allure_commons.model2 import Parameter, Status, StatusDetails, TestStepResult
from allure_commons.reporter import AllureReporter
from allure_commons.types import AttachmentType
from allure_commons.utils import uuid4

from hil.console import transcript as console_transcript

#: output longer than this is cut in the step's attachment (the transcript has it all)
MAX_OUTPUT = 256 * 1024


class CommandSteps:
    """Listens to the console while allure-pytest runs; remembers each test's transcripts."""

    def __init__(self, reporter: AllureReporter) -> None:
        self.reporter = reporter
        self._lock = threading.Lock()
        self._transcripts: list[Path] = []
        self._muted = 0

    def start(self) -> None:
        console_transcript.add_command_listener(self.on_command)

    def stop(self) -> None:
        console_transcript.remove_command_listener(self.on_command)

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """Commands the harness runs for itself (reading facts for labels) are no steps."""
        with self._lock:
            self._muted += 1
        try:
            yield
        finally:
            with self._lock:
                self._muted -= 1

    def take_transcripts(self) -> list[Path]:
        """The transcript files commands were recorded in since the last call."""
        with self._lock:
            seen, self._transcripts = self._transcripts, []
        return list(dict.fromkeys(seen))

    def on_command(self, transcript: console_transcript.Transcript, entry: dict) -> None:
        if self._muted:
            return
        if transcript.path is not None:
            with self._lock:
                self._transcripts.append(transcript.path)
        if self.reporter.get_last_item() is None:
            return  # no test is being reported (e.g. a shell opened at collection)
        self.add_step(entry)

    def add_step(self, entry: dict) -> None:
        start = int(entry["start"] * 1000)
        stop = start + int(entry["duration"] * 1000)
        code = entry.get("exit_code")
        error = entry.get("error")
        step = TestStepResult(
            name=f"$ {entry['command']}",
            start=start,
            parameters=[Parameter(name="exit status", value="none" if code is None else str(code))],
        )
        uuid = uuid4()
        self.reporter.start_step(None, uuid, step)
        output = entry.get("output") or ""
        if len(output) > MAX_OUTPUT:
            output = (
                output[:MAX_OUTPUT] + f"\n… cut at {MAX_OUTPUT} characters (see the transcript)\n"
            )
        if output:
            self.reporter.attach_data(
                uuid4(),
                output,
                name="output",
                attachment_type=AttachmentType.TEXT,
                parent_uuid=uuid,
            )
        if error:
            status, details = Status.BROKEN, StatusDetails(message=error)
        elif code == 0:
            status, details = Status.PASSED, None
        else:  # red, but no error box: a command may be expected to fail
            status, details = Status.FAILED, None
        self.reporter.stop_step(uuid, stop=stop, status=status, statusDetails=details)
