"""The Chinese labels of coded registry values, by the fact paths of a ruleset that hold them.

A registry's enum column declares its codes with their labels (engine.registries). A ruleset reads
such a column through a look-up (`person.status`), or through a derived value or a decision-table
column that only passes one on (`if(person.found, person.status, 'not_found')`, `coalesce(a, b)`).
Messages and pages print a value held at such a path as its label ("死亡" rather than "deceased"); a
value that is not one of the codes (the literal 'not_found' above) is printed as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine import expr as E
from engine.errors import ExpressionError
from engine.model import Ruleset
from engine.registries import REGISTRIES

Labels = Mapping[str, str]

_PASS_THROUGH = {"if": slice(1, None), "coalesce": slice(0, None)}
"""Functions whose value is one of their arguments (those of the slice)."""


def coded_labels(ruleset: Ruleset) -> dict[str, Labels]:
    """Fact path → labels of the codes it holds: `lookup.column` for every enum column of the
    look-up's registry, then the derived values and decision-table columns whose value always comes
    from such a path (or is a text literal), through `if` and `coalesce`."""
    out: dict[str, Labels] = {}
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
    return out


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
