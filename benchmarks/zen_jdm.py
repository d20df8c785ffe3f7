"""The zen-engine peer: a ruleset written as a JDM decision graph, and the input zen evaluates.

    .venv/bin/python -m benchmarks.zen_jdm [--write]     # regenerate benchmarks/zen/<item>.json

The graph is generated from rulesets/<item>/ruleset.yaml by translating our expression language
(engine/expr/) into ZEN expressions:

- derived values → expression nodes (`$.name` for a value computed earlier in the same node),
  decision tables → `decisionTableNode`s with the first-hit policy, conditions, materials, outputs
  and the outcome → one last expression node;
- registry look-ups are *not* in the graph: like every peer evaluating "pre-gathered data", zen
  gets the rows each look-up fetched in its input (gathered once, before timing);
- our three-valued logic is kept: a value that is not known is `null` in zen, a declared "none"
  (our `null`) is the string NONE; a condition is `unknown` when one of its inputs is `null`,
  exactly as the engine's pre-check decides, and comparisons are guarded so `null` propagates
  instead of raising (ZEN refuses to order `null`);
- dates travel as ISO strings and are ordered with `d(...)`; money is rounded with `round(x, 2)`
  (half away from zero, as ours on positive amounts).

Only the parts of the language the pilot rulesets use in derived values, tables, conditions and
outputs are translated; anything else raises `Untranslatable` naming the expression.

Why one module of this length: it is a translator from our expression language to ZEN expressions, case
by case of the syntax tree, plus the input builder; its halves are read together."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import expr as E  # noqa: E402
from engine.case import Case  # noqa: E402
from engine.facts import Facts  # noqa: E402
from engine.model import Derived, Lookup, Table  # noqa: E402
from engine.program import Program, Step  # noqa: E402
from engine.registries import REGISTRIES  # noqa: E402

NONE = "\u2205"
"""How a declared "none" (our `null`) reaches zen; zen's own null stands for "not known"."""
GRAPHS = ROOT / "benchmarks" / "zen"


class Untranslatable(Exception):
    """An expression uses something the JDM translation does not cover."""


# --------------------------------------------------------------------------- translation


@dataclass
class _Scope:
    program: Program
    bound: dict[str, tuple[str, str]] = field(default_factory=dict)
    """comprehension variable → (kind, name): ("registry", registry) or ("form", list field)."""
    known: frozenset[str] = frozenset()
    """Dotted paths checked non-null before this expression runs."""
    local: frozenset[str] = frozenset()
    """Names computed earlier in the same expression node (referenced as `$.name`)."""
    raw: bool = False
    """Inside a strict expression already guarded as a whole: no guards of its own."""

    def with_var(self, var: str, kind: tuple[str, str]) -> _Scope:
        return _Scope(self.program, {**self.bound, var: kind}, self.known, self.local, self.raw)

    def unguarded(self) -> _Scope:
        return _Scope(self.program, self.bound, self.known, self.local, True)

    def knowing(self, paths: list[E.Path]) -> _Scope:
        known = self.known | {p.dotted for p in paths}
        return _Scope(self.program, self.bound, known, self.local, self.raw)


def _steps(program: Program) -> dict[str, Step]:
    return {s.name: s for s in program.steps}


def _literal(value: Any) -> str:
    if value is None:
        return json.dumps(NONE, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise Untranslatable(f"literal {value!r}")


def _is_list(node: E.Node, sc: _Scope) -> bool:
    """Whether a path's head is a list (a look-up returning rows, or a list field of the form)."""
    if not isinstance(node, E.Path):
        return False
    head = node.parts[0]
    if head == "form" and len(node.parts) >= 2:
        spec = sc.program.ruleset.fields.get(node.parts[1])
        return spec is not None and spec.type == "list"
    step = _steps(sc.program).get(head)
    return step is not None and step.kind == "lookup" and not step.spec.one  # type: ignore[union-attr]


def _column_is_date(registry: str, column: str) -> bool:
    col = REGISTRIES[registry].column(column)
    return col is not None and col.kind == "date"


def _is_date(node: E.Node, sc: _Scope) -> bool:
    """Static type: does the expression give a date?"""
    rs = sc.program.ruleset
    if isinstance(node, E.Call):
        if node.name == "add_months":
            return True
        if node.name == "if":
            return _is_date(node.args[1], sc) or _is_date(node.args[2], sc)
        if node.name == "coalesce":
            return any(_is_date(a, sc) for a in node.args)
        return False
    if not isinstance(node, E.Path):
        return False
    head, rest = node.parts[0], node.parts[1:]
    if head in sc.bound:
        kind, name = sc.bound[head]
        if not rest:
            return False
        if kind == "registry":
            return _column_is_date(name, rest[0])
        items = rs.fields[name].items or {}
        return rest[0] in items and items[rest[0]].type == "date"
    if head == "case":
        return rest == ("submitted_on",)
    if head == "form" and rest:
        spec = rs.fields[rest[0]]
        return spec.type == "date" and len(rest) == 1
    if head == "documents" and len(rest) == 2:
        for m in rs.materials:
            if m.document_kind == rest[0] and rest[1] in m.fields:
                return m.fields[rest[1]].type == "date"
        return False
    step = _steps(sc.program).get(head)
    if step is None:
        return False
    if step.kind == "lookup" and rest:
        assert isinstance(step.spec, Lookup)
        return _column_is_date(step.spec.registry, rest[0])
    if step.kind == "derived" and not rest:
        assert step.value is not None
        return _is_date(step.value, sc)
    if step.kind == "table" and rest:
        return any(_is_date(then[rest[0]], sc) for _, then in step.rows if rest[0] in then)
    return False


def _may_miss(node: E.Node, sc: _Scope) -> bool:
    """Static: can the expression be "not known" (null in zen)? Conservative."""
    if isinstance(node, E.Literal):
        return False
    if isinstance(node, E.ListExpr):
        return any(_may_miss(i, sc) for i in node.items)
    if isinstance(node, E.Path):
        if node.dotted in sc.known:
            return False
        head = node.parts[0]
        if head in sc.bound or head in ("form", "params", "case", "applicant"):
            return False
        step = _steps(sc.program).get(head)
        if step is None:
            return True
        if step.kind == "lookup":
            spec = step.spec
            assert isinstance(spec, Lookup)
            if spec.one:
                return True
            return step.where is not None or any(_may_miss(m, sc) for m in step.match.values())
        if step.kind == "derived":
            assert step.value is not None
            return _may_miss(step.value, _Scope(sc.program))
        return True
    if isinstance(node, E.Unary):
        return _may_miss(node.operand, sc)
    if isinstance(node, E.Binary):
        return _may_miss(node.left, sc) or _may_miss(node.right, sc)
    if isinstance(node, E.Call):
        if node.name in ("collect", "known"):
            return False
        if node.name == "coalesce":
            return True
        return any(_may_miss(a, sc) for a in node.args)
    if isinstance(node, E.Comprehension):
        inner = sc.with_var(node.var, ("registry", ""))
        return _may_miss(node.source, sc) or any(
            _may_miss(p, inner) for p in E.free_paths(node.predicate, frozenset(sc.bound) | {node.var})
        )
    return True


STRICT_CALLS = ("count", "round", "add_months", "exists")


def _strict(node: E.Node) -> bool:
    """Unknown exactly when one of its paths is: comparisons, arithmetic and strict functions of
    paths and literals (no and/or/not, if, coalesce or comprehension)."""
    if isinstance(node, E.Literal | E.Path):
        return True
    if isinstance(node, E.ListExpr):
        return all(_strict(i) for i in node.items)
    if isinstance(node, E.Unary):
        return node.op == "-" and _strict(node.operand)
    if isinstance(node, E.Binary):
        return node.op not in ("and", "or") and _strict(node.left) and _strict(node.right)
    if isinstance(node, E.Call):
        if node.name == "count" and node.args and isinstance(node.args[0], E.Call):
            return False
        return node.name in STRICT_CALLS and all(_strict(a) for a in node.args)
    return False


def _guard(parts: list[tuple[E.Node, str]], body: str, sc: _Scope) -> str:
    """`null` when any of the operands that may be unknown is, else `body`."""
    if sc.raw:
        return body
    tests = list(dict.fromkeys(f"({text}) == null" for node, text in parts if _may_miss(node, sc)))
    if not tests:
        return body
    return f"(({' or '.join(tests)}) ? null : ({body}))"


def _path(node: E.Path, sc: _Scope) -> str:
    parts = node.parts
    head = parts[0]
    if head in ("form", "applicant", "case", "documents") or head in sc.bound:
        base = head
    elif head == "params":
        if len(parts) != 2:
            raise Untranslatable(node.dotted)
        return _literal(_param(sc.program, parts[1]))
    elif head in sc.local:
        base = f"$.{head}"
    else:
        base = head
    rest = list(parts[1:])
    if head == "form" and len(parts) > 2 and _is_list(E.Path(parts[:2]), sc):
        return f"map({base}.{parts[1]}, #.{'.'.join(parts[2:])})"
    if _is_list(E.Path((head,)), sc) and rest and head not in sc.bound:
        return f"map({base}, #.{'.'.join(rest)})"
    return ".".join([base, *rest])


def _param(program: Program, name: str) -> Any:
    value = program.ruleset.parameters[name].value
    if isinstance(value, bool | str):
        return value
    return Decimal(str(value))


def translate(node: E.Node, sc: _Scope) -> str:
    """A ZEN expression computing the same value (null where ours is not known)."""
    t = translate
    if not sc.raw and _strict(node) and not isinstance(node, E.Literal | E.Path):
        # one guard over the paths instead of one per operation
        paths = [(p, _path(p, sc)) for p in E.free_paths(node, frozenset(sc.bound))]
        return _guard(paths, translate(node, sc.unguarded()), sc)
    if isinstance(node, E.Literal):
        return _literal(node.value)
    if isinstance(node, E.Path):
        return _path(node, sc)
    if isinstance(node, E.ListExpr):
        return "[" + ", ".join(t(i, sc) for i in node.items) + "]"
    if isinstance(node, E.Unary):
        a = t(node.operand, sc)
        body = f"not ({a})" if node.op == "not" else f"-({a})"
        return _guard([(node.operand, a)], body, sc)
    if isinstance(node, E.Binary):
        a, b = t(node.left, sc), t(node.right, sc)
        if node.op in ("and", "or"):
            if not (_may_miss(node.left, sc) or _may_miss(node.right, sc)):
                return f"({a}) {node.op} ({b})"
            short = "false" if node.op == "and" else "true"
            other = "true" if node.op == "and" else "false"
            return (
                f"((({a}) == {short} or ({b}) == {short}) ? {short} : "
                f"((({a}) == null or ({b}) == null) ? null : {other}))"
            )
        if node.op in ("<", "<=", ">", ">="):
            if _is_date(node.left, sc) or _is_date(node.right, sc):
                body = f"d({a}) {node.op} d({b})"
            else:
                body = f"({a}) {node.op} ({b})"
        elif node.op in ("==", "!="):
            body = f"({a}) {node.op} ({b})"
        elif node.op == "in":
            body = f"({a}) in ({b})"
        elif node.op in ("+", "-", "*", "/"):
            if _is_date(node.left, sc):
                raise Untranslatable("date arithmetic")
            body = f"({a}) {node.op} ({b})"
        else:
            raise Untranslatable(node.op)
        return _guard([(node.left, a), (node.right, b)], body, sc)
    if isinstance(node, E.Call):
        return _call(node, sc)
    if isinstance(node, E.Comprehension):
        return _comprehension(node, sc)
    raise Untranslatable(repr(node))


def _is_record(node: E.Node, sc: _Scope) -> bool:
    """A look-up's single record or a document's fields: a mapping with `found`."""
    if not isinstance(node, E.Path):
        return False
    if node.parts[0] == "documents":
        return len(node.parts) == 2
    step = _steps(sc.program).get(node.parts[0])
    return len(node.parts) == 1 and step is not None and step.kind == "lookup" and bool(step.spec.one)  # type: ignore[union-attr]


def _call(node: E.Call, sc: _Scope) -> str:
    name = node.name
    inner = node.args[0] if node.args else None
    if name == "count" and isinstance(inner, E.Call) and inner.name == "distinct":
        # a distinct count without a `unique` function: the sum of 1/multiplicity
        xs = translate(inner.args[0], sc)
        body = f"round(sum(map({xs} as x_, 1 / count({xs} as y_, y_ == x_))), 0)"
        return _guard([(inner.args[0], xs)], body, sc)
    args = [translate(a, sc) for a in node.args]
    pairs = list(zip(node.args, args, strict=True))
    if name == "if":
        cond = node.args[0]
        if _strict(cond) and not sc.raw:
            # guard the condition's paths once; the branches may rely on them
            paths = [p for p in E.free_paths(cond, frozenset(sc.bound)) if _may_miss(p, sc)]
            inner = sc.knowing(paths)
            c, a, b = (translate(x, inner) for x in node.args)
            return _guard([(p, _path(p, sc)) for p in paths], f"({c}) ? ({a}) : ({b})", sc)
        c, a, b = args
        return _guard(pairs[:1], f"({c}) ? ({a}) : ({b})", sc)
    if name == "count":
        return _guard(pairs, f"len({args[0]})", sc)
    if name == "round":
        places = args[1] if len(args) > 1 else "0"
        return _guard(pairs, f"round({args[0]}, {places})", sc)
    if name == "add_months":
        return _guard(pairs, f'd({args[0]}).add({args[1]}, "M").format("%Y-%m-%d")', sc)
    if name == "coalesce":
        out = "null"
        for arg, a in reversed(pairs):
            usable = f'({a}) != null and ({a}) != "{NONE}"'
            if _is_record(arg, sc):
                usable = f"({a}).found == true"
            out = f"(({usable}) ? ({a}) : {out})"
        return out
    if name == "collect":
        listed = "[" + ", ".join(args) + "]"
        flat = f'flatMap({listed}, type(#) == "array" ? # : [#])'
        return f'filter({flat}, # != null and # != "{NONE}")'
    if name == "known":
        return f"({args[0]}) != null"
    if name == "exists":
        return _guard(pairs, f'({args[0]}) != "{NONE}"', sc)
    raise Untranslatable(f"function {name}()")


def _comprehension(node: E.Comprehension, sc: _Scope) -> str:
    source = translate(node.source, sc)
    kind: tuple[str, str] = ("registry", "")
    src = node.source
    if isinstance(src, E.Path):
        head = src.parts[0]
        step = _steps(sc.program).get(head)
        if step is not None and step.kind == "lookup" and len(src.parts) == 1:
            assert isinstance(step.spec, Lookup)
            kind = ("registry", step.spec.registry)
        elif head == "form" and len(src.parts) == 2:
            kind = ("form", src.parts[1])
    free = list(E.free_paths(node.predicate, frozenset(sc.bound) | {node.var}))
    inner = sc.with_var(node.var, kind).knowing(free)
    pred = translate(node.predicate, inner)
    fn = {"count": "count", "any": "some", "all": "all", "select": "filter"}[node.func]
    body = f"{fn}({source} as {node.var}, {pred})"
    parts: list[tuple[E.Node, str]] = [(node.source, source)] + [(p, translate(p, sc)) for p in free]
    return _guard(parts, body, sc)


# --------------------------------------------------------------------------- the graph


def _node(nid: str, kind: str, name: str, x: int, content: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": nid, "type": kind, "name": name, "position": {"x": x, "y": 100}}
    if content is not None:
        node["content"] = content
    return node


def _expressions(pairs: list[tuple[str, str]], *, pass_through: bool) -> dict[str, Any]:
    return {
        "expressions": [{"id": f"e{i}", "key": k, "value": v} for i, (k, v) in enumerate(pairs)],
        "passThrough": pass_through,
        "inputField": None,
        "outputPath": None,
        "executionMode": "single",
    }


def build_graph(program: Program) -> dict[str, Any]:
    """The JDM decision graph of a compiled ruleset."""
    nodes = [_node("input", "inputNode", "case", 0, {"schema": ""})]
    pending: list[tuple[str, str]] = []
    local: set[str] = set()

    def flush() -> None:
        if pending:
            n = len(nodes)
            nodes.append(
                _node(
                    f"derived{n}",
                    "expressionNode",
                    "derived",
                    200 * n,
                    _expressions(pending, pass_through=True),
                )
            )
            pending.clear()
            local.clear()

    for step in program.steps:
        if step.kind == "lookup":
            continue
        sc = _Scope(program, local=frozenset(local))
        if step.kind == "derived":
            assert isinstance(step.spec, Derived) and step.value is not None
            pending.append((step.name, translate(step.value, sc)))
            local.add(step.name)
            continue
        flush()
        assert isinstance(step.spec, Table)
        nodes.append(_table(program, step, len(nodes)))
    flush()
    nodes.append(_final(program, len(nodes)))
    nodes.append(_node("output", "outputNode", "decision", 200 * len(nodes), {"schema": ""}))
    edges = [
        {"id": f"edge{i}", "type": "edge", "sourceId": a["id"], "targetId": b["id"]}
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}


def _table(program: Program, step: Step, n: int) -> dict[str, Any]:
    sc = _Scope(program)
    columns = list(step.rows[0][1])
    outputs = [{"id": f"o_{c}", "name": c, "field": f"{step.name}.{c}"} for c in columns]
    rules: list[dict[str, str]] = []
    for i, (when, then) in enumerate(step.rows):
        missing = [p for p in E.free_paths(when) if _may_miss(p, sc)]
        if missing:
            # our table is "not known" when the row reached has an unknown input
            test = " or ".join(f"({translate(p, sc)}) == null" for p in missing)
            rules.append({"_id": f"r{i}u", "when": test, **{f"o_{c}": "null" for c in columns}})
        cell = translate(when, sc)
        rules.append({"_id": f"r{i}", "when": "" if cell == "true" else cell})
        rules[-1].update({f"o_{c}": translate(then[c], sc) for c in columns})
    content = {
        "hitPolicy": "first",
        "inputs": [{"id": "when", "name": "when", "field": ""}],
        "outputs": outputs,
        "rules": rules,
        "passThrough": True,
        "inputField": None,
        "outputPath": None,
        "executionMode": "single",
    }
    return _node(f"table_{step.name}", "decisionTableNode", step.name, 200 * n, content)


def _final(program: Program, n: int) -> dict[str, Any]:
    pairs: list[tuple[str, str]] = []
    for cc in program.conditions:
        sc = _Scope(program)
        unknown = [p for p in cc.paths if _may_miss(E.Path(tuple(p.split("."))), sc)]
        known_sc = _Scope(program, known=frozenset(cc.paths))
        body = f'({translate(cc.ast, known_sc)}) ? "pass" : "fail"'
        if unknown:
            test = " and ".join(f"({_path(E.Path(tuple(p.split('.'))), sc)}) != null" for p in unknown)
            body = f'({test}) ? ({body}) : "unknown"'
        pairs.append((f"conditions.{cc.spec.id}", body))
    for m, exempt in program.materials:
        supplied = (
            f'contains(case.document_kinds, "{m.document_kind}")'
            if m.document_kind
            else f'contains(case.commitments, "{m.commitment}")'
        )
        body = f'{supplied} ? "supplied" : "missing"'
        if exempt is not None:
            body = f'({translate(exempt, _Scope(program))}) == true ? "exempt" : ({body})'
        pairs.append((f"materials.{m.id}", body))
    for name, _out, node in program.outputs:
        text = translate(node, _Scope(program))
        pairs.append((f"outputs.{name}", text))
    reject = [cc.spec.id for cc in program.conditions if cc.spec.on_fail == "reject"]
    ret = [cc.spec.id for cc in program.conditions if cc.spec.on_fail == "return"]

    def any_of(ids: list[str], status: str) -> str:
        return " or ".join(f'$.conditions.{i} == "{status}"' for i in ids) or "false"

    missing = " or ".join(f'$.materials.{m.id} == "missing"' for m, _ in program.materials) or "false"
    not_pass = " or ".join(f'$.conditions.{cc.spec.id} != "pass"' for cc in program.conditions)
    outcome = (
        f'({any_of(reject, "fail")}) ? "rejected" : (({missing}) or ({any_of(ret, "fail")})) ? "returned" : '
        f'({not_pass}) ? "review" : "approved"'
    )
    pairs.append(("outcome", outcome))
    return _node("decision", "expressionNode", "conditions", 200 * n, _expressions(pairs, pass_through=False))


# --------------------------------------------------------------------------- the input


def zen_value(value: Any) -> Any:
    """A fact value as zen's input: unknown → null, our "none" → NONE, decimals as numbers."""
    if value is E.MISSING:
        return None
    if value is None:
        return NONE
    if isinstance(value, bool | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [zen_value(v) for v in value]
    if isinstance(value, Mapping):
        return {k: zen_value(v) for k, v in value.items()}
    raise TypeError(f"no zen value for {value!r}")


def zen_input(program: Program, case: Case, facts: Facts) -> dict[str, Any]:
    """What zen is given: the declared form, the applicant, the case, the documents' fields and the
    rows every look-up fetched (already in `facts`, gathered once before timing)."""
    env = facts.env
    data: dict[str, Any] = {
        "form": zen_value(env["form"]),
        "applicant": zen_value(env["applicant"]),
        "case": {
            "submitted_on": case.submitted_on.isoformat(),
            "commitments": list(case.commitments),
            "document_kinds": [d.kind for d in case.documents],
        },
        "documents": zen_value(env["documents"]),
    }
    for step in program.steps:
        if step.kind == "lookup":
            data[step.name] = zen_value(env[step.name])
    return data


def normalise_outputs(program: Program, raw: Mapping[str, Any]) -> dict[str, Any]:
    """zen's outputs in the decision's formats (money with two places, dates ISO, ...)."""
    from engine.decision import format_output

    out: dict[str, Any] = {}
    for name, spec, _node in program.outputs:
        v = raw.get(name)
        if v is None:
            continue
        if (
            spec.type in ("money", "decimal", "integer")
            and isinstance(v, int | float)
            and not isinstance(v, bool)
        ):
            value: Any = Decimal(repr(v))
        elif spec.type == "date" and isinstance(v, str):
            value = date.fromisoformat(v)
        else:
            value = v
        try:
            out[name] = format_output(spec, value)
        except (TypeError, ArithmeticError):
            continue
    return out


def graph_path(item: str) -> Path:
    return GRAPHS / f"{item}.json"


def graph_text(program: Program) -> str:
    return json.dumps(build_graph(program), ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> None:
    from service.rulesets import RulesetCatalogue

    parser = argparse.ArgumentParser(description="ruleset → JDM decision graph for zen-engine")
    parser.add_argument("--write", action="store_true", help="write benchmarks/zen/<item>.json")
    args = parser.parse_args(argv)
    repo = RulesetCatalogue(ROOT / "rulesets")
    for item in repo.items():
        text = graph_text(repo.get(item))
        path = graph_path(item)
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        else:
            same = path.is_file() and path.read_text(encoding="utf-8") == text
            print(f"{item}: {'up to date' if same else 'differs from ' + str(path.relative_to(ROOT))}")


if __name__ == "__main__":
    main()
