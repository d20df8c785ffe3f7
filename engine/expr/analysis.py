"""Static analysis of syntax trees: the facts an expression reads, negation pushed down to the
comparisons, suggestions for misspelt names, and a tree written back as text (for messages)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.expr.syntax import Binary, Call, Comprehension, ListExpr, Literal, Node, Path, Unary

_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def suggest(name: str, candidates: Sequence[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"是否想写 {close[0]!r}？" if close else None


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents first."""
    out: list[Node] = [node]
    if isinstance(node, ListExpr):
        for item in node.items:
            out.extend(walk(item))
    elif isinstance(node, Unary):
        out.extend(walk(node.operand))
    elif isinstance(node, Binary):
        out.extend(walk(node.left))
        out.extend(walk(node.right))
    elif isinstance(node, Call):
        for arg in node.args:
            out.extend(walk(arg))
    elif isinstance(node, Comprehension):
        out.extend(walk(node.source))
        out.extend(walk(node.predicate))
    return out


def free_paths(node: Node, bound: frozenset[str] = frozenset()) -> list[Path]:
    """Paths that refer to facts (not to a comprehension's own variable), in order of appearance."""
    if isinstance(node, Path):
        return [] if node.parts[0] in bound else [node]
    if isinstance(node, Comprehension):
        return free_paths(node.source, bound) + free_paths(node.predicate, bound | {node.var})
    children: list[Node] = []
    if isinstance(node, ListExpr):
        children = list(node.items)
    elif isinstance(node, Unary):
        children = [node.operand]
    elif isinstance(node, Binary):
        children = [node.left, node.right]
    elif isinstance(node, Call):
        children = list(node.args)
    out: list[Path] = []
    for child in children:
        out.extend(free_paths(child, bound))
    return out


def negate(node: Node) -> Node:
    """Push a negation down to the comparisons (De Morgan). Sound in two-valued logic only:
    callers use it once every input of the expression is known."""
    if isinstance(node, Unary) and node.op == "not":
        return node.operand
    if isinstance(node, Binary):
        if node.op == "and":
            return Binary("or", negate(node.left), negate(node.right))
        if node.op == "or":
            return Binary("and", negate(node.left), negate(node.right))
        if node.op in _NEGATED:
            return Binary(_NEGATED[node.op], node.left, node.right)
    return Unary("not", node)


_PRECEDENCE = {"or": 1, "and": 2, "in": 4, "+": 5, "-": 5, "*": 6, "/": 6, **{op: 4 for op in _NEGATED}}


def literal_text(value: object) -> str:
    """A literal value as the language writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def unparse(node: Node, outer: int = 0) -> str:
    """The expression as text that parses back to the same tree (parenthesised only where needed)."""
    if isinstance(node, Literal):
        return literal_text(node.value)
    if isinstance(node, Path):
        return node.dotted
    if isinstance(node, ListExpr):
        return "[" + ", ".join(unparse(i) for i in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(unparse(a) for a in node.args) + ")"
    if isinstance(node, Comprehension):
        return f"{node.func}({node.var} in {unparse(node.source, 5)} where {unparse(node.predicate)})"
    if isinstance(node, Unary):
        if node.op == "not":
            text, own = "not " + unparse(node.operand, 3), 3
        else:
            text, own = "-" + unparse(node.operand, 7), 7
    else:
        own = _PRECEDENCE[node.op]
        # and/or and arithmetic group to the left; a comparison takes no comparison as an operand
        left = unparse(node.left, own + 1 if own == 4 else own)
        text = f"{left} {node.op} {unparse(node.right, own + 1)}"
    return f"({text})" if own < outer else text
