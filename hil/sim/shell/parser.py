"""Parser of the simulated shell: tokens → a small AST.

list     := and_or ((';' | '&' | '\\n') and_or)*
and_or   := pipeline (('&&' | '||') pipeline)*
pipeline := ['!'] command ('|' command)*
command  := '(' list ')' redirect* | '{' list '}' redirect* | NAME '(' ')' command
          | (assignment | word | redirect)+

Input that ends inside a construct (an open `{`, `(`, quote, or after `&&`,
`||`, `|`) raises `Incomplete`: an interactive shell then reads another line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.sim.shell.lexer import Incomplete, Op, ShellSyntaxError, Token, Word, tokenize


@dataclass
class Redirect:
    op: str  # "<", ">", ">>", ">&", "<&"
    fd: int
    target: Word


@dataclass
class Simple:
    assignments: list[Word] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Subshell:
    body: CommandList
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Group:
    """`{ list; }`: a list run by the current shell, with redirections for all of it."""

    body: CommandList
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class FuncDef:
    name: str
    body: Command


Command = Simple | Subshell | Group | FuncDef


@dataclass
class Pipeline:
    commands: list[Command]
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


@dataclass
class CommandList:
    items: list[AndOr] = field(default_factory=list)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def is_op(self, *texts: str) -> bool:
        t = self.peek()
        return isinstance(t, Op) and t.text in texts

    def is_word(self, text: str) -> bool:
        t = self.peek()
        return isinstance(t, Word) and t.literal == text and not t.parts[0].quoted

    def at_closing(self, closing: str | None) -> bool:
        if closing == "}":
            return self.is_word("}")
        return bool(closing) and self.is_op(closing)  # type: ignore[arg-type]

    def parse_list(self, closing: str | None = None) -> CommandList:
        result = CommandList()
        while True:
            while self.is_op("\n"):
                self.i += 1
            t = self.peek()
            if t is None:
                if closing:
                    raise Incomplete(f"missing `{closing}'")
                return result
            if self.at_closing(closing):
                return result
            result.items.append(self.parse_and_or())
            if self.is_op(";", "&", "\n"):
                self.i += 1
            elif self.peek() is not None and not self.at_closing(closing):
                raise ShellSyntaxError(f"syntax error near unexpected token `{_text(self.peek())}'")

    def parse_and_or(self) -> AndOr:
        node = AndOr(self.parse_pipeline())
        while self.is_op("&&", "||"):
            op = self.toks[self.i].text  # type: ignore[union-attr]
            self.i += 1
            while self.is_op("\n"):
                self.i += 1
            if self.peek() is None:
                raise Incomplete(f"input ends after `{op}'")
            node.rest.append((op, self.parse_pipeline()))
        return node

    def parse_pipeline(self) -> Pipeline:
        negate = False
        t = self.peek()
        if isinstance(t, Word) and t.literal == "!":
            negate = True
            self.i += 1
        cmds = [self.parse_command()]
        while self.is_op("|"):
            self.i += 1
            while self.is_op("\n"):
                self.i += 1
            if self.peek() is None:
                raise Incomplete("input ends after `|'")
            cmds.append(self.parse_command())
        return Pipeline(cmds, negate)

    def parse_command(self) -> Command:
        if self.is_op("("):
            self.i += 1
            body = self.parse_list(closing=")")
            if not self.is_op(")"):
                raise ShellSyntaxError("syntax error: missing `)'")
            self.i += 1
            sub = Subshell(body)
            while self._redirect_next():
                sub.redirects.append(self.parse_redirect())
            return sub
        if self.is_word("{"):
            self.i += 1
            group = Group(self.parse_list(closing="}"))
            self.i += 1
            while self._redirect_next():
                group.redirects.append(self.parse_redirect())
            return group
        t = self.peek()
        if isinstance(t, Word) and (t.literal or "").isidentifier() and self._funcdef_next():
            self.i += 3
            while self.is_op("\n"):
                self.i += 1
            if self.peek() is None:
                raise Incomplete("function body missing")
            return FuncDef(t.literal or "", self.parse_command())
        cmd = Simple()
        while True:
            t = self.peek()
            if isinstance(t, Word):
                if not cmd.words and t.is_assignment:
                    cmd.assignments.append(t)
                else:
                    cmd.words.append(t)
                self.i += 1
            elif self._redirect_next():
                cmd.redirects.append(self.parse_redirect())
            else:
                break
        if not (cmd.words or cmd.assignments or cmd.redirects):
            raise ShellSyntaxError(f"syntax error near unexpected token `{_text(t)}'")
        return cmd

    def _funcdef_next(self) -> bool:
        """`NAME ( )` ahead: a function definition."""
        ahead = self.toks[self.i + 1 : self.i + 3]
        return [t.text if isinstance(t, Op) else None for t in ahead] == ["(", ")"]

    def _redirect_next(self) -> bool:
        return self.is_op("<", ">", ">>", ">&", "<&")

    def parse_redirect(self) -> Redirect:
        op = self.toks[self.i]
        assert isinstance(op, Op)
        self.i += 1
        target = self.peek()
        if not isinstance(target, Word):
            raise ShellSyntaxError(f"syntax error near unexpected token `{_text(target)}'")
        self.i += 1
        fd = op.fd if op.fd is not None else (0 if op.text.startswith("<") else 1)
        return Redirect(op.text, fd, target)


def _text(t: Token | None) -> str:
    if t is None:
        return "newline"
    if isinstance(t, Op):
        return "newline" if t.text == "\n" else t.text
    return t.literal or "word"


def parse(src: str) -> CommandList:
    """Parse a command line; raise `ShellSyntaxError` on bad syntax."""
    return _Parser(tokenize(src)).parse_list()
