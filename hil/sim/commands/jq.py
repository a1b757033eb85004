"""jq, as balenaOS ships it in the host OS — the small part of its language the harness uses.

Filters: `.`, paths of keys and indexes (`.os.network`, `.[0]`, `.a[1].b`),
and `A * B` of two such paths (jq's recursive object merge, which merges
config.json on a live board). Options: `-s` (slurp), `-c`, `-r`, `-e`.
Anything else fails as jq fails on a filter it cannot compile (exit 3), so a
suite that needs more finds out at once instead of getting a wrong answer.
"""

from __future__ import annotations

import json
import re

from hil.sim.commands import command
from hil.sim.shell.interp import CommandError, Proc

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\.\[(\d+)\]")


@command("jq")
def jq(p: Proc) -> int:
    flags: set[str] = set()
    operands: list[str] = []
    for a in p.args[1:]:
        if a.startswith("-") and len(a) > 1 and not operands:
            flags.update(a[1:])
        else:
            operands.append(a)
    if not operands:
        raise CommandError("usage: jq [-scre] FILTER [FILE]...", 2)
    program, files = operands[0], operands[1:]
    evaluate = _compile(program)
    inputs = _inputs(p, files)
    if "s" in flags:
        inputs = [inputs]
    last = None
    for value in inputs:
        last = evaluate(value)
        p.out(_format(last, compact="c" in flags, raw="r" in flags) + "\n")
    if "e" in flags:
        return 0 if last not in (None, False) else 1
    return 0


def _inputs(p: Proc, files: list[str]) -> list[object]:
    texts: list[bytes] = []
    if not files:
        texts.append(p.stdin)
    for name in files:
        try:
            texts.append(p.world.fs.read(p.path(name)))
        except CommandError:
            raise CommandError(
                f"error: Could not open file {name}: No such file or directory", 2
            ) from None
    values: list[object] = []
    decoder = json.JSONDecoder()
    for data in texts:
        text = data.decode("utf-8", "replace")
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                # jq 1.6 (Debian 12) exits 4 on input it cannot parse
                raise CommandError(
                    f"parse error: {e.msg} at line {e.lineno}, column {e.colno}", 4
                ) from None
            values.append(value)
    return values


def _compile(program: str):
    program = program.strip()
    if "*" in program:
        left, _, right = program.partition("*")
        a, b = _path(left.strip(), program), _path(right.strip(), program)
        return lambda v: _multiply(a(v), b(v))
    return _path(program, program)


def _path(text: str, program: str):
    if text == ".":
        return lambda v: v
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if not m:
            raise CommandError(
                f"error: {program!r} is beyond the simulated board's jq "
                "(., .key.path, .[N], A * B)",
                3,
            )
        key, index, dot_index = m.groups()
        steps.append(key if key is not None else int(index or dot_index))
        pos = m.end()

    def walk(value: object) -> object:
        for step in steps:
            if value is None:
                return None
            if isinstance(step, str):
                if not isinstance(value, dict):
                    raise CommandError(f'error: Cannot index {_type(value)} with "{step}"', 5)
                value = value.get(step)
            else:
                if not isinstance(value, list):
                    raise CommandError(f"error: Cannot index {_type(value)} with number", 5)
                value = value[step] if step < len(value) else None
        return value

    return walk


def _multiply(a: object, b: object) -> object:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = (
                _multiply(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
            )
        return out
    raise CommandError(f"error: {_type(a)} and {_type(b)} cannot be multiplied", 5)


def _type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _format(value: object, compact: bool, raw: bool) -> str:
    if raw and isinstance(value, str):
        return value
    if compact:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(value, indent=2, ensure_ascii=False)
