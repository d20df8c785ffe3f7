"""A decision specialised to one ruleset: every expression of the ruleset (look-up keys and filters,
derived values, decision tables, exemptions of materials, outputs) generated as Python source and
compiled together once (engine.expr.codegen), and each step of fact gathering composed from them
into one runner, with what does not depend on the case (the registry's title and key, the step's
sources, a `coalesce`'s arguments) settled when it is built. Built once per program and kept with it
(`Program.memo`; programs are cached by ruleset hash).

The tree-walking path (engine.facts.gather_facts over engine.expr, engine.decision.assemble over
`E.evaluate`) stays the definition and the oracle: `decide(..., oracle=True)` takes it, and the
differential tests (tests/engine/test_specialised.py) hold both decisions equal, whole, on every
sample case and on random cases and registries. durable_rules still evaluates the conditions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine import expr as E
from engine.case import Case
from engine.expr.codegen import Generated, generate
from engine.facts import (
    _ENGINE_TYPES,
    DocumentFacts,
    Facts,
    Source,
    _initial_facts,
    _plain,
)
from engine.model import Derived, Lookup, Table
from engine.ports import Query, RegistryPort
from engine.precheck import _BY_VALUE, Checked, Encoder, _info, _leaf_problem
from engine.program import CompiledCondition, Program, Step, engine_value
from engine.registries import REGISTRIES

Runner = Callable[[Facts, RegistryPort], None]
QueryOf = Callable[[dict[str, Any]], "Query | None"]


@dataclass(frozen=True)
class Specialised:
    """What `gather` and `assemble` run for one program."""

    steps: tuple[tuple[Step, Runner, QueryOf | None], ...]
    """Each step with its runner and, for a look-up, the query it will ask (for reading ahead)."""
    exempt: tuple[Generated | None, ...]
    """Per material of `program.materials`, its `exempt_when` (None when it has none)."""
    outputs: tuple[Generated, ...]
    """Per output of `program.outputs`, its expression."""


def specialised(program: Program) -> Specialised:
    """The program's specialised decision, built on first use."""
    return program.memo("specialised", _build)


class _Nodes:
    """Collects the expressions to generate; each gets the index of its function."""

    def __init__(self) -> None:
        self.nodes: list[tuple[E.Node, tuple[str, ...]]] = []

    def add(self, node: E.Node, bound: tuple[str, ...] = ()) -> int:
        self.nodes.append((node, bound))
        return len(self.nodes) - 1


def _build(program: Program) -> Specialised:
    nodes = _Nodes()
    plans: list[tuple[Step, Any]] = []
    for step in program.steps:
        if step.kind == "lookup":
            match = [(col, nodes.add(node)) for col, node in step.match.items()]
            where = nodes.add(step.where, ("row",)) if step.where is not None else None
            plans.append((step, (match, where)))
        elif step.kind == "derived":
            assert step.value is not None
            node = step.value
            args = None
            if isinstance(node, E.Call) and node.name == "coalesce":
                args = [
                    (nodes.add(arg), arg.dotted if isinstance(arg, E.Path) else None) for arg in node.args
                ]
            plans.append((step, (nodes.add(node), args)))
        else:
            rows = [
                (nodes.add(when), [(col, nodes.add(n)) for col, n in then.items()])
                for when, then in step.rows
            ]
            plans.append((step, rows))
    exempt = [nodes.add(node) if node is not None else None for _m, node in program.materials]
    outputs = [nodes.add(node) for _name, _out, node in program.outputs]
    fns = generate(nodes.nodes)

    steps: list[tuple[Step, Runner, QueryOf | None]] = []
    for step, plan in plans:
        if step.kind == "lookup":
            match_idx, where_idx = plan
            runner, query = _lookup(
                step, [(c, fns[i]) for c, i in match_idx], None if where_idx is None else fns[where_idx]
            )
            steps.append((step, runner, query))
        elif step.kind == "derived":
            value_idx, args = plan
            coalesce = None if args is None else [(fns[i], dotted) for i, dotted in args]
            steps.append((step, _derived(step, fns[value_idx], coalesce), None))
        else:
            steps.append(
                (step, _table(step, [(fns[w], [(c, fns[i]) for c, i in then]) for w, then in plan]), None)
            )
    return Specialised(
        steps=tuple(steps),
        exempt=tuple(fns[i] if i is not None else None for i in exempt),
        outputs=tuple(fns[i] for i in outputs),
    )


# -- the steps: each mirrors its definition in engine.facts, statement for statement ---------------------


def _lookup(
    step: Step, match_fns: list[tuple[str, Generated]], where: Generated | None
) -> tuple[Runner, QueryOf]:
    spec = step.spec
    assert isinstance(spec, Lookup)
    name, registry_name, one = step.name, spec.registry, spec.one
    where_paths = [p.parts for p in step.where_paths]
    missing, resolve = E.MISSING, E.resolve

    def match_of(env: dict[str, Any]) -> dict[str, list[Any]] | None:
        match: dict[str, list[Any]] = {}
        for col, fn in match_fns:
            value = fn(env)
            values = value if type(value) is list else [value]
            for v in values:
                if v is missing:
                    return None
            match[col] = [v for v in values if v is not None]
        return match

    def query(env: dict[str, Any]) -> Query | None:
        match = match_of(env)
        if match is None or not all(match.values()):
            return None
        return registry_name, match

    def run(facts: Facts, registry: RegistryPort) -> None:
        env = facts.env
        reg = REGISTRIES[registry_name]
        match = match_of(env)
        source: Source = {"kind": "registry", "registry": reg.name, "title": reg.title}
        if match is None:
            env[name] = missing
            facts.sources[name] = {**source, "note": "查询条件未知，未查询"}
            return
        rows = registry.find(reg.name, match) if all(match.values()) else []
        rows = [{k: v if type(v) in _ENGINE_TYPES else engine_value(v) for k, v in r.items()} for r in rows]
        if where is not None:
            for parts in where_paths:
                if resolve(env, parts) is missing:
                    env[name] = missing
                    facts.sources[name] = {**source, "note": "筛选条件所需数据缺失"}
                    return
            kept = []
            for row in rows:
                truth = where(env, row)
                if truth is missing or not isinstance(truth, bool):
                    env[name] = missing
                    facts.sources[name] = {**source, "note": "筛选条件无法判断"}
                    return
                if truth:
                    kept.append(row)
            rows = kept
        key = reg.key
        source["keys"] = [{k: _plain(r[k]) for k in key} for r in rows]
        facts.sources[name] = source
        if not one:
            env[name] = rows
            return
        if len(rows) == 0:
            env[name] = {"found": False}
        elif len(rows) == 1:
            env[name] = {**rows[0], "found": True}
        else:
            env[name] = missing
            source["note"] = f"共享数据中有 {len(rows)} 条匹配记录，无法确定唯一记录"
            facts.problems.append({"code": "registry_ambiguous", "lookup": name, "registry": reg.name})

    return run, query


def _derived(step: Step, value_fn: Generated, coalesce: list[tuple[Generated, str | None]] | None) -> Runner:
    spec = step.spec
    assert isinstance(spec, Derived)
    name, title, text = step.name, spec.title, spec.expr
    deps = step.ordered_deps
    missing = E.MISSING

    def run(facts: Facts, _registry: RegistryPort) -> None:
        env = facts.env
        env[name] = value_fn(env)
        source: Source = {"kind": "derived", "title": title, "expr": text}
        if coalesce is not None:
            for fn, dotted in coalesce:
                v = fn(env)
                if (
                    v is not missing
                    and v is not None
                    and not (isinstance(v, dict) and v.get("found") is False)
                ):
                    if dotted is not None:
                        source["from"] = [facts.source_of(dotted)]
                        source["via"] = dotted
                    break
        else:
            sources = facts.sources
            source["from"] = [sources[d] for d in deps if d in sources]
        facts.sources[name] = source

    return run


def _table(step: Step, rows: list[tuple[Generated, list[tuple[str, Generated]]]]) -> Runner:
    spec = step.spec
    assert isinstance(spec, Table)
    name, title = step.name, spec.title
    deps = step.ordered_deps
    missing = E.MISSING

    def run(facts: Facts, _registry: RegistryPort) -> None:
        env, sources = facts.env, facts.sources
        source: Source = {"kind": "table", "title": title, "from": [sources[d] for d in deps if d in sources]}
        sources[name] = source
        for i, (when, then) in enumerate(rows):
            truth = when(env)
            if truth is missing or not isinstance(truth, bool):
                env[name] = missing
                source["note"] = f"第 {i + 1} 行的条件无法判断（所需数据缺失）"
                return
            if truth:
                env[name] = {col: fn(env) for col, fn in then}
                source["row"] = i + 1
                return
        env[name] = missing
        source["note"] = "没有匹配的行"

    return run


# -- gathering ---------------------------------------------------------------------------------------


def gather(
    program: Program,
    *,
    items: Sequence[tuple[Case, dict[str, Any], Mapping[str, DocumentFacts] | None]],
    registry: RegistryPort,
    ahead: Sequence[Sequence[Query]] = (),
) -> list[Facts]:
    """`engine.facts.gather_many` through the specialised steps: the same facts, the same look-ups
    asked in the same order, announced ahead in the same rounds."""
    plan = specialised(program).steps
    gathered = [_initial_facts(program, case, form, documents, registry) for case, form, documents in items]
    prefetch = getattr(registry, "prefetch", None)
    if prefetch is None:
        for facts in gathered:
            for _step, run, _query in plan:
                run(facts, registry)
        return gathered
    # rounds, as engine.facts._run_steps: before the first look-up not yet announced, every look-up
    # not yet announced whose inputs are known by then, of every case
    cursors = [0] * len(gathered)
    announced: list[set[str]] = [set() for _ in gathered]
    first = True
    while True:
        queries: list[Query] = []
        if first:
            for extra in ahead:
                queries.extend(extra)
            first = False
        active = False
        for c, facts in enumerate(gathered):
            i = cursors[c]
            if i >= len(plan):
                continue
            done_names = announced[c]
            # run up to the next look-up that is not announced yet
            while i < len(plan):
                step, run, query = plan[i]
                if query is not None and step.name not in done_names:
                    break
                run(facts, registry)
                i += 1
            cursors[c] = i
            if i >= len(plan):
                continue
            active = True
            done = {s.name for s, _r, _q in plan[:i]}
            env = facts.env
            for later, _run, later_query in plan[i:]:
                if later_query is not None and later.name not in done_names and later.deps <= done:
                    done_names.add(later.name)
                    q = later_query(env)
                    if q is not None:
                        queries.append(q)
        if queries:
            prefetch(queries)
        if not active:
            return gathered


# -- the pre-check ------------------------------------------------------------------------------------


def check_all(program: Program, facts: Facts, encoder: Encoder) -> list[Checked]:
    """`engine.precheck.check_all` unrolled for the program: each input path resolved once per
    case (where a condition first needs it, as the definition does), each condition's values,
    missing inputs, encodings and first problem built by straight-line code."""
    memos: dict[int, Callable[[dict[str, Any]], list[Checked]]] = program.memo(
        "specialised_checks", _no_checks
    )
    fn = memos.get(id(encoder))
    if fn is None:
        fn = memos[id(encoder)] = _build_check(program, encoder)
    return fn(facts.env)


def _no_checks(_program: Program) -> dict[int, Callable[[dict[str, Any]], list[Checked]]]:
    return {}


def _settle(
    cc: CompiledCondition,
    key: tuple[str, ...],
    infos: dict[str, Any],
    env: dict[str, Any],
    values: dict[str, Any],
    encoded: dict[str, Any],
) -> Checked:
    """The end of `engine.precheck._check` for a condition whose inputs are all known and encodable."""
    memo = cc.leaf_memo
    known = memo.get(key, _BY_VALUE)
    if known is not _BY_VALUE:
        return Checked(values, (), known, encoded)  # type: ignore[arg-type]
    problem, by_value = _leaf_problem(cc, infos, env)
    if not by_value:
        memo[key] = problem
    return Checked(values, (), problem, encoded)


def _build_check(program: Program, encoder: Encoder) -> Callable[[dict[str, Any]], list[Checked]]:
    consts: dict[str, Any] = {
        "MISSING": E.MISSING,
        "resolve": E.resolve,
        "_info": _info,
        "encoder": encoder,
        "Checked": Checked,
        "_settle": _settle,
    }

    def const(value: Any) -> str:
        name = f"c{len(consts)}"
        consts[name] = value
        return name

    seen: dict[str, str] = {}
    lines = ["def check(env):", "    infos = {}", "    out = []"]
    for cc in program.conditions:
        names = []
        for dotted, parts in cc.path_parts:
            if dotted not in seen:
                var = seen[dotted] = f"i{len(seen)}"
                d = const(dotted)
                lines.append(f"    {var} = infos[{d}] = _info({d}, resolve(env, {const(parts)}), encoder)")
            names.append((const(dotted), seen[dotted]))
        lines.append(f"    values = {{{', '.join(f'{d}: {v}[0]' for d, v in names)}}}")
        lines.append("    missing = []")
        lines.append("    encoded = {}")
        lines.append("    problem = None")
        for d, v in names:
            lines.append(f"    if {v}[0] is MISSING: missing.append({d})")
            lines.append(f"    elif {v}[3] is None: encoded[{d}] = {v}[2]")
            lines.append(f"    elif problem is None: problem = {v}[3]")
        key = "(" + "".join(f"{v}[1], " for _d, v in names) + ")"
        lines.append("    if missing: out.append(Checked(values, tuple(missing), None, encoded))")
        lines.append("    elif problem is not None: out.append(Checked(values, (), problem, encoded))")
        lines.append(f"    else: out.append(_settle({const(cc)}, {key}, infos, env, values, encoded))")
    lines.append("    return out")
    namespace = dict(consts)
    exec(compile("\n".join(lines), f"<miaopi pre-check {program.item}>", "exec"), namespace)
    check: Callable[[dict[str, Any]], list[Checked]] = namespace["check"]
    return check
