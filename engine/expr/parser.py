"""Lexer and parser: expression text to a syntax tree, with the position of every error and a
suggestion for a misspelt function name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from engine.errors import ExpressionError
from engine.expr.analysis import suggest
from engine.expr.functions import COMPREHENSIONS, FUNCTION_ARITY, FUNCTIONS
from engine.expr.syntax import COMPARISONS, Binary, Call, Comprehension, ListExpr, Literal, Node, Path, Unary

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "where", "true", "false", "null"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number | string | op | name | kw | end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"无法识别的字符 {text[pos]!r}", expression=text, position=pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group()
            if kind == "name" and value in _KEYWORDS:
                kind = "kw"
            tokens.append(Token(kind, value, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.kind in ("op", "kw") and tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            tok = self.peek()
            found = tok.text or "表达式结尾"
            raise ExpressionError(
                f"此处应为 {text!r}，实际为 {found!r}", expression=self.text, position=tok.pos
            )

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"多余的内容 {tok.text!r}", expression=self.text, position=tok.pos)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.accept("or"):
            node = Binary("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.accept("and"):
            node = Binary("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.accept("not"):
            return Unary("not", self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        node = self.parse_additive()
        tok = self.peek()
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.take()
            return Binary(tok.text, node, self.parse_additive())
        if tok.kind == "kw" and tok.text == "in":
            self.take()
            return Binary("in", node, self.parse_additive())
        if tok.kind == "kw" and tok.text == "not" and self.peek(1).text == "in":
            self.take()
            self.take()
            return Unary("not", Binary("in", node, self.parse_additive()))
        return node

    def parse_additive(self) -> Node:
        node = self.parse_multiplicative()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            op = self.take().text
            node = Binary(op, node, self.parse_multiplicative())
        return node

    def parse_multiplicative(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            op = self.take().text
            node = Binary(op, node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        if self.accept("-"):
            operand = self.parse_unary()
            if isinstance(operand, Literal) and isinstance(operand.value, Decimal):
                return Literal(operand.value.copy_negate())
            return Unary("-", operand)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Literal(Decimal(tok.text))
        if tok.kind == "string":
            body = tok.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body))
        if tok.kind == "kw" and tok.text in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[tok.text])
        if tok.kind == "op" and tok.text == "(":
            node = self.parse_or()
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            items: list[Node] = []
            if not self.accept("]"):
                items.append(self.parse_or())
                while self.accept(","):
                    items.append(self.parse_or())
                self.expect("]")
            return ListExpr(tuple(items))
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                self.take()
                return self.parse_call(tok)
            parts = [tok.text]
            while self.peek().kind == "op" and self.peek().text == ".":
                self.take()
                name = self.take()
                if name.kind not in ("name", "kw"):
                    raise ExpressionError("'.' 之后应为字段名", expression=self.text, position=name.pos)
                parts.append(name.text)
            return Path(tuple(parts))
        found = tok.text or "表达式结尾"
        raise ExpressionError(f"此处应为值或字段，实际为 {found!r}", expression=self.text, position=tok.pos)

    def parse_call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS and name.text not in COMPREHENSIONS:
            raise ExpressionError(
                f"未知函数 {name.text!r}",
                expression=self.text,
                position=name.pos,
                suggestion=suggest(name.text, [*FUNCTIONS, *COMPREHENSIONS]),
            )
        # comprehension: NAME in EXPR where EXPR
        if self.peek().kind == "name" and self.peek(1).text == "in":
            start = self.i
            var = self.take().text
            self.take()
            source = self.parse_additive()
            if self.accept("where"):
                predicate = self.parse_or()
                self.expect(")")
                if name.text not in COMPREHENSIONS:
                    raise ExpressionError(
                        f"函数 {name.text!r} 不支持 where 筛选", expression=self.text, position=name.pos
                    )
                return Comprehension(name.text, var, source, predicate)
            self.i = start
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.parse_or())
            while self.accept(","):
                args.append(self.parse_or())
            self.expect(")")
        if name.text not in FUNCTIONS:
            raise ExpressionError(
                f"函数 {name.text} 需要写成 {name.text}(x in 列表 where 条件)",
                expression=self.text,
                position=name.pos,
            )
        arity = FUNCTION_ARITY.get(name.text)
        if arity is not None and not (arity[0] <= len(args) <= arity[1]):
            raise ExpressionError(
                f"函数 {name.text} 需要 {arity[0]}–{arity[1]} 个参数，实际 {len(args)} 个",
                expression=self.text,
                position=name.pos,
            )
        return Call(name.text, tuple(args))


def parse(text: str) -> Node:
    """Parse an expression; raises ExpressionError with the position and a suggestion."""
    return _Parser(text).parse()
