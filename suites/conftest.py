"""The qualification suites. The `hil` pytest plugin (options --lab/--board,
fixtures lab/board/shell, markers needs/faults) arrives through its pytest11
entry point; nothing else is needed here."""
