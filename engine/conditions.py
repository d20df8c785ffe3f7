"""Conditions in normal form: and/or of comparisons of fields and constants, negation pushed down to
the leaves. The form every evaluation backend starts from, and what the pre-check checks the types
of (the leaves)."""

from __future__ import annotations

from dataclasses import dataclass

from engine import expr as E
from engine.errors import ExpressionError


@dataclass(frozen=True)
class Leaf:
    """One comparison inside a condition (operands are paths or literals)."""

    op: str  # == != < <= > >= in truth
    left: E.Node
    right: E.Node | None


@dataclass(frozen=True, slots=True)
class Test:
    """One leaf of a condition in normal form; `negated` only for a truth test or an `in` (a
    negated comparison is the opposite comparison)."""

    leaf: Leaf
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Junction:
    op: str  # and | or
    parts: tuple[Shape, ...]


@dataclass(frozen=True, slots=True)
class Constant:
    value: bool


Shape = Test | Junction | Constant
"""A condition in normal form: and/or of leaves, negation pushed down to them (De Morgan)."""


def _operand(node: E.Node) -> E.Node:
    if isinstance(node, E.Call) and all(isinstance(a, E.Literal) for a in node.args):
        value = E.evaluate(node, {})
        if value is E.MISSING:
            raise ExpressionError(f"常量 {node.name}(...) 无法求值")
        return E.Literal(value)
    if isinstance(node, E.Path | E.Literal):
        return node
    raise ExpressionError(
        "条件中只能比较字段与常量（或两个字段）；计算、计数等请写进 derived，再在条件中引用",
    )


def _in_operands(node: E.Binary) -> tuple[E.Node, list[E.Node]]:
    left = _operand(node.left)
    if not isinstance(node.right, E.ListExpr) or not node.right.items:
        raise ExpressionError("条件中的 in 右侧必须是非空常量列表，如 ['a', 'b']")
    items = [_operand(i) for i in node.right.items]
    if not all(isinstance(i, E.Literal) for i in items):
        raise ExpressionError("条件中的 in 右侧必须是常量列表")
    return left, items


def normal_form(node: E.Node, leaves: list[Leaf] | None = None) -> Shape:
    """A condition as and/or of comparisons of fields and constants (constant calls folded), its
    leaves appended to `leaves` in order. Raises ExpressionError for anything else."""
    if leaves is None:
        leaves = []
    if isinstance(node, E.Binary) and node.op in ("and", "or"):
        return Junction(node.op, (normal_form(node.left, leaves), normal_form(node.right, leaves)))
    if isinstance(node, E.Unary) and node.op == "not":
        inner = node.operand
        if isinstance(inner, E.Path):
            leaf = Leaf("truth", inner, None)
            leaves.append(leaf)
            return Test(leaf, negated=True)
        if isinstance(inner, E.Binary) and inner.op == "in":
            left, items = _in_operands(inner)
            leaf = Leaf("in", left, E.ListExpr(tuple(items)))
            leaves.append(leaf)
            return Test(leaf, negated=True)
        if isinstance(inner, E.Unary) and inner.op == "not":
            return normal_form(inner.operand, leaves)
        pushed = E.negate(inner)
        if isinstance(pushed, E.Unary) and pushed.op == "not" and pushed.operand == inner:
            raise ExpressionError("条件中的 not 只能作用于比较、字段或它们的 and/or 组合")
        return normal_form(pushed, leaves)
    if isinstance(node, E.Path):
        leaf = Leaf("truth", node, None)
        leaves.append(leaf)
        return Test(leaf)
    if isinstance(node, E.Literal) and isinstance(node.value, bool):
        return Constant(node.value)
    if isinstance(node, E.Binary) and node.op in E.COMPARISONS:
        left, right = _operand(node.left), _operand(node.right)
        leaf = Leaf(node.op, left, right)
        leaves.append(leaf)
        return Test(leaf)
    if isinstance(node, E.Binary) and node.op == "in":
        left, items = _in_operands(node)
        leaf = Leaf("in", left, E.ListExpr(tuple(items)))
        leaves.append(leaf)
        return Test(leaf)
    raise ExpressionError("条件必须由比较、字段、and/or/not 组成；计算请写进 derived")
