"""The decision: every condition with status, values and sources; every reason at once (一次性告知);
the outcome, after the guards (engine.guards), which can only make it stricter; the outputs, money
as strings rounded half up to the fen."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SkipValidation

from engine import expr as E
from engine.case import Case, validate_case
from engine.evaluate import Checked, Evaluator, Status, check_all, check_all_specialised
from engine.facts import DECLARED_HEADS, DocumentFacts, Facts, gather_many
from engine.guards import GUARDS, Outcome, apply_guards, guard_queries
from engine.labels import Labels, coded_labels, labelled
from engine.model import PLACEHOLDER, Output, Ruleset
from engine.ports import RegistryPort
from engine.program import CompiledCondition, Program
from engine.specialised import gather, specialised

FEN = Decimal("0.01")


class RulesetRef(BaseModel):
    id: str
    version: str
    sha256: str


# The free-form values of a decision (a condition's values and sources, the outputs) are made by
# the engine, typed already: they are not validated field by field again (SkipValidation), which
# keeps building a decision as cheap as assembling its models by hand.


class ConditionResult(BaseModel):
    id: str
    title: str
    status: Status
    on_fail: str
    values: SkipValidation[dict[str, Any]]
    sources: SkipValidation[dict[str, Any]]
    basis: str
    missing: list[str] = []
    note: str | None = None


class Reason(BaseModel):
    condition: str
    status: Literal["fail", "unknown", "missing_material"]
    message: str
    basis: str | None = None


class MaterialResult(BaseModel):
    id: str
    title: str
    status: Literal["supplied", "exempt", "missing", "invalid"]
    reason: str | None = None


class MissingMaterial(BaseModel):
    id: str
    title: str
    message: str


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str | None
    item: str
    ruleset: RulesetRef
    outcome: Outcome
    outputs: SkipValidation[dict[str, Any]]
    conditions: list[ConditionResult]
    reasons: list[Reason]
    missing_materials: list[MissingMaterial]
    materials: list[MaterialResult]
    decided_at: str
    elapsed_ms: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _isoformat(now: datetime) -> str:
    """`now` as text; a batch shares one `now`, so it is formatted once. The same instant in two
    time zones compares equal, so the offset is part of the key (it changes the text)."""
    return _isoformat_at(now, now.utcoffset())


@functools.lru_cache(maxsize=16)
def _isoformat_at(now: datetime, _offset: timedelta | None) -> str:
    return now.isoformat()


def display(value: Any) -> Any:
    """A fact value as it appears in a decision: decimals and dates as strings, null as None."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is date:
        return value.isoformat()
    if value is E.MISSING:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [display(v) for v in value]
    if isinstance(value, Mapping):
        return {k: display(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    if value is E.MISSING:
        return "未知"
    if value is None:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_text(v) for v in value) or "无"
    return str(display(value))


def _document_problems(sources: Mapping[str, Any], missing: tuple[str, ...]) -> list[str]:
    """Why document fields a condition needs could not be used: page, box and confidence."""
    wanted = {m.rsplit(".", 1)[-1] for m in missing}
    found: list[str] = []

    def visit(src: Any) -> None:
        if not isinstance(src, Mapping):
            return
        for p in src.get("problems", []) or []:
            if p.get("field") in wanted:
                where = f"第 {p['page']} 页" if p.get("page") else ""
                if p.get("box"):
                    where += " 位置 [" + ", ".join(f"{float(b):.0f}" for b in p["box"]) + "]"
                text = f"{p.get('message', p.get('code'))}（{src.get('path', '')} {where.strip()}）"
                if text not in found:
                    found.append(text)
        for inner in src.get("from", []) or []:
            visit(inner)

    for src in sources.values():
        visit(src)
    return found


def _fill(template: str, values: Mapping[str, Any], labels: Mapping[str, Labels] | None = None) -> str:
    """Fill `{path}` placeholders of a reason with the values used; a registry code is printed as its
    declared label (engine.labels)."""
    labels = labels or {}
    return PLACEHOLDER.sub(
        lambda m: _text(labelled(values.get(m.group(1), E.MISSING), labels.get(m.group(1)))), template
    )


def format_output(out: Output, value: Any) -> Any:
    if out.type == "money":
        if not isinstance(value, Decimal):
            raise TypeError
        return format(value.quantize(FEN, rounding=ROUND_HALF_UP), "f")
    if out.type == "decimal":
        if not isinstance(value, Decimal):
            raise TypeError
        text = format(value.normalize(), "f")
        return text
    if out.type == "integer":
        if not isinstance(value, Decimal) or value != value.to_integral_value():
            raise TypeError
        return int(value)
    if out.type == "date":
        if not isinstance(value, date):
            raise TypeError
        return value.isoformat()
    if out.type == "boolean":
        if not isinstance(value, bool):
            raise TypeError
        return value
    return _text(value)


def decide(
    program: Program,
    *,
    case: Case,
    registry: RegistryPort,
    evaluator: Evaluator,
    now: datetime,
    documents: Mapping[str, DocumentFacts] | None = None,
    oracle: bool = False,
) -> Decision:
    """Decide one case. Pure apart from the ports: the same facts give the same decision.
    `oracle` takes the tree-walking path (engine.facts, `E.evaluate`) instead of the ruleset's
    specialised decision (engine.specialised): the same decision, the definition the tests hold the
    specialised one to."""
    return decide_traced(
        program,
        case=case,
        registry=registry,
        evaluator=evaluator,
        now=now,
        documents=documents,
        oracle=oracle,
    )[0]


def decide_traced(
    program: Program,
    *,
    case: Case,
    registry: RegistryPort,
    evaluator: Evaluator,
    now: datetime,
    documents: Mapping[str, DocumentFacts] | None = None,
    oracle: bool = False,
) -> tuple[Decision, Facts]:
    """`decide`, with the facts it gathered (each step's value and source: which table row was hit),
    for the golden cases' coverage."""
    form = validate_case(program.ruleset, case)
    gather_fn = gather_many if oracle else gather
    (facts,) = gather_fn(
        program, items=[(case, form, documents)], registry=registry, ahead=[guard_queries(GUARDS, case)]
    )
    checked = check_all(program, facts) if oracle else check_all_specialised(program, facts)
    statuses = evaluator.evaluate(program, facts, checked)
    decision = assemble(
        program, case=case, facts=facts, checked=checked, statuses=statuses, now=now, oracle=oracle
    )
    return decision, facts


def decide_many(
    program: Program,
    *,
    cases: Sequence[Case],
    registry: RegistryPort,
    evaluator: Evaluator,
    now: datetime,
    documents: Sequence[Mapping[str, DocumentFacts] | None] | None = None,
    oracle: bool = False,
) -> list[Decision]:
    """Decide many cases of one item at once: the same decisions, in order, as `decide` on each.
    `documents`, when given, holds the documents read for each case (same length as `cases`)."""
    if documents is not None and len(documents) != len(cases):
        raise ValueError("documents must hold one entry per case")
    with _collector_paused(len(cases)):
        forms = [validate_case(program.ruleset, case) for case in cases]
        docs = documents if documents is not None else [None] * len(cases)
        gather_fn = gather_many if oracle else gather
        facts = gather_fn(
            program,
            items=list(zip(cases, forms, docs, strict=True)),
            registry=registry,
            ahead=[guard_queries(GUARDS, case) for case in cases],
        )
        gathered = list(zip(cases, facts, strict=True))
        return decide_gathered(program, items=gathered, evaluator=evaluator, now=now, oracle=oracle)


def decide_gathered(
    program: Program,
    *,
    items: Sequence[tuple[Case, Facts]],
    evaluator: Evaluator,
    now: datetime,
    oracle: bool = False,
) -> list[Decision]:
    """Decide cases whose facts are already gathered (by `gather_facts`): pre-check, evaluation of
    all of them at once, explanation. The same decisions as `decide` on each case."""
    with _collector_paused(len(items)):
        check = check_all if oracle else check_all_specialised
        checked = [check(program, facts) for _, facts in items]
        all_statuses = evaluator.evaluate_many(
            program, [(facts, ck) for (_, facts), ck in zip(items, checked, strict=True)]
        )
        return [
            assemble(program, case=case, facts=facts, checked=ck, statuses=statuses, now=now, oracle=oracle)
            for (case, facts), ck, statuses in zip(items, checked, all_statuses, strict=True)
        ]


@contextmanager
def _collector_paused(size: int) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch is decided. Every decision is a tree
    of fresh dicts and models that stays alive until the batch returns, so the collector would
    otherwise traverse the growing batch again and again without finding any garbage (measured on
    the deed-tax samples: batches of 480 took about 30% less time with it paused). The collector is
    resumed only if this call paused it; nested batches leave it to the outermost."""
    if size < 16 or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_APPLICANT_TITLES = {"name": "申请人名称", "id_number": "申请人身份证号码", "credit_code": "统一社会信用代码"}


def title_of(rs: Ruleset, dotted: str) -> str:
    """The Chinese title of a fact path for people to read (a form field, a document field, a
    derived value, a look-up...); the path itself when nothing names it."""
    head, _, rest = dotted.partition(".")
    first = rest.split(".")[0] if rest else ""
    if head == "form" and first in rs.fields:
        return rs.fields[first].title
    if head == "applicant":
        return _APPLICANT_TITLES.get(first, "申请人信息")
    if head == "params" and first in rs.parameters:
        return rs.parameters[first].title
    if head == "documents":
        for m in rs.materials:
            if m.document_kind == first:
                field_name = rest.split(".")[1] if rest.count(".") else ""
                spec = m.fields.get(field_name)
                return f"{m.title}中的{spec.title}" if spec is not None else m.title
    if head in rs.derived:
        return rs.derived[head].title
    if head in rs.lookups:
        return rs.lookups[head].title
    if head in rs.tables:
        return rs.tables[head].title
    return dotted


_ConditionPlan = tuple[
    CompiledCondition,
    dict[str, Any],
    tuple[tuple[str, "dict[str, Any] | None"], ...],
    tuple[tuple[str, tuple[str, ...]], ...],
    dict[str, Labels],
]


def _assembly_plan(program: Program) -> tuple[_ConditionPlan, ...]:
    """What `assemble` needs of each condition that does not depend on the case: the fixed fields
    of its result, the paths it cites (with the source already settled for declared values, which
    depends on the path alone), the shown values' split paths and the labels of the coded values its
    message prints. Built once per program."""
    declared = Facts(env={}, sources={})
    coded = coded_labels(program.ruleset)
    plan = []
    for cc in program.conditions:
        spec = cc.spec
        template = {
            "id": spec.id,
            "title": spec.title,
            "status": None,
            "on_fail": spec.on_fail,
            "values": None,
            "sources": None,
            "basis": spec.basis,
            "missing": None,
            "note": None,
        }
        cited = tuple(
            (p, declared.source_of(p) if p.partition(".")[0] in DECLARED_HEADS else None) for p in cc.cited
        )
        printed = PLACEHOLDER.findall(spec.message or "")
        plan.append((cc, template, cited, cc.shown_parts, {p: coded[p] for p in printed if p in coded}))
    return tuple(plan)


def _explain(
    program: Program, facts: Facts, checked: list[Checked], statuses: list[Status]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every condition's result and the reasons of those that did not pass (the definition; the
    specialised `_build_explain` unrolls it per ruleset)."""
    rs = program.ruleset
    env = facts.env
    conditions: list[dict[str, Any]] = []
    reasons: list[dict[str, Any]] = []
    cited_sources: dict[str, Any] = {}
    source_of, unknown = facts.source_of, E.MISSING
    plan: tuple[_ConditionPlan, ...] = program.memo("assembly", _assembly_plan)
    for (cc, template, cited_paths, shown_parts, labels), ck, status in zip(
        plan, checked, statuses, strict=True
    ):
        spec = cc.spec
        cited = ck.values
        if shown_parts:
            cited = cited.copy()
            for p, parts in shown_parts:
                cited[p] = E.resolve(env, parts)
        values = {}
        for p, v in cited.items():
            kind = type(v)
            if kind is str or kind is bool or v is None:
                values[p] = v
            elif kind is Decimal:
                values[p] = format(v, "f")
            elif v is not unknown:
                values[p] = display(v)
        sources = {}
        for p, fixed in cited_paths:
            if fixed is None:
                fixed = cited_sources.get(p)
                if fixed is None:
                    fixed = cited_sources[p] = source_of(p)
            sources[p] = fixed
        data = template.copy()
        data["status"] = status
        data["values"] = values
        data["sources"] = sources
        data["missing"] = list(ck.missing)
        data["note"] = ck.problem
        conditions.append(data)
        if status == "fail":
            message = spec.message or f"不符合：{spec.title}"
            message = _fill(message, cited, labels)
            reasons.append({"condition": spec.id, "status": "fail", "message": message, "basis": spec.basis})
        elif status == "unknown":
            why = (
                f"缺少或无法读取：{'、'.join(title_of(rs, m) for m in ck.missing)}"
                if ck.missing
                else (ck.problem or "数据无法判断")
            )
            details = _document_problems(sources, ck.missing)
            if details:
                why += "；" + "；".join(details)
            reasons.append(
                {
                    "condition": spec.id,
                    "status": "unknown",
                    "message": f"无法核验“{spec.title}”（{why}）",
                    "basis": spec.basis,
                }
            )

    return conditions, reasons


def _reason(
    rs: Ruleset,
    entry: _ConditionPlan,
    ck: Checked,
    status: Status,
    sources: dict[str, Any],
    env: dict[str, Any],
    reasons: list[dict[str, Any]],
) -> None:
    """The reason of a condition that did not pass, as `_explain` gives it."""
    cc, _template, _cited_paths, shown_parts, labels = entry
    spec = cc.spec
    if status == "fail":
        cited = ck.values
        if shown_parts:
            cited = cited.copy()
            for p, parts in shown_parts:
                cited[p] = E.resolve(env, parts)
        message = spec.message or f"不符合：{spec.title}"
        message = _fill(message, cited, labels)
        reasons.append({"condition": spec.id, "status": "fail", "message": message, "basis": spec.basis})
    elif status == "unknown":
        why = (
            f"缺少或无法读取：{'、'.join(title_of(rs, m) for m in ck.missing)}"
            if ck.missing
            else (ck.problem or "数据无法判断")
        )
        details = _document_problems(sources, ck.missing)
        if details:
            why += "；" + "；".join(details)
        reasons.append(
            {
                "condition": spec.id,
                "status": "unknown",
                "message": f"无法核验“{spec.title}”（{why}）",
                "basis": spec.basis,
            }
        )


_Explain = Callable[..., tuple[list[dict[str, Any]], list[dict[str, Any]]]]


def _build_explain(program: Program) -> _Explain:
    """`_explain` unrolled for the program, as the source of one function: each condition's cited
    paths, the shown values, the sources settled by the path alone and the fixed fields are written
    into it; what depends on the case is built by straight-line code."""
    plan: tuple[_ConditionPlan, ...] = program.memo("assembly", _assembly_plan)
    consts: dict[str, Any] = {
        "MISSING": E.MISSING,
        "Decimal": Decimal,
        "display": display,
        "resolve": E.resolve,
        "_reason": _reason,
        "rs": program.ruleset,
    }

    def const(value: Any) -> str:
        name = f"c{len(consts)}"
        consts[name] = value
        return name

    lines = [
        "def explain(env, checked, statuses, source_of, cited_sources):",
        "    conditions = []",
        "    reasons = []",
    ]
    for k, entry in enumerate(plan):
        cc, template, cited_paths, shown_parts, _labels = entry
        shown = dict(shown_parts)
        lines.append(f"    ck = checked[{k}]")
        lines.append(f"    status = statuses[{k}]")
        lines.append("    vals = ck.values")
        lines.append("    values = {}")
        for p in cc.cited:
            d = const(p)
            if p in shown:
                lines.append(f"    v = resolve(env, {const(shown[p])})")
            else:
                lines.append(f"    v = vals[{d}]")
            lines.append("    tv = type(v)")
            lines.append(f"    if tv is str or tv is bool or v is None: values[{d}] = v")
            lines.append(f"    elif tv is Decimal: values[{d}] = format(v, 'f')")
            lines.append(f"    elif v is not MISSING: values[{d}] = display(v)")
        items = []
        for j, (p, fixed) in enumerate(cited_paths):
            d = const(p)
            if fixed is not None:
                items.append(f"{d}: {const(fixed)}")
            else:
                lines.append(f"    s{j} = cited_sources.get({d})")
                lines.append(f"    if s{j} is None: s{j} = cited_sources[{d}] = source_of({d})")
                items.append(f"{d}: s{j}")
        lines.append(f"    sources = {{{', '.join(items)}}}")
        lines.append(f"    data = {const(template)}.copy()")
        lines.append("    data['status'] = status")
        lines.append("    data['values'] = values")
        lines.append("    data['sources'] = sources")
        lines.append("    data['missing'] = list(ck.missing)")
        lines.append("    data['note'] = ck.problem")
        lines.append("    conditions.append(data)")
        lines.append(
            f"    if status != 'pass': _reason(rs, {const(entry)}, ck, status, sources, env, reasons)"
        )
    lines.append("    return conditions, reasons")
    namespace = dict(consts)
    exec(compile("\n".join(lines), f"<miaopi explanation {program.item}>", "exec"), namespace)
    explain: _Explain = namespace["explain"]
    return explain


_GUARDED = frozenset(o for g in GUARDS for o in g.applies_to)
"""The outcomes some guard looks at."""


def assemble(
    program: Program,
    *,
    case: Case,
    facts: Facts,
    checked: list[Checked],
    statuses: list[Status],
    now: datetime,
    oracle: bool = False,
) -> Decision:
    """The decision of one case from its facts and statuses. Every part is built here as plain data
    and the whole decision is validated into its models in one call (pydantic builds the nested
    models in its core, which is as fast as assembling them by hand)."""
    rs = program.ruleset
    env = facts.env
    if oracle:
        conditions, reasons = _explain(program, facts, checked, statuses)
    else:
        explain = program.memo("explain", _build_explain)
        conditions, reasons = explain(env, checked, statuses, facts.source_of, {})

    materials: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    supplied_docs = {d.kind for d in case.documents}
    fast = None if oracle else specialised(program)
    for k, (m, exempt_node) in enumerate(program.materials):
        supplied = (
            (m.document_kind in supplied_docs) if m.document_kind else (m.commitment in case.commitments)
        )
        if fast is not None:
            exempt_fn = fast.exempt[k]
            exempt = exempt_fn is not None and exempt_fn(env) is True
        else:
            exempt = exempt_node is not None and E.evaluate(exempt_node, env) is True
        error = (
            facts.sources.get(f"documents.{m.document_kind}", {}).get("error") if m.document_kind else None
        )
        if exempt:
            materials.append({"id": m.id, "title": m.title, "status": "exempt", "reason": m.exempt_reason})
        elif supplied and error:
            why = error.get("message", error.get("code"))
            msg = f"材料“{m.title}”无法读取（{why}），请重新提交清晰、完整的文件"
            materials.append({"id": m.id, "title": m.title, "status": "invalid", "reason": msg})
            missing.append({"id": m.id, "title": m.title, "message": msg})
            reasons.append(
                {
                    "condition": f"material.{m.id}",
                    "status": "missing_material",
                    "message": msg,
                    "basis": m.basis,
                }
            )
        elif supplied:
            materials.append({"id": m.id, "title": m.title, "status": "supplied"})
        else:
            how = "签署并提交承诺书" if m.commitment else "提交该材料"
            msg = f"缺少材料“{m.title}”，请{how}"
            materials.append({"id": m.id, "title": m.title, "status": "missing", "reason": msg})
            missing.append({"id": m.id, "title": m.title, "message": msg})
            reasons.append(
                {
                    "condition": f"material.{m.id}",
                    "status": "missing_material",
                    "message": msg,
                    "basis": m.basis,
                }
            )

    outputs: dict[str, Any] = {}
    for k, (name, out, node) in enumerate(program.outputs):
        value = fast.outputs[k](env) if fast is not None else E.evaluate(node, env)
        if value is E.MISSING:
            continue
        try:
            outputs[name] = format_output(out, value)
        except (TypeError, ArithmeticError):
            continue

    failed_effects = {
        cc.spec.on_fail for cc, s in zip(program.conditions, statuses, strict=True) if s == "fail"
    }
    outcome: Outcome
    if "reject" in failed_effects:
        outcome = "rejected"
    elif missing or "return" in failed_effects:
        outcome = "returned"
    elif any(s != "pass" for s in statuses):
        outcome = "review"
    else:
        outcome = "approved"
    if outcome in _GUARDED:
        outcome, verdicts = apply_guards(GUARDS, outcome, case=case, registry=facts.registry)
        for v in verdicts:
            reasons.append({"condition": v.condition, "status": "fail", "message": v.message})
    return Decision.model_validate(
        {
            "case_id": case.case_id,
            "item": rs.item.id,
            "ruleset": {"id": rs.item.id, "version": rs.version, "sha256": program.sha256},
            "outcome": outcome,
            "outputs": outputs,
            "conditions": conditions,
            "reasons": reasons,
            "missing_materials": missing,
            "materials": materials,
            "decided_at": _isoformat(now),
        }
    )
