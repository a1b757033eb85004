"""The busybox core: echo, printf, cat, ls, grep, head, tail, files and text tools."""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re

from hil.sim.commands import command
from hil.sim.shell.interp import CommandError, Proc


@command("true")
def true(p: Proc) -> int:
    return 0


@command("false")
def false(p: Proc) -> int:
    return 1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "a": "\a", "e": "\x1b", "0": "\0"}


def _unescape(s: str) -> str:
    return re.sub(r"\\([ntr\\ae0])", lambda m: _ESCAPES[m.group(1)], s)


@command("echo")
def echo(p: Proc) -> int:
    args = p.args[1:]
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        newline = newline and "n" not in args[0]
        escapes = "e" in args[0] or escapes
        args = args[1:]
    text = " ".join(args)
    p.out((_unescape(text) if escapes else text) + ("\n" if newline else ""))
    return 0


@command("printf")
def printf(p: Proc) -> int:
    if len(p.args) < 2:
        raise CommandError("usage: printf FORMAT [ARG]...")
    fmt, args = _unescape(p.args[1]), p.args[2:]
    out: list[str] = []
    spec = re.compile(r"%(-?\d*)([sdbx%])")
    while True:
        i = 0

        def conv(m: re.Match[str], args: list[str] = args) -> str:
            nonlocal i
            if m.group(2) == "%":
                return "%"
            arg = args[i] if i < len(args) else ""
            i += 1
            kind = m.group(2)
            if kind == "b":
                return _unescape(arg)
            if kind in "dx":
                try:
                    num = int(arg or 0)
                except ValueError:
                    raise CommandError(f"invalid number '{arg}'") from None
                return f"{num:{m.group(1)}{kind}}"
            return f"{arg:{'<' if m.group(1).startswith('-') else '>'}{m.group(1).lstrip('-')}}"

        out.append(spec.sub(conv, fmt))
        args = args[i:]
        if not args or i == 0:
            break
    p.out("".join(out))
    return 0


def _inputs(p: Proc, names: list[str]) -> list[tuple[str, bytes | None]]:
    """(name, data) for each file operand, or stdin when there is none."""
    if not names:
        return [("-", p.stdin)]
    result: list[tuple[str, bytes | None]] = []
    for n in names:
        if n == "-":
            result.append((n, p.stdin))
            continue
        try:
            result.append((n, p.world.fs.read(p.path(n))))
        except CommandError as e:
            p.err(f"{p.name}: {e}\n".replace(p.path(n), n))
            result.append((n, None))
    return result


@command("cat")
def cat(p: Proc) -> int:
    status = 0
    for _, data in _inputs(p, [a for a in p.args[1:] if a != "-u"]):
        if data is None:
            status = 1
        else:
            p.out(data)
    return status


@command("ls")
def ls(p: Proc) -> int:
    flags = "".join(a[1:] for a in p.args[1:] if a.startswith("-"))
    operands = [a for a in p.args[1:] if not a.startswith("-")] or ["."]
    fs = p.world.fs
    status = 0
    many = len(operands) > 1
    for n, name in enumerate(operands):
        path = p.path(name)
        if not fs.exists(path):
            p.err(f"ls: {name}: No such file or directory\n")
            status = 1
            continue
        if not fs.isdir(path) or "d" in flags:
            entries = [(name, path)]
        else:
            names = fs.listdir(path)
            if "a" not in flags:
                names = [x for x in names if not x.startswith(".")]
            entries = [(x, posixpath.join(path, x)) for x in names]
            if many:
                p.out(("\n" if n else "") + f"{name}:\n")
        for label, full in entries:
            if "l" in flags:
                p.out(_long_line(p, label, full))
            else:
                p.out(label + ("/" if "F" in flags and fs.isdir(full) else "") + "\n")
    return status


def _long_line(p: Proc, label: str, full: str) -> str:
    fs = p.world.fs
    if fs.isdir(full):
        return f"drwxr-xr-x    2 root     root             0 Jan  1 00:00 {label}\n"
    mode = fs.mode(full)
    bits = "".join(ch if mode & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))
    size = len(fs.read(full))
    return f"-{bits}    1 root     root    {size:10d} Jan  1 00:00 {label}\n"


def _grep_pattern(p: Proc, args: list[str]) -> tuple[re.Pattern[str], set[str], list[str]]:
    flags: set[str] = set()
    rest: list[str] = []
    pattern: str | None = None
    it = iter(args)
    for a in it:
        if a == "-e":
            pattern = next(it, "")
        elif a == "-m" and pattern is None:
            flags.add("m" + next(it, "0"))  # -m NUM: stop after NUM matching lines
        elif a.startswith("-") and len(a) > 1 and pattern is None and not rest:
            flags.update(a[1:])
        elif pattern is None:
            pattern = a
        else:
            rest.append(a)
    if pattern is None:
        raise CommandError("usage: grep [-qvicEFxw] PATTERN [FILE]...", 2)
    if "F" in flags:
        pattern = re.escape(pattern)
    elif "E" not in flags:
        # basic regex: \( \) \| \+ are the specials; bare ( ) | + are literal
        pattern = re.sub(
            r"\\([()|+?{}])|([()|+?{}])", lambda m: m.group(1) or "\\" + m.group(2), pattern
        )
    if "x" in flags:
        pattern = f"^(?:{pattern})$"
    if "w" in flags:
        pattern = rf"\b(?:{pattern})\b"
    try:
        return re.compile(pattern, re.I if "i" in flags else 0), flags, rest
    except re.error as e:
        raise CommandError(f"bad regex '{pattern}': {e}", 2) from None


@command("grep", "egrep", "fgrep")
def grep(p: Proc) -> int:
    extra = {"egrep": ["-E"], "fgrep": ["-F"]}.get(p.name, [])
    rx, flags, files = _grep_pattern(p, extra + p.args[1:])
    limit = next((int(f[1:]) for f in flags if f.startswith("m") and f[1:].isdigit()), None)
    flags = {f for f in flags if not (f.startswith("m") and f[1:].isdigit())}
    matched = 0
    inputs = _inputs(p, files)
    for name, data in inputs:
        if data is None:
            continue
        count = 0
        for line in data.decode("utf-8", "replace").splitlines():
            if limit is not None and count >= limit:
                break
            if bool(rx.search(line)) != ("v" in flags):
                count += 1
                if not ({"q", "c", "l"} & flags):
                    prefix = f"{name}:" if len(inputs) > 1 else ""
                    p.out(f"{prefix}{line}\n")
        if "c" in flags:
            p.out(f"{count}\n")
        if "l" in flags and count:
            p.out(f"{name}\n")
        matched += count
    if any(d is None for _, d in inputs):
        return 2
    return 0 if matched else 1


def _count_arg(p: Proc, default: int) -> tuple[int, list[str]]:
    n, files, args = default, [], p.args[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-n" and i + 1 < len(args):
            n, i = int(args[i + 1].lstrip("+")), i + 1
        elif re.fullmatch(r"-n?\d+", a):
            n = int(a.lstrip("-n"))
        else:
            files.append(a)
        i += 1
    return n, files


@command("head")
def head(p: Proc) -> int:
    n, files = _count_arg(p, 10)
    for _, data in _inputs(p, files):
        if data is not None:
            p.out(b"".join(data.splitlines(keepends=True)[:n]))
    return 0


@command("tail")
def tail(p: Proc) -> int:
    n, files = _count_arg(p, 10)
    for _, data in _inputs(p, files):
        if data is not None:
            p.out(b"".join(data.splitlines(keepends=True)[-n:] if n else []))
    return 0


@command("wc")
def wc(p: Proc) -> int:
    flags = "".join(a[1:] for a in p.args[1:] if a.startswith("-")) or "lwc"
    files = [a for a in p.args[1:] if not a.startswith("-")]
    for name, data in _inputs(p, files):
        if data is None:
            continue
        counts = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data)}
        cols = [str(counts[f]) for f in "lwc" if f in flags]
        p.out(" ".join(cols) + (f" {name}" if files else "") + "\n")
    return 0


@command("mkdir")
def mkdir(p: Proc) -> int:
    parents = "-p" in p.args
    for name in (a for a in p.args[1:] if not a.startswith("-")):
        path = p.path(name)
        if p.world.fs.isdir(path):
            if not parents:
                raise CommandError(f"can't create directory '{name}': File exists")
            continue
        p.world.fs.mkdir(path, parents=parents)
    return 0


@command("rm")
def rm(p: Proc) -> int:
    flags = "".join(a[1:] for a in p.args[1:] if a.startswith("-"))
    status = 0
    for name in (a for a in p.args[1:] if not a.startswith("-")):
        path = p.path(name)
        if not p.world.fs.exists(path):
            if "f" not in flags:
                p.err(f"rm: can't remove '{name}': No such file or directory\n")
                status = 1
            continue
        if p.world.fs.isdir(path) and "r" not in flags.lower():
            p.err(f"rm: '{name}' is a directory\n")
            status = 1
            continue
        p.world.fs.remove(path, recursive=True)
    return status


@command("mv")
def mv(p: Proc) -> int:
    names = [a for a in p.args[1:] if not a.startswith("-")]
    if len(names) != 2:
        raise CommandError("usage: mv SOURCE DEST")
    p.world.fs.rename(p.path(names[0]), p.path(names[1]))
    return 0


@command("cp")
def cp(p: Proc) -> int:
    names = [a for a in p.args[1:] if not a.startswith("-")]
    if len(names) != 2:
        raise CommandError("usage: cp SOURCE DEST")
    src, dst = p.path(names[0]), p.path(names[1])
    if p.world.fs.isdir(dst):
        dst = posixpath.join(dst, posixpath.basename(src))
    p.world.fs.write(dst, p.world.fs.read(src), mode=p.world.fs.mode(src))
    return 0


@command("touch")
def touch(p: Proc) -> int:
    for name in p.args[1:]:
        path = p.path(name)
        if not p.world.fs.exists(path):
            p.world.fs.write(path, b"")
    return 0


@command("chmod")
def chmod(p: Proc) -> int:
    if len(p.args) < 3:
        raise CommandError("usage: chmod MODE FILE...")
    mode = p.args[1]
    for name in p.args[2:]:
        path = p.path(name)
        cur = p.world.fs.mode(path)
        if re.fullmatch(r"[0-7]{3,4}", mode):
            new = int(mode, 8)
        elif mode in ("+x", "a+x", "u+x"):
            new = cur | (0o111 if mode != "u+x" else 0o100)
        elif mode in ("-x", "a-x"):
            new = cur & ~0o111
        else:
            raise CommandError(f"invalid mode '{mode}'")
        p.world.fs.chmod(path, new)
    return 0


def _digest(p: Proc, algo: str) -> int:
    status = 0
    files = [a for a in p.args[1:] if not a.startswith("-")]
    for name, data in _inputs(p, files):
        if data is None:
            status = 1
            continue
        p.out(f"{hashlib.new(algo, data).hexdigest()}  {name}\n")
    return status


_DD_UNITS = {"": 1, "c": 1, "w": 2, "b": 512, "k": 1024, "K": 1024, "M": 1 << 20}


def _dd_number(text: str) -> int:
    m = re.fullmatch(r"(\d+)([cwbkKM]?)", text)
    if not m:
        raise CommandError(f"invalid number '{text}'")
    return int(m.group(1)) * _DD_UNITS[m.group(2)]


@command("dd")
def dd(p: Proc) -> int:
    """`dd [if=F] [bs=N] [skip=N] [count=N]` to stdout, with its record counts on stderr."""
    opts = dict(a.split("=", 1) for a in p.args[1:] if "=" in a)
    bs = _dd_number(opts.get("bs", "512")) or 512
    data = p.world.fs.read(p.path(opts["if"])) if "if" in opts else p.stdin or b""
    data = data[_dd_number(opts.get("skip", "0")) * bs :]
    if "count" in opts:
        data = data[: _dd_number(opts["count"]) * bs]
    p.out(data)
    records = f"{len(data) // bs}+{1 if len(data) % bs else 0}"
    p.err(f"{records} records in\n{records} records out\n{len(data)} bytes copied\n")
    return 0


@command("sha256sum")
def sha256sum(p: Proc) -> int:
    return _digest(p, "sha256")


@command("md5sum")
def md5sum(p: Proc) -> int:
    return _digest(p, "md5")


@command("base64")
def base64_(p: Proc) -> int:
    files = [a for a in p.args[1:] if not a.startswith("-")]
    for _, data in _inputs(p, files):
        if data is None:
            return 1
        if "-d" in p.args:
            try:
                p.out(base64.b64decode(b"".join(data.split()), validate=True))
            except ValueError:
                raise CommandError("invalid input") from None
        else:
            enc = base64.b64encode(data).decode()
            p.out("".join(enc[i : i + 76] + "\n" for i in range(0, len(enc), 76)))
    return 0


@command("test", "[")
def test(p: Proc) -> int:
    args = p.args[1:]
    if p.name == "[":
        if not args or args[-1] != "]":
            raise CommandError("missing ]", 2)
        args = args[:-1]
    negate = bool(args) and args[0] == "!"
    if negate:
        args = args[1:]
    result = _test(p, args)
    return 0 if result != negate else 1


def _test(p: Proc, args: list[str]) -> bool:
    fs = p.world.fs
    if not args:
        return False
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, arg = args
        checks = {
            "-e": lambda: fs.exists(p.path(arg)),
            "-f": lambda: fs.isfile(p.path(arg)),
            "-d": lambda: fs.isdir(p.path(arg)),
            "-s": lambda: fs.isfile(p.path(arg)) and bool(fs.read(p.path(arg))),
            "-x": lambda: fs.exists(p.path(arg)) and bool(fs.mode(p.path(arg)) & 0o111),
            "-n": lambda: arg != "",
            "-z": lambda: arg == "",
        }
        if op not in checks:
            raise CommandError(f"{op}: unknown operand", 2)
        return checks[op]()
    a, op, b = args[:3]
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    ops = {
        "-eq": int.__eq__,
        "-ne": int.__ne__,
        "-lt": int.__lt__,
        "-le": int.__le__,
        "-gt": int.__gt__,
        "-ge": int.__ge__,
    }
    if op in ops:
        try:
            return ops[op](int(a), int(b))
        except ValueError:
            raise CommandError(
                f"invalid number '{a if not a.lstrip('-').isdigit() else b}'", 2
            ) from None
    raise CommandError(f"{op}: unknown operand", 2)


@command("seq")
def seq(p: Proc) -> int:
    nums = [int(a) for a in p.args[1:]]
    start, end = (1, nums[0]) if len(nums) == 1 else (nums[0], nums[-1])
    step = nums[1] if len(nums) == 3 else 1
    for i in range(start, end + 1, step):
        p.check_interrupt()
        p.out(f"{i}\n")
    return 0


@command("tr")
def tr(p: Proc) -> int:
    args = [a for a in p.args[1:]]
    delete = args and args[0] == "-d"
    if delete:
        chars = _unescape(args[1])
        p.out(bytes(b for b in p.stdin if chr(b) not in chars))
        return 0
    src, dst = _unescape(args[0]), _unescape(args[1])
    table = {ord(s): dst[min(i, len(dst) - 1)] for i, s in enumerate(src)}
    p.out(p.stdin.decode("utf-8", "replace").translate(table))
    return 0


@command("sort")
def sort(p: Proc) -> int:
    lines = p.stdin.decode("utf-8", "replace").splitlines()
    p.out("".join(x + "\n" for x in sorted(lines, reverse="-r" in p.args)))
    return 0


@command("basename")
def basename(p: Proc) -> int:
    p.out(posixpath.basename(p.args[1].rstrip("/")) + "\n")
    return 0


@command("dirname")
def dirname(p: Proc) -> int:
    p.out((posixpath.dirname(p.args[1].rstrip("/")) or ".") + "\n")
    return 0


@command("sync")
def sync(p: Proc) -> int:
    return 0
