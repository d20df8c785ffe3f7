"""The applicant's door: what a signed-in applicant reads and does of their own cases.

- the application form of an item, generated from the ruleset's declared fields and prefilled (秒填)
  from the shared data of the account's subject (`application_form`);
- the page's inputs turned into the case contract (`case_from_form`), submitted through the one
  submission of service/cases.py (validated by engine/case.py, the same messages as the API);
- a case's progress: its timeline from the audit trail, the time limit and promised date
  (service/sla.py), the applicant's view of the decision (service/disclosure.py), the results;
- the correction of a returned case (补正), resubmitted on the same case in a new round
  (`resubmit_case`), decided again by the worker; every round's decision stays recorded.

Every function takes the signed-in user and acts only for the subject the account is bound to: a case
of another account is not found, an item for another kind of subject is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.case import APPLICANT_KINDS, CHINA_TZ, parse_case
from engine.errors import CaseError
from engine.model import FieldSpec, Ruleset
from engine.registries import REGISTRIES
from service import access, sla
from service.cases import Upload, check_uploads, get_case, store_upload
from service.disclosure import ApplicantDecision, applicant_view, mask_others
from service.errors import Conflict, Forbidden, InvalidRequest
from service.records import latest_decision
from service.rulesets import active_version
from service.transactions import changed
from store import audit
from store.records import AuditEvent, CaseDocument, CaseRow, ResultRow, TaskRow, User

if TYPE_CHECKING:
    from service.container import Services

_APPLICANT_PATH = re.compile(r"^applicant\.(id_number|credit_code)$")
_LITERAL = re.compile(r"^'([^']*)'$")
_IDENTIFYING = frozenset({"id_number", "credit_code", "subject_id"})
LIST_ROWS = 10
"""Empty rows the form offers for a list field (more can be added after a return)."""


def require_applicant(user: User) -> None:
    """An applicant account bound to its subject."""
    if user.role != "applicant":
        raise Forbidden("本页面供申请人使用；工作人员请使用审批工作台")
    if user.subject_kind is None or user.subject_id is None:
        raise Forbidden("该申请人账号尚未绑定申请主体，不能在线申请")


def own_ids(user: User) -> set[str]:
    return {v for v in (user.subject_id, user.acting_id_number) if v}


def check_item_kind(user: User, ruleset: Ruleset) -> None:
    """An item serves one kind of applicant: a person's account cannot apply for an enterprise's item."""
    served = ruleset.item.applicant_kind
    if user.subject_kind != served:
        raise Forbidden(
            f"本事项（{ruleset.item.name}）只受理{APPLICANT_KINDS[served]}申请，"
            f"本账号绑定的申请主体为{APPLICANT_KINDS.get(user.subject_kind or '', '')}"
        )


# -- prefill (秒填) ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prefilled:
    """A value taken from the shared data for the form: the value itself (kept on the server), what the
    applicant is shown of it (another person's ID number masked) and where it comes from."""

    value: Any
    shown: str
    source: str
    masked: bool


@dataclass
class Prefill:
    name: str | None = None
    name_source: str | None = None
    fields: dict[str, Prefilled] = field(default_factory=dict)


def _direct_match(match: Mapping[str, str], user: User) -> dict[str, list[Any]] | None:
    """A look-up's match when it needs nothing but the applicant's own identifiers and constants."""
    out: dict[str, list[Any]] = {}
    for column, expr in match.items():
        text = str(expr).strip()
        literal = _LITERAL.match(text)
        if literal is not None:
            out[column] = [literal.group(1)]
        elif _APPLICANT_PATH.match(text):
            out[column] = [user.subject_id]
        else:
            return None
    return out


def prefill(services: Services, *, user: User, ruleset: Ruleset) -> Prefill:
    """What the shared data hold for the account's subject, for the item's form: every look-up of the
    ruleset keyed on the applicant alone (one record) is read, and a declared field named like one of
    its columns (`spouse_id_number`) or like the look-up and the column (`enterprise_name`) is filled
    from it; the applicant's name from the record's `name`."""
    require_applicant(user)
    out = Prefill()
    own = own_ids(user)
    with services.registry.reading():
        for lname, lookup in ruleset.lookups.items():
            if not lookup.one or lookup.where is not None:
                continue
            match = _direct_match({c: str(e) for c, e in lookup.match.items()}, user)
            reg = REGISTRIES.get(lookup.registry)
            if match is None or reg is None:
                continue
            rows = services.registry.find(lookup.registry, match)
            if len(rows) != 1:
                continue
            row = rows[0]
            source = f"{reg.title}"
            if out.name is None and isinstance(row.get("name"), str) and row["name"]:
                out.name, out.name_source = row["name"], source
            for column in reg.column_names:
                value = row.get(column)
                if value is None or column in match:
                    continue
                for fname in (column, f"{lname}_{column}"):
                    spec = ruleset.fields.get(fname)
                    if spec is None or fname in out.fields or spec.type == "list":
                        continue
                    text = str(value)
                    col = reg.column(column)
                    masked = col is not None and col.kind in _IDENTIFYING and text not in own
                    out.fields[fname] = Prefilled(
                        value=_form_value(spec, value),
                        shown=mask_others(text, own=own) if masked else _label(spec, text),
                        source=source,
                        masked=masked,
                    )
    return out


def _form_value(spec: FieldSpec, value: Any) -> Any:
    if spec.type == "integer":
        return int(value)
    if spec.type == "boolean":
        return bool(value)
    return str(value)


def _label(spec: FieldSpec, text: str) -> str:
    return spec.choices.get(text, text) if spec.choices else text


# -- the form → the case contract -----------------------------------------------------------------------
def _typed(spec: FieldSpec, raw: str) -> Any:
    """A form input as the case contract holds it (what cannot be read is passed on as typed, so that
    the one validation reports it with its message)."""
    text = raw.strip()
    if spec.type == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if spec.type == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def form_values(ruleset: Ruleset, inputs: Mapping[str, str], *, kept: Mapping[str, Any]) -> dict[str, Any]:
    """The declared form from the page's inputs: `field` for a value, `field.N.sub` for a list's rows; an
    empty input takes the value kept on the server (prefilled from the shared data, or the case's
    earlier one) when the applicant leaves it as it was, else is left out (or null when nullable)."""
    form: dict[str, Any] = {}
    for name, spec in ruleset.fields.items():
        if spec.type == "list":
            assert spec.items is not None
            rows = []
            for i in range(200):
                keys = [f"{name}.{i}.{sub}" for sub in spec.items]
                if not any(k in inputs for k in keys):
                    break
                row = {
                    sub: _typed(s, inputs.get(f"{name}.{i}.{sub}", ""))
                    for sub, s in spec.items.items()
                    if inputs.get(f"{name}.{i}.{sub}", "").strip()
                }
                if row:
                    rows.append(row)
            if rows or name in kept:
                form[name] = rows or kept[name]
            continue
        raw = inputs.get(name, "")
        if raw.strip():
            form[name] = _typed(spec, raw)
        elif inputs.get(f"keep.{name}") == "1" and name in kept:
            form[name] = kept[name]
        elif spec.nullable:
            form[name] = None
    return form


def applicant_block(user: User, *, name: str) -> dict[str, Any]:
    """The case's applicant: the account's subject, never another."""
    key = "id_number" if user.subject_kind == "person" else "credit_code"
    return {"kind": user.subject_kind, "name": name, key: user.subject_id}


def upload_name(material_id: str, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"{material_id}.{ext[:8] if ext.isalnum() else 'bin'}"


# -- progress -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    stage: str
    """受理, 审查, 人工审核, 补正, 办结."""
    at: datetime
    text: str
    done: bool = True


@dataclass
class Progress:
    row: CaseRow
    ruleset: Ruleset
    decision: ApplicantDecision | None
    timeline: list[Step]
    promised: sla.Deadline
    """When the case is due under the item's time limit (承诺办结时限)."""
    review_due: datetime | None
    """The promised date of the open 人工审核, if there is one."""
    results: list[ResultRow]
    correctable: bool
    pending: bool
    """Still being decided (the page refreshes itself)."""


_OUTCOME = {
    "approved": "准予办理",
    "review": "转人工审核",
    "returned": "退回补正",
    "rejected": "不予受理/不予许可",
}
_RESULT_KINDS = {
    "approval": "准予文书",
    "correction_notice": "一次性告知单",
    "refusal_notice": "不予受理/不予许可通知",
}


def _step(ev: AuditEvent) -> Step | None:
    d = ev.detail or {}
    a = ev.action
    if a == "case.submitted":
        return Step("受理", ev.at, "申请已受理")
    if a == "case.resubmitted":
        return Step("补正", ev.at, f"已提交补正（第 {d.get('round', '')} 次申报），重新审查")
    if a == "case.decided":
        label = _OUTCOME.get(str(d.get("outcome")), "已审查")
        return Step("审查", ev.at, f"系统审查完成：{label}")
    if a == "case.failed":
        return Step("审查", ev.at, "系统未能自动审查，转人工审核")
    if a == "task.opened.review":
        due = d.get("due_at")
        when = datetime.fromisoformat(due).astimezone(CHINA_TZ).strftime("%Y年%m月%d日 %H:%M") if due else ""
        return Step("人工审核", ev.at, f"转人工审核，承诺于 {when}（北京时间）前办结")
    if a in ("task.claimed", "task.taken_over"):
        return Step("人工审核", ev.at, "审核人员正在审核")
    if a == "task.decided.review":
        return Step("人工审核", ev.at, f"人工审核完成：{_OUTCOME.get(str(d.get('outcome')), '')}")
    if a == "result.issued":
        kind = str(d.get("kind"))
        stage = "办结" if kind in ("approval", "refusal_notice") else "补正"
        return Step(stage, ev.at, f"出具{_RESULT_KINDS.get(kind, '文书')}")
    return None


def progress(services: Services, session: Session, *, user: User, case_id: str, now: datetime) -> Progress:
    """The progress of one of the applicant's own cases (another's is not found)."""
    require_applicant(user)
    row = get_case(session, user=user, case_id=case_id)
    rec = latest_decision(session, row.id)
    catalogue = services.rulesets
    ruleset = catalogue.by_sha(session, rec.ruleset_sha256 if rec else None) or catalogue.in_force(
        session, item=row.item, at=row.received_at
    )
    assert ruleset is not None
    decision = applicant_view(rec.decision, case=row.payload) if rec is not None else None
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.subject == row.id).order_by(AuditEvent.seq)
    ).all()
    timeline = [s for s in (_step(ev) for ev in events) if s is not None]
    pending = row.status in ("queued", "processing")
    if pending:
        timeline.append(Step("审查", now, "系统正在审查，请稍候", done=False))
    review = session.scalars(
        select(TaskRow).where(TaskRow.case_id == row.id, TaskRow.kind == "review", TaskRow.round == row.round)
    ).first()
    review_due = review.due_at if review is not None and review.status != "done" else None
    results = list(
        session.scalars(select(ResultRow).where(ResultRow.case_id == row.id).order_by(ResultRow.issued_at))
    )
    return Progress(
        row=row,
        ruleset=ruleset,
        decision=decision,
        timeline=timeline,
        promised=sla.compute_due(row.received_at, ruleset.item.time_limit_days),
        review_due=review_due,
        results=results,
        correctable=row.status == "decided" and row.outcome == "returned",
        pending=pending,
    )


# -- correction (补正) ------------------------------------------------------------------------------------
def resubmit_case(
    services: Services,
    *,
    user: User,
    case_id: str,
    form: dict[str, Any],
    commitments: list[str],
    uploads: list[Upload],
    now: datetime,
) -> CaseRow:
    """Correct a returned case and submit it again on the same case (补正): the same applicant and item,
    the corrected form, commitments and documents (documents not uploaded again are kept), validated
    as every submission is; the case goes back to the worker in its next round, and the audit trail
    records the resubmission. Only the applicant's own case, and only while it is returned."""
    require_applicant(user)
    with services.sessions() as session:
        row = get_case(session, user=user, case_id=case_id)
        if row.status != "decided" or row.outcome != "returned":
            raise Conflict("只有退回补正的申请可以补正后重新提交")
        payload = dict(row.payload)
        round_ = row.round
        kept_docs = list(
            session.scalars(
                select(CaseDocument).where(CaseDocument.case_id == row.id).order_by(CaseDocument.id)
            )
        )
        program = services.rulesets.program_for(active_version(session, item=row.item, at=now))
    new_names = {up.name for up in uploads}
    documents = [{"kind": d.kind, "path": d.ref} for d in kept_docs if d.ref not in new_names]
    by_kind = {m.document_kind: m for m in program.ruleset.materials if m.document_kind}
    for up in uploads:
        material_id = up.name.split(".", 1)[0]
        kind = next((k for k, m in by_kind.items() if m.id == material_id), None)
        if kind is None:
            raise InvalidRequest(
                "上传的材料不属于本事项", problems=[{"path": f"files.{up.name}", "message": "未知材料"}]
            )
        documents = [d for d in documents if d["kind"] != kind]
        documents.append({"kind": kind, "path": up.name})
    data = {
        "item": row.item,
        "case_id": row.id,
        "submitted_at": now.astimezone(CHINA_TZ).isoformat(),
        "applicant": payload.get("applicant"),
        "form": form,
        "documents": documents,
        "commitments": commitments,
    }
    access.check_submit(user)
    access.check_case_subject(user, data["applicant"])
    case = parse_case(data, ruleset=program.ruleset)
    checked = check_uploads(
        services,
        case.model_copy(update={"documents": [d for d in case.documents if d.path in new_names]}),
        uploads,
    )
    stored = [(ref, store_upload(services, up), media, up.size) for ref, up, media in checked]
    with services.sessions.begin() as session:
        took = changed(
            session,
            update(CaseRow)
            .where(
                CaseRow.id == case_id,
                CaseRow.round == round_,
                CaseRow.status == "decided",
                CaseRow.outcome == "returned",
            )
            .values(
                payload=data,
                round=round_ + 1,
                status="queued",
                outcome=None,
                engine_outcome=None,
                decided_at=None,
                attempts=0,
                error=None,
                lease_owner=None,
                lease_until=None,
                commitment=bool(case.commitments),
                received_at=now,
            ),
        )
        if took != 1:
            raise Conflict("该申请刚刚已被补正提交，请刷新页面")
        replaced = [
            {"ref": d.ref, "sha256": d.sha256}
            for d in kept_docs
            if d.ref in new_names or d.ref not in {x["path"] for x in documents}
        ]
        session.execute(
            delete(CaseDocument).where(
                CaseDocument.case_id == case_id, CaseDocument.ref.in_([r["ref"] for r in replaced])
            )
        )
        for ref, sha, media, size in stored:
            session.add(
                CaseDocument(
                    case_id=case_id, ref=ref.path, kind=ref.kind, sha256=sha, size=size, media_type=media
                )
            )
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user.id,
            action="case.resubmitted",
            subject=case_id,
            at=now,
            detail={
                "round": round_ + 1,
                "previous_round": round_,
                "documents": [{"ref": r.path, "sha256": s} for r, s, _m, _z in stored],
                "replaced": replaced,
            },
        )
    with services.sessions() as session:
        fresh = session.get(CaseRow, case_id)
        assert fresh is not None
        return fresh


def check_case_error(exc: CaseError) -> list[dict[str, str]]:
    """The problems of a refused case, each with its path (as the API lists them)."""
    found = getattr(exc, "problems", None)
    return list(found) if found else [{"path": exc.path or "", "message": exc.message}]


def outcome_label(row: CaseRow) -> str:
    """The case's state as the applicant reads it."""
    if row.status in ("queued", "processing"):
        return "审查中"
    if row.status == "failed" or row.outcome == "review":
        return "人工审核中"
    labels = {**_OUTCOME, "approved": "已办结（准予办理）", "rejected": "已办结（不予受理/不予许可）"}
    return labels.get(row.outcome or "", "审查中")
