"""Fact gathering: the declared form, the applicant, registry look-ups, derived values and decision
tables, each value with where it came from. Pure: registries and documents come through ports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from engine import expr as E
from engine.case import Case
from engine.model import Derived, Lookup, Table
from engine.ports import Query, RegistryPort
from engine.program import Program, Step, engine_value
from engine.registries import REGISTRIES

Source = dict[str, Any]
DECLARED_HEADS = frozenset(("form", "applicant", "case", "params"))
"""Values the case or the ruleset declares: their source depends on the path alone."""
_UNKNOWN_SOURCE: Source = {"kind": "unknown"}
_ENGINE_TYPES = frozenset((str, Decimal, date, bool, type(None)))
"""Registry values of these types are already engine values (others, e.g. int, are converted)."""


@dataclass
class DocumentFacts:
    """What a submitted document yields: its fields as normalised by the extractor (decimal strings,
    ISO dates, lists) and where each was read (`locations[field]`: page, box, confidence, raw).
    `error` is set when the document could not be read at all (corrupt, wrong type, ...)."""

    kind: str
    path: str
    fields: dict[str, Any] = field(default_factory=dict)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    pages: int = 0
    method: str | None = None


@dataclass
class Facts:
    env: dict[str, Any]
    sources: dict[str, Source]
    problems: list[dict[str, Any]] = field(default_factory=list)
    registry: RegistryPort | None = field(default=None, compare=False, repr=False)
    """The registry the facts were read from; the decision's guards read it too (None for facts
    built by hand, which then cannot be approved)."""

    def source_of(self, dotted: str) -> Source:
        """Where the value at a dotted path came from. The dict returned may be shared (with other
        paths, decisions or `sources` itself): read it, never change it."""
        head, dot, rest = dotted.partition(".")
        if dot and head in DECLARED_HEADS:
            return {"kind": head, "field": rest.partition(".")[0]}
        if head != "documents":
            src = self.sources.get(head, _UNKNOWN_SOURCE)
            if not dot or "via" not in src:
                return src
            # a field of a record chosen by coalesce(): cite the field where it was read
            inner = self.source_of(f"{src['via']}.{rest}")
            return {k: v for k, v in src.items() if k != "via"} | {"from": [inner]}
        parts = dotted.split(".")
        if len(parts) > 1:
            doc = self.sources.get(f"documents.{parts[1]}", {"kind": "document", "document": parts[1]})
            if len(parts) > 2:
                loc = doc.get("fields", {}).get(parts[2])
                out = {k: v for k, v in doc.items() if k not in ("fields", "problems")}
                if loc:
                    out.update(loc)
                problems = [p for p in doc.get("problems", []) if p.get("field") == parts[2]]
                if problems:
                    out["problems"] = problems
                return out
            return {k: v for k, v in doc.items() if k != "fields"}
        return self.sources.get(head, _UNKNOWN_SOURCE)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def gather_facts(
    program: Program,
    *,
    case: Case,
    form: dict[str, Any],
    registry: RegistryPort,
    documents: Mapping[str, DocumentFacts] | None = None,
) -> Facts:
    """Build the fact environment of one case, running every step in dependency order."""
    return gather_many(program, items=[(case, form, documents)], registry=registry)[0]


def gather_many(
    program: Program,
    *,
    items: Sequence[tuple[Case, dict[str, Any], Mapping[str, DocumentFacts] | None]],
    registry: RegistryPort,
    ahead: Sequence[Sequence[Query]] = (),
) -> list[Facts]:
    """`gather_facts` for several cases (case, validated form, documents), the same facts, in order.

    When the registry port can read look-ups ahead (`prefetch`, see engine.ports), the look-ups are
    announced in rounds: every look-up whose inputs are known at that point, of every case, at once
    (and, with the first round, `ahead[i]`: further queries case i will ask, e.g. the guards'). The
    steps still run in their order and ask `find` one by one, as without a prefetch."""
    prefetch = getattr(registry, "prefetch", None)
    gathered = [_initial_facts(program, case, form, documents, registry) for case, form, documents in items]
    if prefetch is None:
        for facts in gathered:
            for _ in _run_steps(program, facts, registry, announce=False):
                pass
        return gathered
    runs = [_run_steps(program, facts, registry, announce=True) for facts in gathered]
    first = True
    while runs:
        queries: list[Query] = []
        if first:
            for extra in ahead:
                queries.extend(extra)
            first = False
        running = []
        for run in runs:
            try:
                queries.extend(next(run))
            except StopIteration:
                continue
            running.append(run)
        if queries:
            prefetch(queries)
        runs = running
    return gathered


def _initial_facts(
    program: Program,
    case: Case,
    form: dict[str, Any],
    documents: Mapping[str, DocumentFacts] | None,
    registry: RegistryPort,
) -> Facts:
    """The facts before any step: the form, the applicant, the case, the parameters, the documents."""
    rs = program.ruleset
    documents = documents or {}
    env: dict[str, Any] = {
        "form": form,
        "applicant": dict(case.applicant.__dict__),  # flat str/None fields: what model_dump gives
        "case": {
            "case_id": case.case_id,
            "submitted_at": case.submitted_at.isoformat(),
            "submitted_on": case.submitted_on,
            "commitments": list(case.commitments),
        },
        "params": dict(program.param_values),
    }
    sources: dict[str, Source] = {}
    docs_env: dict[str, Any] = {}
    threshold = float(rs.confidence_threshold)
    for material in rs.materials:
        kind = material.document_kind
        if kind is None or kind in docs_env:
            continue
        doc = documents.get(kind)
        if doc is None or doc.error is not None:
            docs_env[kind] = {"found": False}
            src: Source = {"kind": "document", "document": kind, "supplied": doc is not None}
            if doc is not None:
                src.update({"path": doc.path, "error": doc.error})
            sources[f"documents.{kind}"] = src
            continue
        record: dict[str, Any] = {"found": True}
        located: dict[str, dict[str, Any]] = {}
        doc_problems: list[dict[str, Any]] = list(doc.problems)
        for name, spec in material.fields.items():
            loc = doc.locations.get(name, {})
            if name not in doc.fields:
                continue
            confidence = loc.get("confidence")
            if confidence is not None and float(confidence) < threshold:
                low: dict[str, Any] = {
                    "code": "low_confidence",
                    "document": kind,
                    "field": name,
                    "message": f"{spec.title}识别置信度 {float(confidence):.2f} 低于阈值 {threshold:.2f}"
                    "，视为无法读取",
                }
                low.update({k: loc[k] for k in ("page", "box") if k in loc})
                doc_problems.append(low)
                continue
            value = _doc_value(spec.type, doc.fields[name])
            if value is E.MISSING:
                continue
            record[name] = value
            located[name] = loc
        docs_env[kind] = record
        sources[f"documents.{kind}"] = {
            "kind": "document",
            "document": kind,
            "path": doc.path,
            "method": doc.method,
            "fields": located,
            "problems": doc_problems,
        }
    env["documents"] = docs_env
    return Facts(env=env, sources=sources, registry=registry)


def _run_steps(
    program: Program, facts: Facts, registry: RegistryPort, *, announce: bool
) -> Iterator[list[Query]]:
    """Run every step in order. With `announce`, before the first look-up not yet announced, yield
    the queries of every look-up not yet announced whose inputs are all known by then (a round)."""
    steps = program.steps
    done: set[str] = set()
    announced: set[str] = set()
    for i, step in enumerate(steps):
        if step.kind == "lookup":
            if announce and step.name not in announced:
                queries: list[Query] = []
                for later in steps[i:]:
                    if later.kind == "lookup" and later.name not in announced and later.deps <= done:
                        announced.add(later.name)
                        query = _lookup_query(later, facts.env)
                        if query is not None:
                            queries.append(query)
                yield queries
            _run_lookup(step, facts, registry)
        elif step.kind == "derived":
            _run_derived(step, facts)
        else:
            _run_table(step, facts)
        done.add(step.name)


def _step_inputs(step: Step, facts: Facts) -> list[Source]:
    sources = facts.sources
    return [sources[d] for d in step.ordered_deps if d in sources]


def _lookup_match(step: Step, env: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The values a look-up matches, by column; None when one of them is not known."""
    match: dict[str, list[Any]] = {}
    for col, node in step.match.items():
        value = E.evaluate(node, env)
        values = value if type(value) is list else [value]
        if any(v is E.MISSING for v in values):
            return None
        match[col] = [v for v in values if v is not None]
    return match


def _lookup_query(step: Step, env: dict[str, Any]) -> Query | None:
    """The query a look-up will ask (see `_run_lookup`), None when it asks none."""
    match = _lookup_match(step, env)
    if match is None or not all(match.values()):
        return None
    spec = step.spec
    assert isinstance(spec, Lookup)
    return spec.registry, match


def _run_lookup(step: Step, facts: Facts, registry: RegistryPort) -> None:
    spec = step.spec
    assert isinstance(spec, Lookup)
    reg = REGISTRIES[spec.registry]
    match = _lookup_match(step, facts.env)
    source: Source = {"kind": "registry", "registry": reg.name, "title": reg.title}
    if match is None:
        facts.env[step.name] = E.MISSING
        facts.sources[step.name] = {**source, "note": "查询条件未知，未查询"}
        return
    rows = registry.find(reg.name, match) if all(match.values()) else []
    rows = [{k: v if type(v) in _ENGINE_TYPES else engine_value(v) for k, v in r.items()} for r in rows]
    if step.where is not None:
        if any(E.resolve(facts.env, p.parts) is E.MISSING for p in step.where_paths):
            facts.env[step.name] = E.MISSING
            facts.sources[step.name] = {**source, "note": "筛选条件所需数据缺失"}
            return
        kept = []
        for row in rows:
            truth = E.evaluate_in(step.where, facts.env, {"row": row})
            if truth is E.MISSING or not isinstance(truth, bool):
                facts.env[step.name] = E.MISSING
                facts.sources[step.name] = {**source, "note": "筛选条件无法判断"}
                return
            if truth:
                kept.append(row)
        rows = kept
    source["keys"] = [{k: _plain(r[k]) for k in reg.key} for r in rows]
    facts.sources[step.name] = source
    if not spec.one:
        facts.env[step.name] = rows
        return
    if len(rows) == 0:
        facts.env[step.name] = {"found": False}
    elif len(rows) == 1:
        facts.env[step.name] = {**rows[0], "found": True}
    else:
        facts.env[step.name] = E.MISSING
        source["note"] = f"共享数据中有 {len(rows)} 条匹配记录，无法确定唯一记录"
        facts.problems.append({"code": "registry_ambiguous", "lookup": step.name, "registry": reg.name})


def _doc_value(kind: str, value: Any) -> Any:
    """An extracted value (normalised strings) as an engine value; MISSING when it does not parse."""
    try:
        if kind in ("amount", "area"):
            return Decimal(str(value))
        if kind == "date":
            return date.fromisoformat(str(value))
        if kind in ("names", "id_numbers"):
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return str(value)
    except (ValueError, ArithmeticError):
        return E.MISSING


def _run_derived(step: Step, facts: Facts) -> None:
    spec = step.spec
    assert isinstance(spec, Derived) and step.value is not None
    value = E.evaluate(step.value, facts.env)
    facts.env[step.name] = value
    source: Source = {"kind": "derived", "title": spec.title, "expr": spec.expr}
    node = step.value
    if isinstance(node, E.Call) and node.name == "coalesce":
        # cite the argument actually used
        for arg in node.args:
            v = E.evaluate(arg, facts.env)
            if v is not E.MISSING and v is not None and not (isinstance(v, dict) and v.get("found") is False):
                if isinstance(arg, E.Path):
                    source["from"] = [facts.source_of(arg.dotted)]
                    source["via"] = arg.dotted
                break
    else:
        source["from"] = _step_inputs(step, facts)
    facts.sources[step.name] = source


def _run_table(step: Step, facts: Facts) -> None:
    spec = step.spec
    assert isinstance(spec, Table)
    source: Source = {"kind": "table", "title": spec.title, "from": _step_inputs(step, facts)}
    facts.sources[step.name] = source
    for i, (when, then) in enumerate(step.rows):
        truth = E.evaluate(when, facts.env)
        if truth is E.MISSING or not isinstance(truth, bool):
            facts.env[step.name] = E.MISSING
            source["note"] = f"第 {i + 1} 行的条件无法判断（所需数据缺失）"
            return
        if truth:
            facts.env[step.name] = {col: E.evaluate(node, facts.env) for col, node in then.items()}
            source["row"] = i + 1
            return
    facts.env[step.name] = E.MISSING
    source["note"] = "没有匹配的行"
