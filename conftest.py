"""Root conftest: the suites get the hil plugin through its pytest11 entry point."""
