"""Run every benchmark module of `bench/` (`make bench`), or those named on the line."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    )
    if not names:
        print("bench: no benchmarks yet")
        return 0
    status = 0
    for name in names:
        print(f"== bench.{name}", flush=True)
        status |= int(importlib.import_module(f"bench.{name}").main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
