"""The Chinese labels of coded values, by the fact paths of a ruleset that hold them.

A registry's enum column declares its codes with their labels (engine.registries), and so does a
declared form field of type `enum` (its `choices`: code → label; a field of the elements of a `list`
field too). A ruleset reads such a value from the form (`form.degree`), through a look-up
(`person.status`), or through a derived value or a decision-table column that only passes one on
(`if(person.found, person.status, 'not_found')`, `coalesce(a, b)`); a value compared with `==` or `!=`
in a condition to a labelled one (`form.usage == deal.usage`) has the same codes and takes the same
labels. Messages and pages print a value held at such a path as its label ("死亡" rather than
"deceased", "本科" rather than "bachelor"); a value that is not one of the codes (the literal
'not_found' above) is printed as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine import expr as E
from engine.errors import ExpressionError
from engine.model import FieldSpec, Ruleset
from engine.registries import REGISTRIES

Labels = Mapping[str, str]

_PASS_THROUGH = {"if": slice(1, None), "coalesce": slice(0, None)}
"""Functions whose value is one of their arguments (those of the slice)."""


def coded_labels(ruleset: Ruleset) -> dict[str, Labels]:
    """Fact path → labels of the codes it holds: `lookup.column` for every enum column of the
    look-up's registry, then the derived values and decision-table columns whose value always comes
    from such a path (or is a text literal), through `if` and `coalesce`."""
    out: dict[str, Labels] = _form_labels(ruleset.fields, "form")
    for name, lk in ruleset.lookups.items():
        registry = REGISTRIES.get(lk.registry)
        for column in registry.columns if registry is not None else ():
            if column.labels:
                out[f"{name}.{column.name}"] = column.labels
    candidates: dict[str, list[E.Node]] = {}
    try:
        for name, d in ruleset.derived.items():
            candidates[name] = [E.parse(d.expr)]
        for name, t in ruleset.tables.items():
            for out_column in t.rows[0].then if t.rows else {}:
                nodes = [E.parse(row.then[out_column]) for row in t.rows if out_column in row.then]
                candidates[f"{name}.{out_column}"] = nodes
    except ExpressionError:
        return out  # the program builder reports it
    changed = True
    while changed:  # a derived value may pass on another one: until nothing more is found
        changed = False
        for path, nodes in candidates.items():
            if path in out:
                continue
            labels = _union([_through(n, out) for n in nodes])
            if labels:
                out[path] = labels
                changed = True
    try:
        whens = [E.parse(c.when) for c in ruleset.conditions]
    except ExpressionError:
        return out
    for when in whens:
        for a, b in _equalities(when):
            if a in out and b not in out:
                out[b] = out[a]
            elif b in out and a not in out:
                out[a] = out[b]
    return out


def _form_labels(fields: Mapping[str, FieldSpec], prefix: str) -> dict[str, Labels]:
    """`form.<field>` → the labels of an enum field's choices; `form.<list>.<field>` for the fields of a
    list's elements (the path holds the list of their values, each labelled)."""
    out: dict[str, Labels] = {}
    for name, spec in fields.items():
        path = f"{prefix}.{name}"
        if spec.type == "enum" and spec.choices:
            out[path] = spec.choices
        elif spec.type == "list" and spec.items:
            out.update(_form_labels(spec.items, path))
    return out


def _equalities(node: E.Node) -> list[tuple[str, str]]:
    """The pairs of paths a condition compares with `==` or `!=`, through `and`, `or` and `not`."""
    if isinstance(node, E.Binary):
        if node.op in ("==", "!=") and isinstance(node.left, E.Path) and isinstance(node.right, E.Path):
            return [(node.left.dotted, node.right.dotted)]
        if node.op in ("and", "or"):
            return _equalities(node.left) + _equalities(node.right)
    if isinstance(node, E.Unary) and node.op == "not":
        return _equalities(node.operand)
    return []


def _through(node: E.Node, known: Mapping[str, Labels]) -> dict[str, str] | None:
    """The labels of the codes `node` can evaluate to ({} when it is only text literals), or None
    when it can be something else."""
    if isinstance(node, E.Literal):
        return {} if isinstance(node.value, str) or node.value is None else None
    if isinstance(node, E.Path):
        labels = known.get(node.dotted)
        return dict(labels) if labels is not None else None
    if isinstance(node, E.Call) and node.name in _PASS_THROUGH:
        return _union([_through(a, known) for a in node.args[_PASS_THROUGH[node.name]]])
    return None


def _union(parts: list[dict[str, str] | None]) -> dict[str, str] | None:
    if any(p is None for p in parts):
        return None
    merged: dict[str, str] = {}
    for p in parts:
        assert p is not None
        for code, label in p.items():
            merged.setdefault(code, label)
    return merged


def labelled(value: Any, labels: Labels | None) -> Any:
    """`value` with its codes replaced by their labels (each element of a list)."""
    if not labels:
        return value
    if isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return [labelled(v, labels) for v in value]
    return value
