"""What a `replay://` board says for a command its recording does not have.

The replay board (`hil.repro.replay`) answers such a command with this line
and status; `check_replayed` turns it into an error the test reports, so a
suite that strays from the recording goes red with the reason, whatever it
asserts.
"""

from __future__ import annotations

from hil.errors import HarnessError

NOT_IN_RECORDING = "hil replay: not in recording: "
NOT_IN_RECORDING_STATUS = 127


class NotInRecording(HarnessError):
    """A replayed board was sent a command its recording does not have."""


def check_replayed(board: str, command: str, output: str, exit_code: int | None) -> None:
    """Raise `NotInRecording` when a replayed board said so."""
    if exit_code == NOT_IN_RECORDING_STATUS and NOT_IN_RECORDING in output:
        said = output[output.index(NOT_IN_RECORDING) :].splitlines()[0]
        raise NotInRecording(f"{board}: `{command}` is not in the recording ({said})")


def guard(session) -> None:
    """Make `session.run` raise `NotInRecording` where the replayed board said so."""
    run = session.run

    def checked(command: str, *args, **kwargs):
        result = run(command, *args, **kwargs)
        check_replayed(session.name, command, result.output, result.exit_code)
        return result

    session.run = checked
