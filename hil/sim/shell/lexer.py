"""Tokenizer of the simulated board's POSIX-sh subset.

Words keep their quoting as parts, so that expansion later knows what was
quoted (`'$?'` stays literal, `"$X"` is not field-split, `*` globs only
unquoted). Supported: '…', "…", backslash escapes, `$NAME`, `${NAME}`, `$?`,
`$$`, `$#`, `$(…)`, comments, and the operators ; & && || | ( ) < > >> N> N>&M.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ShellSyntaxError(Exception):
    """A line the shell cannot parse (unterminated quote, stray operator, ...)."""


class Incomplete(ShellSyntaxError):
    """The input ends inside a construct: an interactive shell reads another line (PS2)."""


@dataclass(frozen=True)
class Part:
    kind: str  # "lit", "var", "cmdsub"
    text: str
    quoted: bool


@dataclass
class Word:
    parts: list[Part] = field(default_factory=list)

    @property
    def literal(self) -> str | None:
        """The word's text if it is made of literals only."""
        if all(p.kind == "lit" for p in self.parts):
            return "".join(p.text for p in self.parts)
        return None

    @property
    def is_assignment(self) -> bool:
        first = self.parts[0] if self.parts else None
        if first is None or first.kind != "lit" or first.quoted or "=" not in first.text:
            return False
        name = first.text.split("=", 1)[0]
        return name.isidentifier()


@dataclass(frozen=True)
class Op:
    text: str
    fd: int | None = None  # for redirections: the io number before it


Token = Word | Op

OPERATORS = ["&&", "||", ">>", ">&", "<&", ";", "&", "|", "(", ")", "<", ">", "\n"]
_SPECIAL_VARS = set("?$#!0123456789")


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.i = 0
        self.tokens: list[Token] = []
        self.word: Word | None = None
        self.lit: list[str] = []

    # -- word building -------------------------------------------------
    def _flush_lit(self, quoted: bool = False) -> None:
        if self.lit:
            self._part(Part("lit", "".join(self.lit), quoted))
            self.lit = []

    def _part(self, part: Part) -> None:
        if self.word is None:
            self.word = Word()
        self.word.parts.append(part)

    def _end_word(self) -> None:
        self._flush_lit()
        if self.word is not None:
            self.tokens.append(self.word)
            self.word = None

    # -- scanning ------------------------------------------------------
    def run(self) -> list[Token]:
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            if c in " \t\r":
                self._end_word()
                self.i += 1
            elif c == "#" and self.word is None and not self.lit:
                while self.i < len(src) and src[self.i] != "\n":
                    self.i += 1
            elif c == "\\":
                if self.i + 1 < len(src):
                    if src[self.i + 1] != "\n":
                        self._flush_lit()
                        self._part(Part("lit", src[self.i + 1], True))
                    self.i += 2
                else:
                    raise Incomplete("line continuation")
            elif c == "'":
                end = src.find("'", self.i + 1)
                if end < 0:
                    raise Incomplete("unterminated quoted string")
                self._flush_lit()
                self._part(Part("lit", src[self.i + 1 : end], True))
                self.i = end + 1
            elif c == '"':
                self._flush_lit()
                self._double_quoted()
            elif c == "$":
                self._flush_lit()
                self._dollar(quoted=False)
            elif self._operator():
                pass
            else:
                self.lit.append(c)
                self.i += 1
        self._end_word()
        return self.tokens

    def _operator(self) -> bool:
        src = self.src
        for op in OPERATORS:
            if src.startswith(op, self.i):
                fd = None
                if op[0] in "<>" and self.word is None and self.lit and "".join(self.lit).isdigit():
                    fd = int("".join(self.lit))
                    self.lit = []
                self._end_word()
                self.tokens.append(Op(op, fd))
                self.i += len(op)
                return True
        return False

    def _double_quoted(self) -> None:
        src = self.src
        self.i += 1
        buf: list[str] = []
        had_part = False
        while True:
            if self.i >= len(src):
                raise Incomplete("unterminated quoted string")
            c = src[self.i]
            if c == '"':
                self.i += 1
                break
            if c == "\\" and self.i + 1 < len(src) and src[self.i + 1] in '"\\$`\n':
                if src[self.i + 1] != "\n":
                    buf.append(src[self.i + 1])
                self.i += 2
            elif c == "$":
                if buf:
                    self._part(Part("lit", "".join(buf), True))
                    buf = []
                had_part = self._dollar(quoted=True) or had_part
            else:
                buf.append(c)
                self.i += 1
        if buf or not had_part:
            # "" is an empty (but present) word
            self._part(Part("lit", "".join(buf), True))

    def _dollar(self, quoted: bool) -> bool:
        """Scan an expansion at `$`; return True if one was added."""
        src = self.src
        nxt = src[self.i + 1] if self.i + 1 < len(src) else ""
        if nxt == "(":
            depth, j = 1, self.i + 2
            quote = ""
            while j < len(src) and depth:
                ch = src[j]
                if quote:
                    if ch == quote:
                        quote = ""
                    elif ch == "\\" and quote == '"':
                        j += 1
                elif ch in "'\"":
                    quote = ch
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                j += 1
            if depth:
                raise Incomplete("unterminated $(")
            self._part(Part("cmdsub", src[self.i + 2 : j - 1], quoted))
            self.i = j
            return True
        if nxt == "{":
            end = src.find("}", self.i + 2)
            if end < 0:
                raise ShellSyntaxError("bad substitution")
            self._part(Part("var", src[self.i + 2 : end], quoted))
            self.i = end + 1
            return True
        if nxt in _SPECIAL_VARS and nxt:
            self._part(Part("var", nxt, quoted))
            self.i += 2
            return True
        j = self.i + 1
        while j < len(src) and (src[j].isalnum() or src[j] == "_"):
            j += 1
        if j == self.i + 1:
            self._part(Part("lit", "$", quoted))
            self.i += 1
            return False
        self._part(Part("var", src[self.i + 1 : j], quoted))
        self.i = j
        return True


def tokenize(src: str) -> list[Token]:
    """Split a command line into words and operators."""
    return _Lexer(src).run()
