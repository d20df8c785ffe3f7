"""What an applicant is shown of a decision: the one policy that turns the engine's full decision into
the applicant's view. Staff (approvers, auditors, admins, rule authors) read the full decision; every
answer an applicant reads (the pre-check, the case view) goes through `applicant_view`.

The applicant's view keeps the outcome, the reasons in plain Chinese, the outputs, the materials and
missing materials, and the applicant's own data (the applicant as submitted, the form). It leaves out
the rule expressions, the paths of the facts, the conditions' values and sources and the registry rows:
each condition says only which registries were consulted and how many records were found. ID numbers
and credit codes of anyone other than the applicant are masked wherever they are still shown (in the
reasons, the outputs, the form), and so are the identifying numbers of registry records that are not
the applicant's (e.g. a family member's property certificate number).

The approver's comments: the review model keeps one comment per task and does not tell a note for the
file from a word to the applicant, so the comment an approver gives when they return a case for 补正 or
refuse it is the one meant for the applicant (it is printed on the 一次性告知单 or the refusal notice
too), and every other comment stays internal: an approval's, a post-check's, a follow-up's. The
applicant's view of the tasks (`applicant_tasks`) keeps the review's return or refusal comment, masked
as the decision is, and drops every other comment, the staff who claimed or decided a task, and the
follow-up tasks of a bad rating (their handling is the department's).

The result documents (service/results.py) are the applicant's too: the decision a PDF is rendered from
(its outputs, reasons and materials) and the approver's comment printed on it are masked the same way
(`document_decision`, `document_text`), so that a spouse's or a child's ID number or another owner's
certificate number never appears on it in full (nor in the grants the public verification shows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from engine.decision import Decision, MaterialResult, MissingMaterial, Reason, Status
from engine.registries import REGISTRIES
from service.masking import mask_id, mask_text

if TYPE_CHECKING:
    from service.review import TaskView

_IDENTIFYING_KINDS = frozenset({"id_number", "credit_code", "subject_id"})
_CODE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{18}(?![0-9A-Z])")
"""An 18-character unified social credit code in free text (ID numbers are found by masking.py)."""


class RegistrySummary(BaseModel):
    """A registry consulted, and how many of its records the decision cited."""

    registry: str
    title: str
    records: int


class DisclosedCondition(BaseModel):
    id: str
    title: str
    status: Status
    basis: str
    note: str | None = None
    registries: list[RegistrySummary]


class DisclosedApplicant(BaseModel):
    kind: Literal["person", "enterprise"]
    name: str
    id_number: str | None = None
    credit_code: str | None = None


class ApplicantDecision(BaseModel):
    """A decision as an applicant is shown it (see the module's description)."""

    view: Literal["applicant"] = "applicant"
    case_id: str | None
    item: str
    ruleset_version: str
    outcome: str
    outputs: dict[str, Any]
    reasons: list[Reason]
    materials: list[MaterialResult]
    missing_materials: list[MissingMaterial]
    conditions: list[DisclosedCondition]
    applicant: DisclosedApplicant
    form: dict[str, Any]
    registries: list[RegistrySummary]
    """Every registry consulted, with the number of records cited (rows are not shown)."""
    decided_at: str


def _registry_nodes(node: Any) -> Iterator[Mapping[str, Any]]:
    """The registry sources under a source (derived values and tables cite theirs under `from`)."""
    if isinstance(node, Mapping):
        if node.get("kind") == "registry":
            yield node
        for child in node.get("from") or ():
            yield from _registry_nodes(child)
    elif isinstance(node, list):
        for child in node:
            yield from _registry_nodes(child)


def _summaries(nodes: list[Mapping[str, Any]]) -> list[RegistrySummary]:
    rows: dict[str, set[str]] = {}
    titles: dict[str, str] = {}
    for node in nodes:
        name = str(node.get("registry", ""))
        titles.setdefault(name, str(node.get("title", name)))
        seen = rows.setdefault(name, set())
        for key in node.get("keys") or ():
            seen.add(json.dumps(key, sort_keys=True, ensure_ascii=False, default=str))
    return [RegistrySummary(registry=n, title=titles[n], records=len(r)) for n, r in rows.items()]


class _Masker:
    """Masks, in any value, what belongs to others: ID numbers and credit codes other than the
    applicant's own, and the identifying numbers of registry records that are not the applicant's."""

    def __init__(self, *, own: set[str], nodes: list[Mapping[str, Any]], declared: set[str]) -> None:
        self.own = frozenset(own)
        others: set[str] = set()
        mine: set[str] = set()
        for node in nodes:
            reg = REGISTRIES.get(str(node.get("registry", "")))
            for key in node.get("keys") or ():
                if not isinstance(key, Mapping):
                    continue
                cols = {c: (reg.column(c) if reg else None) for c in key}
                identifying = {c for c, col in cols.items() if col is None or col.kind in _IDENTIFYING_KINDS}
                is_own = any(str(key[c]) in self.own for c in identifying if key[c] is not None)
                for c, v in key.items():
                    if not isinstance(v, str) or not v or v in self.own:
                        continue
                    col = cols[c]
                    if col is not None and col.kind in _IDENTIFYING_KINDS:
                        others.add(v)  # another person's or enterprise's number, always masked
                    elif col is not None and col.kind == "string" and reg is not None and c in reg.key:
                        (mine if is_own else others).add(v)
        typed = {v for v in declared if not _is_number(v)}  # e.g. the applicant's own permit number
        self.secret = sorted(others - mine - typed, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secret:
            if secret in value:
                value = value.replace(secret, mask_id(secret))
        value = mask_text(value, keep=self.own)
        return _CODE.sub(lambda m: m.group(0) if m.group(0) in self.own else mask_id(m.group(0)), value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _is_number(value: str) -> bool:
    """An ID number or credit code (masked even when the applicant typed it, e.g. a spouse's)."""
    return len(value) == 18 and value.isalnum()


def applicant_view(decision: Decision | Mapping[str, Any], *, case: Mapping[str, Any]) -> ApplicantDecision:
    """The applicant's view of `decision`, made for the case as submitted (its applicant and form)."""
    d = decision if isinstance(decision, Decision) else Decision.model_validate(decision)
    raw_applicant = case.get("applicant")
    applicant = DisclosedApplicant.model_validate(
        {k: v for k, v in raw_applicant.items() if k in DisclosedApplicant.model_fields}
        if isinstance(raw_applicant, Mapping)
        else {"kind": "person", "name": ""}
    )
    own = {v for v in (applicant.id_number, applicant.credit_code) if v}
    form = case.get("form") if isinstance(case.get("form"), Mapping) else {}
    assert isinstance(form, Mapping)
    declared = {v for v in form.values() if isinstance(v, str)}
    per_condition = [[n for src in c.sources.values() for n in _registry_nodes(src)] for c in d.conditions]
    every = [n for nodes in per_condition for n in nodes]
    mask = _Masker(own=own, nodes=every, declared=declared)
    return ApplicantDecision(
        case_id=d.case_id,
        item=d.item,
        ruleset_version=d.ruleset.version,
        outcome=d.outcome,
        outputs=mask.value(d.outputs),
        reasons=[
            Reason(condition=r.condition, status=r.status, message=mask.text(r.message), basis=r.basis)
            for r in d.reasons
        ],
        materials=[m.model_copy(update={"reason": mask.value(m.reason)}) for m in d.materials],
        missing_materials=[
            m.model_copy(update={"message": mask.text(m.message)}) for m in d.missing_materials
        ],
        conditions=[
            DisclosedCondition(
                id=c.id,
                title=c.title,
                status=c.status,
                basis=c.basis,
                note=mask.text(c.note) if c.note else None,
                registries=_summaries(nodes),
            )
            for c, nodes in zip(d.conditions, per_condition, strict=True)
        ],
        applicant=applicant,
        form=mask.value(dict(form)),
        registries=_summaries(every),
        decided_at=d.decided_at,
    )


APPLICANT_COMMENT_OUTCOMES = frozenset({"returned", "rejected"})
"""The outcomes of a review whose comment the applicant reads (see the module's description)."""
_HIDDEN_TASK_KINDS = frozenset({"follow_up"})


def _masker_for(decision: Decision | Mapping[str, Any] | None, case: Mapping[str, Any]) -> _Masker:
    raw = case.get("applicant")
    applicant = raw if isinstance(raw, Mapping) else {}
    own = {str(applicant[k]) for k in ("id_number", "credit_code") if applicant.get(k)}
    form = case.get("form") if isinstance(case.get("form"), Mapping) else {}
    assert isinstance(form, Mapping)
    declared = {v for v in form.values() if isinstance(v, str)}
    nodes: list[Mapping[str, Any]] = []
    if decision is not None:
        d = decision if isinstance(decision, Decision) else Decision.model_validate(decision)
        nodes = [n for c in d.conditions for src in c.sources.values() for n in _registry_nodes(src)]
    return _Masker(own=own, nodes=nodes, declared=declared)


def is_applicant_comment(task: TaskView) -> bool:
    """Whether a task's comment is the one meant for the applicant."""
    return task.kind == "review" and task.outcome in APPLICANT_COMMENT_OUTCOMES and bool(task.comment)


def applicant_tasks(
    tasks: list[TaskView], *, decision: Decision | Mapping[str, Any] | None, case: Mapping[str, Any]
) -> list[TaskView]:
    """The tasks of a case as its applicant is shown them (see the module's description)."""
    mask = _masker_for(decision, case)
    shown = []
    for t in tasks:
        if t.kind in _HIDDEN_TASK_KINDS:
            continue
        comment = mask.text(t.comment) if is_applicant_comment(t) and t.comment else None
        shown.append(t.model_copy(update={"comment": comment, "claimed_by": None, "decided_by": None}))
    return shown


def review_comment(
    tasks: list[TaskView], *, decision: Decision | Mapping[str, Any] | None, case: Mapping[str, Any]
) -> str | None:
    """The approver's comment to the applicant: the latest review's, when it returned or refused the
    case; masked as the decision is."""
    for t in reversed(tasks):
        if is_applicant_comment(t) and t.comment:
            return _masker_for(decision, case).text(t.comment)
    return None


def document_decision(decision: Decision, *, case: Mapping[str, Any]) -> Decision:
    """The decision a result document is rendered from: the engine's (or the approver's) decision with
    what belongs to others masked in its outputs, reasons and materials, as in the applicant's view."""
    mask = _masker_for(decision, case)
    return decision.model_copy(
        update={
            "outputs": mask.value(decision.outputs),
            "reasons": [r.model_copy(update={"message": mask.text(r.message)}) for r in decision.reasons],
            "materials": [m.model_copy(update={"reason": mask.value(m.reason)}) for m in decision.materials],
            "missing_materials": [
                m.model_copy(update={"message": mask.text(m.message)}) for m in decision.missing_materials
            ],
        }
    )


def document_text(
    text: str, *, decision: Decision | Mapping[str, Any] | None, case: Mapping[str, Any]
) -> str:
    """Free text printed on a result document (the approver's comment), masked as the decision is."""
    return _masker_for(decision, case).text(text)


def mask_others(value: str, *, own: set[str]) -> str:
    """A text with every ID number and credit code masked except the applicant's own (`own`): for a value
    shown to an applicant outside a decision (e.g. a form prefilled from the shared data)."""
    return _Masker(own=own, nodes=[], declared=set()).text(value)
