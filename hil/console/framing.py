"""How a command's output travels from the board's shell, and how it is checked.

The command runs in the current shell with its output (stdout and stderr,
interleaved as written) captured in a file on the board; then a helper
function prints a frame:

    START\\n<output>\\nEND s<status> s<status> <kind> <digest> END\\n

- START and END are random markers, typed as split quotes (`'ab12''cd34'`)
  so that the echo of the typed line can never match them (labgrid's trick).
- `<kind> <digest>` lets the harness check that it received exactly what
  the command wrote: `len N` (a byte count the shell computes with builtins
  only — no process is started, so a command costs what it costs without the
  harness) or `md5 HEX` (md5sum, for big outputs, outputs with NUL bytes, and
  whenever the count is not enough to decide), `wc N` where md5sum is missing.
  A lost byte, or a kernel message the stream did not recognise, makes the
  check fail; the frame is then printed again from the file — the command is
  never run twice.
- The status is printed twice: a damaged digit cannot pass for another status.
  `s-` means the command never ran; `s` (empty) that it was interrupted.
- The output is printed only once the command is done: while it runs the line
  carries nothing but kernel messages (and signs of a reboot, which end the
  wait), and nothing the command prints can pass for a marker, a prompt or a
  death string. The command's stdout is a file, not a terminal: programs do
  not colour, page or wrap their output.

Kernel messages that land inside a frame are cut out by the stream and put
back where they were if the digest says they belong to the output: a real
`dmesg` line is never eaten, and a kernel message never ends up in `output`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

#: the longest line a board's tty takes in canonical mode (N_TTY_BUF_SIZE - 1),
#: with margin: longer lines are silently truncated by the kernel
MAX_LINE_BYTES = 4000
#: outputs up to this size are printed by shell builtins (bash, busybox ash)
BUILTIN_LIMIT = 65536
#: more kernel-message cuts than this in one frame: don't try every combination
MAX_SUBSET_CUTS = 8
#: a damaged frame this big is printed again in pieces of this size, each with
#: its own digest: on a line that loses a byte in 3000, a frame of 4 KB gets
#: through intact one time in four, a piece of 512 bytes five times in six
PIECE_BYTES = 512


@dataclass(frozen=True)
class Marker:
    """A random marker: `typed` goes on the command line, `text` is what the shell prints."""

    text: str

    @classmethod
    def new(cls) -> Marker:
        return cls(secrets.token_hex(6))

    @property
    def typed(self) -> str:
        return f"'{self.text[:6]}''{self.text[6:]}'"

    @property
    def raw(self) -> bytes:
        return self.text.encode()


@dataclass(frozen=True)
class Capabilities:
    """What the board's shell offers, found by `probe_text()` at setup."""

    builtin_len: bool  # `read -d '' -n` and `local`: outputs counted without a process
    digest: str  # "md5" (md5sum) or "wc" (wc -c)
    output_file: str  # where command output is captured on the board
    bash: bool  # readline takes any line length; other shells: MAX_LINE_BYTES


# -- what is typed on the board ------------------------------------------------
PS2 = "<hil-more>"


def setup_text(quiet_kernel: bool, reply: Marker) -> str:
    """One line that makes the shell machine-friendly and reports what it offers.

    No echo, no wrapping, no bracketed paste, TAB typed as itself, no history,
    no pager or colours; then it finds a writable file for command output and
    asks whether `read -d '' -n` (bash, busybox ash) and md5sum exist. The
    answer is printed after `reply`. One line: a board may count lines.
    """
    tries = " || ".join(
        f'{{ __hil_f={d}/.hil-console.$$; : >"$__hil_f"; }} 2>/dev/null' for d in _OUTPUT_DIRS
    )
    steps = [
        "stty -echo -onlcr cols 4096 2>/dev/null",
        "set +o emacs +o vi 2>/dev/null",
        "unset PROMPT_COMMAND",
        "set +o history 2>/dev/null",
        "bind 'set enable-bracketed-paste off' 2>/dev/null",
        "bind '\"\\C-i\": self-insert' 2>/dev/null",
        f"PS2='{PS2}'",
        "export TERM=dumb NO_COLOR=1 PAGER=cat SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 LESS=FRX",
        *(["dmesg -n 1 2>/dev/null"] if quiet_kernel else []),
        f"{tries} || __hil_f=",
        'printf ab >"$__hil_f" 2>/dev/null',
        "__hil_v=",
        "IFS= read -r -d '' -n 5 __hil_v <\"$__hil_f\" 2>/dev/null",
        '__hil_r="$? ${#__hil_v}"',
        'md5sum <"$__hil_f" >/dev/null 2>&1 && __hil_k=md5 || __hil_k=wc',
        f'printf \'%s|%s|%s|%s|%s\\n\' {reply.typed} "$__hil_r" "$__hil_k" '
        '"${BASH_VERSION:-}" "$__hil_f"',
    ]
    return "; ".join(steps) + "\n"


#: where command output is captured on the board, in order of preference: a RAM
#: filesystem first (truncating a file on a disk costs ten times more)
_OUTPUT_DIRS = ["/dev/shm", "${TMPDIR:-/tmp}", "/run", "/var/tmp", "$HOME"]


PROBE_REPLY = re.compile(rb"\|([^|\r\n]*)\|(md5|wc)\|([^|\r\n]*)\|([^|\r\n]*)\r?\n")


def parse_probe(match: re.Match[bytes]) -> Capabilities:
    read_result, digest, bash_version, output_file = (g.decode() for g in match.groups())
    return Capabilities(
        builtin_len=read_result == "1 2",
        digest=digest,
        output_file=output_file,
        bash=bool(bash_version),
    )


def helpers_text(caps: Capabilities, done: Marker) -> str:
    """One line defining the functions that print a frame (module docstring), then `done`.

    `__hil_s` is the running command's status: `-` until its group starts, empty
    while it runs, its exit status once done. Printing a frame moves it to
    `__hil_t` and resets it to `-`, so a command line the shell refused (a
    syntax error) prints `-`. A reprint (`full`) prints the last frame's status
    again — or `` if the command was interrupted before its frame.
    """
    tool = "md5sum" if caps.digest == "md5" else "wc -c"
    status = (
        '[ "$3" = full ] && [ "$__hil_s" = - ] && __hil_s=$__hil_t; __hil_t=$__hil_s; __hil_s=-'
    )
    full = (
        '__hil_m() { printf \'%s\\n\' "$1"; cat "$__hil_f"; '
        f'printf \'\\n%s s%s s%s {caps.digest} %s %s\\n\' "$2" "$__hil_t" "$__hil_t" '
        f'"$({tool} <"$__hil_f")" "$2"; }}'
    )
    piece = f'dd if="$__hil_f" bs={PIECE_BYTES} skip="$3" count=1 2>/dev/null'
    pieces = (
        f"__hil_c() {{ printf '%s\\n' \"$1\"; {piece}; "
        f'printf \'\\n%s s%s s%s {caps.digest} %s %s\\n\' "$2" "$__hil_t" "$__hil_t" '
        f'"$({piece} | {tool})" "$2"; }}'
    )
    if caps.builtin_len:
        short = (
            f'__hil_p() {{ {status}; local LC_ALL=C __hil_v=; [ "$3" = full ] || '
            f"IFS= read -r -d '' -n {BUILTIN_LIMIT} __hil_v <\"$__hil_f\"; "
            'if [ $? = 1 ]; then printf \'%s\\n%s\\n%s s%s s%s len %d %s\\n\' "$1" "$__hil_v" '
            '"$2" "$__hil_t" "$__hil_t" ${#__hil_v} "$2"; else __hil_m "$1" "$2"; fi; }'
        )
    else:
        short = f'__hil_p() {{ {status}; __hil_m "$1" "$2"; }}'
    return f"__hil_s=-; __hil_t=-; {full}; {pieces}; {short}; echo {done.typed}\n"


def command_text(command: str, start: Marker, end: Marker) -> str:
    """The lines typed for one command: run it captured, then print its frame.

    The frame is printed by a line of its own, so that a command with a syntax
    error (the shell drops its lines) still gets one (status `s-`: it never ran).
    """
    return (
        f"{{ __hil_s=; {command}\n"
        f'}} >"$__hil_f" 2>&1; __hil_s=${{__hil_s:-$?}}\n'
        f"__hil_p {start.typed} {end.typed}\n"
    )


def reprint_text(start: Marker, end: Marker) -> str:
    """Print the last command's frame again, with a digest (md5 or wc)."""
    return f"__hil_p {start.typed} {end.typed} full\n"


def piece_text(start: Marker, end: Marker, index: int) -> str:
    """Print piece `index` (PIECE_BYTES bytes) of the last command's output as a frame
    of its own, with its own digest and the command's status."""
    return f"__hil_c {start.typed} {end.typed} {index}\n"


def check_lines(command: str, caps: Capabilities | None) -> None:
    """Refuse a command the board's tty would truncate or mangle."""
    if any(c in command for c in "\x03\x04\x1a\x1c\x15\x7f\r"):
        raise ValueError("command contains terminal control characters")
    if caps is not None and caps.bash:
        return
    for line in command.split("\n"):
        if len(line.encode()) > MAX_LINE_BYTES:
            raise ValueError(
                f"a line of the command is {len(line.encode())} bytes: the board's tty "
                f"truncates lines longer than {MAX_LINE_BYTES} — split it"
            )


# -- what comes back -------------------------------------------------------------
@dataclass(frozen=True)
class Trailer:
    status: int | None  # None: interrupted or never ran
    ran: bool
    kind: str  # len | md5 | wc
    digest: str


_TRAILER = re.compile(rb"^ s(\d*|-) s(\d*|-) (len|md5|wc) (.*) $", re.S)


def parse_trailer(body: bytes) -> Trailer | None:
    """The middle of `END s0 s0 len 3 END`; None if damaged."""
    m = _TRAILER.match(body)
    if not m or m.group(1) != m.group(2):
        return None
    status, kind, digest = m.group(1).decode(), m.group(3).decode(), m.group(4).decode()
    digest = digest.split()[0] if digest.split() else ""
    if kind == "md5" and not re.fullmatch(r"[0-9a-f]{32}", digest):
        return None
    if kind in ("len", "wc") and not digest.isdigit():
        return None
    return Trailer(
        status=int(status) if status not in ("", "-") else None,
        ran=status != "-",
        kind=kind,
        digest=digest,
    )


def matches(trailer: Trailer, data: bytes) -> bool:
    if trailer.kind == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest() == trailer.digest
    return len(data) == int(trailer.digest)


def _unwire(region: bytes) -> Iterator[bytes]:
    """The output as the command wrote it, from the bytes between the markers.

    The region ends with the newline the frame adds before END (its `\\r` when
    the tty maps NL to CR-NL). ONLCR is undone exactly by turning every CR-NL
    back into NL; a line with ONLCR off is taken as it came.
    """
    if region.endswith(b"\r"):
        yield region[:-1].replace(b"\r\n", b"\n")
    yield region


def _with(region: bytes, cuts: list[tuple[int, bytes]], chosen: tuple[int, ...]) -> bytes:
    out = bytearray()
    pos = 0
    for i in chosen:
        at, data = cuts[i]
        out += region[pos:at]
        out += data
        pos = at
    out += region[pos:]
    return bytes(out)


def _subsets(n: int) -> Iterator[tuple[int, ...]]:
    """Which cut kernel lines to put back: none, all, then every other combination."""
    yield ()
    if n == 0:
        return
    yield tuple(range(n))
    if n > MAX_SUBSET_CUTS:
        for i in range(n):  # all but one, and only one
            yield tuple(j for j in range(n) if j != i)
            yield (i,)
        return
    for size in range(1, n):
        yield from itertools.combinations(range(n), size)


def reconstruct(
    region: bytes, cuts: list[tuple[int, bytes]], trailer: Trailer
) -> tuple[bytes, frozenset[int]] | None:
    """The command's exact output, and which of the cut lines were part of it.

    `cuts` are (offset in region, bytes) of kernel messages the stream cut.
    Returns (output, indices of the cuts put back), or None when no candidate
    passes the check or a byte count cannot decide (the caller then asks for
    an md5).
    """
    if cuts and trailer.kind != "md5":
        return None  # a byte count cannot tell a kernel message from a line of output
    found: dict[bytes, frozenset[int]] = {}
    for chosen in _subsets(len(cuts)):
        wire = _with(region, cuts, chosen)
        for data in _unwire(wire):
            if matches(trailer, data):
                found.setdefault(data, frozenset(chosen))
        if found and trailer.kind == "md5":
            break
    if len(found) != 1:
        return None
    return next(iter(found.items()))
