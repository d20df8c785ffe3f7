"""Cases: submission (validated, files checked and stored by content hash, idempotent), the dry-run
pre-check, reading a case file, deciding one case with a chosen program, and the case views the API and
the pages show."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.case import CHINA_TZ, MAX_DEPTH, Case, DocumentRef, parse_case
from engine.decision import Decision, decide
from engine.errors import CaseError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.facts import DocumentFacts
from engine.model import Ruleset
from engine.ports import RegistryPort
from engine.program import Program
from extractors.errors import DocumentError
from extractors.sniff import sample_of, sniff
from service import access, jsontext, labels
from service.disclosure import ApplicantDecision, applicant_tasks, applicant_view, review_comment
from service.documents import DocumentReader
from service.errors import Conflict, InvalidRequest, TooLarge, UnsupportedDocument
from service.masking import mask_id, mask_name
from service.records import latest_decision
from service.review import IsoTime, TaskView, case_tasks, task_view
from service.rulesets import RulesetLoader
from service.settings import get_settings
from store import audit
from store.records import CaseDocument, CaseRow, ResultRow, User

if TYPE_CHECKING:
    from service.container import Services

log = logging.getLogger("miaopi.workflow")
decision_log = logging.getLogger("miaopi")


# -- reading and deciding one case ---------------------------------------------------------------------
MAX_CASE_FILE_BYTES = 4 * 2**20
"""A case file's size limit: a case is a form and references to documents, never the documents."""


def decode_case_json(raw: bytes | str, *, where: str, max_values: int | None = None) -> Any:
    """JSON text → data, with CaseError for text that is not UTF-8, not JSON, with more values than
    `max_values` (settings.max_json_values; counted before decoding, which is where memory grows:
    service/jsontext.py), or nested so deep that decoding it would exhaust the stack (the nesting limit
    itself is checked by parse_case)."""
    limit = get_settings().max_json_values if max_values is None else max_values
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
    refused = jsontext.refusal(data, max_values=limit, max_depth=MAX_DEPTH)
    if refused is not None:
        raise CaseError(f"{where}: {refused}")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise CaseError(f"{where}: 案件文件不是 UTF-8 编码") from exc
    except json.JSONDecodeError as exc:
        raise CaseError(f"{where}: JSON 格式错误，第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}") from exc
    except RecursionError as exc:
        raise CaseError(f"{where}: JSON 嵌套层数过多（上限 {MAX_DEPTH} 层）") from exc


def read_case_file(path: Path, *, repository: RulesetLoader | None = None) -> tuple[Case, dict[str, Any]]:
    """Read and validate a case JSON file. Raises CaseError with the place of every problem; with a
    repository, the item must exist and its declared form is checked in the same pass."""
    try:
        size = path.stat().st_size
        if size > MAX_CASE_FILE_BYTES:
            raise CaseError(
                f"{path}: 案件文件 {size / 2**20:.1f} MiB，超过 {MAX_CASE_FILE_BYTES // 2**20} MiB 上限"
                "（材料文件请单独提交，不要嵌入案件 JSON）"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise CaseError(f"无法读取案件文件 {path}：{exc.strerror}") from exc
    data = decode_case_json(raw, where=str(path))
    if not isinstance(data, dict):
        raise CaseError(f"{path}: 案件应为 JSON 对象")
    ruleset = None
    if repository is not None and isinstance(data.get("item"), str):
        ruleset = repository.get(data["item"]).ruleset
    return parse_case(data, ruleset=ruleset), data


def resolve_documents(
    case: Case, base: Path, *, program: Program, reader: DocumentReader | None = None
) -> dict[str, DocumentFacts]:
    """Read the documents a case lists (paths relative to `base`) into facts for the engine."""
    if reader is not None:
        return reader.facts_for(program, case, base)
    with DocumentReader(get_settings().extract_options()) as own:
        return own.facts_for(program, case, base)


def decide_case(
    case: Case,
    *,
    repository: RulesetLoader,
    registry: RegistryPort,
    evaluator: Evaluator | None = None,
    documents: dict[str, DocumentFacts] | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide a case with the program its item has in `repository`."""
    return decide_program(
        repository.get(case.item),
        case,
        registry=registry,
        evaluator=evaluator,
        documents=documents,
        now=now,
    )


def decide_program(
    program: Program,
    case: Case,
    *,
    registry: RegistryPort,
    evaluator: Evaluator | None = None,
    documents: dict[str, DocumentFacts] | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide a case with a chosen program; the decision carries the engine time, and the log line masks
    the applicant."""
    start = time.perf_counter()
    decision = decide(
        program,
        case=case,
        registry=registry,
        evaluator=evaluator or DurableEvaluator(),
        now=now or datetime.now(CHINA_TZ),
        documents=documents,
    )
    decision.elapsed_ms = round((time.perf_counter() - start) * 1000, 3)
    subject = case.applicant.id_number or case.applicant.credit_code or ""
    decision_log.info(
        "decided case=%s item=%s applicant=%s outcome=%s reasons=%d ms=%.1f",
        case.case_id,
        case.item,
        mask_id(subject),
        decision.outcome,
        len(decision.reasons),
        decision.elapsed_ms,
    )
    return decision


# -- who may submit or pre-check this case -------------------------------------------------------------
def authorise_case(user: User, data: Any, *, pre_check: bool) -> None:
    """The one gate of every submission (JSON and multipart) and every pre-check: the user's role, and
    for an applicant that the case's applicant is the subject their account is bound to. Nothing is
    read or stored before it passes."""
    if pre_check:
        access.check_pre_check(user)
    else:
        access.check_submit(user)
    access.check_case_subject(user, data.get("applicant") if isinstance(data, dict) else None)


def pre_check_answer(user: User, data: Any, body: bytes) -> bytes:
    """The pre-check's answer for the user: the decision as the engine encoded it for staff, the
    applicant's view of it (service/disclosure.py) for an applicant."""
    if access.sees_full_decision(user) or not isinstance(data, dict):
        return body
    view = applicant_view(json.loads(body), case=data)
    return view.model_dump_json().encode("utf-8")


# -- submission ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    """An uploaded file: its name in the case, and its content as a seekable file (the API's uploads
    are spooled to disk as they arrive; nothing here reads one whole into memory)."""

    name: str
    file: BinaryIO
    size: int

    @classmethod
    def of_bytes(cls, name: str, data: bytes) -> Upload:
        return cls(name=name, file=io.BytesIO(data), size=len(data))


def _file_sha(file: BinaryIO) -> bytes:
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(1 << 20):
        digest.update(chunk)
    file.seek(0)
    return digest.digest()


def _canonical_sha(data: Any, uploads: list[Upload]) -> str:
    h = hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for up in sorted(uploads, key=lambda u: u.name):
        h.update(up.name.encode("utf-8") + _file_sha(up.file))
    return h.hexdigest()


RESERVED_CASE_IDS = frozenset({"multipart"})
"""Ids no case may take: a case's address is /api/v1/cases/{id}, and these name other endpoints there."""


def submit_case(
    services: Services,
    *,
    user: User,
    data: Any,
    uploads: list[Upload],
    idempotency_key: str | None,
    now: datetime,
) -> tuple[CaseRow, bool]:
    """Validate and record a case; returns (case, created). A retry with the same Idempotency-Key or
    case_id returns the first case; the same key with a different body is a conflict. A case_id that
    is taken, by another case of the applicant's or by anyone else's, is one conflict with one answer,
    which names neither the case's owner nor its state."""
    access.check_submit(user)
    if not isinstance(data, dict):
        raise InvalidRequest("案件应为 JSON 对象", problems=[{"path": "", "message": "应为 JSON 对象"}])
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
        raise InvalidRequest("Idempotency-Key 长度应为 1 到 200 个字符")
    digest = _canonical_sha(data, uploads)
    with services.sessions() as session:
        existing = _existing_submission(session, user=user, data=data, key=idempotency_key)
        if existing is not None:
            return _same_or_conflict(existing, digest, data=data, key=idempotency_key), False
        # after the retry look-up, so that a case id taken is one answer whoever asks (see above)
        authorise_case(user, data, pre_check=False)
        item = data.get("item")
        ruleset = None
        if isinstance(item, str):
            ruleset = services.rulesets.current(session, item=item, at=now).ruleset
        case = parse_case(data, ruleset=ruleset)
        if ruleset is None:  # parse_case reported the missing or malformed item already
            raise CaseError("缺少事项 item")
        if case.case_id in RESERVED_CASE_IDS:
            raise InvalidRequest(
                f"案件编号 {case.case_id} 为系统保留，请改用其他编号",
                problems=[{"path": "case_id", "message": "系统保留的编号"}],
            )
        documents = check_uploads(services, case, uploads)
    case_id = case.case_id or f"MP{now.astimezone(CHINA_TZ):%Y%m%d}{secrets.token_hex(5).upper()}"
    stored = [(ref, store_upload(services, up), media, up.size) for ref, up, media in documents]
    row = CaseRow(
        id=case_id,
        item=case.item,
        department=ruleset.item.department,
        submitted_by=user.id,
        idempotency_key=idempotency_key,
        payload={**data, "case_id": case_id},
        payload_sha256=digest,
        status="queued",
        attempts=0,
        commitment=bool(case.commitments),
        received_at=now,
    )
    try:
        with services.sessions.begin() as session:
            session.add(row)
            session.flush()
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
                action="case.submitted",
                subject=case_id,
                at=now,
                detail={"item": case.item, "documents": len(stored), "sha256": digest},
            )
    except IntegrityError:
        # a concurrent retry won the race: answer with its case
        with services.sessions() as session:
            existing = _existing_submission(session, user=user, data=data, key=idempotency_key)
            if existing is None:
                raise _case_id_taken(case_id) from None
            return _same_or_conflict(existing, digest, data=data, key=idempotency_key), False
    log.info(
        "case submitted case=%s item=%s applicant=%s",
        case_id,
        case.item,
        mask_id(case.applicant.id_number or case.applicant.credit_code or ""),
    )
    return row, True


def store_upload(services: Services, up: Upload) -> str:
    """Store an uploaded file by its SHA-256; returns the hash."""
    up.file.seek(0)
    return services.blobs.put_file(up.file)


def _existing_submission(
    session: Session, *, user: User, data: dict[str, Any], key: str | None
) -> CaseRow | None:
    if key is not None:
        row = session.scalars(
            select(CaseRow).where(CaseRow.submitted_by == user.id, CaseRow.idempotency_key == key)
        ).first()
        if row is not None:
            return row
    case_id = data.get("case_id")
    if isinstance(case_id, str):
        row = session.get(CaseRow, case_id)
        if row is not None:
            if row.submitted_by != user.id:
                raise _case_id_taken(case_id)
            return row
    return None


def _same_or_conflict(row: CaseRow, digest: str, *, data: dict[str, Any], key: str | None) -> CaseRow:
    if row.payload_sha256 == digest:
        return row
    if key is not None and row.idempotency_key == key:
        raise Conflict(
            f"同一幂等键已用于内容不同的案件 {row.id}",
            problems=[{"path": "Idempotency-Key", "message": "重复使用于不同内容"}],
        )
    raise _case_id_taken(str(data.get("case_id")))


def _case_id_taken(case_id: str) -> Conflict:
    """The one answer to a case_id already taken, whoever's case holds it: the applicant learns that
    the id cannot be used, not whose case it is nor in what state."""
    return Conflict(
        f"案件编号 {case_id} 已被占用，请改用其他编号（或不填 case_id，由系统编号）",
        problems=[{"path": "case_id", "message": "编号已被占用"}],
    )


def check_uploads(
    services: Services, case: Case, uploads: list[Upload]
) -> list[tuple[DocumentRef, Upload, str]]:
    """Each document the case lists uploaded, within the size limit and of a supported type (judged by
    its bytes), and nothing uploaded that the case does not list; every problem at once."""
    by_name: dict[str, Upload] = {}
    problems: list[dict[str, str]] = []
    for up in uploads:
        if up.name in by_name:
            problems.append({"path": f"files.{up.name}", "message": "同名文件重复上传"})
        by_name[up.name] = up
    limit = services.settings.document_max_bytes
    out = []
    referenced = set()
    for i, ref in enumerate(case.documents):
        referenced.add(ref.path)
        found = by_name.get(ref.path)
        if found is None:
            problems.append({"path": f"documents.{i}.path", "message": f"未上传案件所列文件 {ref.path!r}"})
            continue
        up = found
        if up.size > limit:
            raise TooLarge(
                f"文件 {ref.path!r} 超过 {limit // 2**20} MiB 上限",
                problems=[{"path": f"documents.{i}.path", "message": f"{up.size} 字节，超过上限 {limit}"}],
            )
        try:
            media = sniff(sample_of(up.file, up.size))
        except DocumentError as exc:
            raise UnsupportedDocument(
                f"文件 {ref.path!r}：{exc.message}",
                problems=[{"path": f"documents.{i}.path", "message": exc.message}],
                document_code=exc.code,
            ) from exc
        out.append((ref, up, media))
    for name in by_name:
        if name not in referenced:
            problems.append({"path": f"files.{name}", "message": "上传的文件未在案件 documents 中列出"})
    if problems:
        raise InvalidRequest("案件材料与上传文件不一致", problems=problems)
    return out


# -- the pre-check ---------------------------------------------------------------------------------------
def dry_run(services: Services, *, data: Any, evaluator: Evaluator, now: datetime) -> dict[str, Any]:
    """Decide a case without recording anything (rule authors' checks, applicants' pre-checks,
    benchmarks). Documents are not read here: a case listing documents is refused."""
    if not isinstance(data, dict):
        raise InvalidRequest("案件应为 JSON 对象", problems=[{"path": "", "message": "应为 JSON 对象"}])
    item = data.get("item")
    if not isinstance(item, str):
        raise CaseError("缺少事项 item")
    with services.sessions() as session:
        program = services.rulesets.current(session, item=item, at=now)
    case = parse_case(data, ruleset=program.ruleset)
    if case.documents:
        raise InvalidRequest(
            "预审接口不读取材料文件；带材料的案件请通过 /api/v1/cases/multipart 提交",
            problems=[{"path": "documents", "message": "预审不支持材料文件"}],
        )
    sql = services.registry
    with sql.reading():  # nothing is kept, so the rows read are not recorded
        decision = decide_program(
            program,
            case,
            registry=sql,
            evaluator=evaluator,
            now=now.astimezone(CHINA_TZ),
        )
    return decision.to_json_dict()


# -- case views ------------------------------------------------------------------------------------------
def get_case(session: Session, *, user: User, case_id: str) -> CaseRow:
    """A case the user may see: applicants their own, approvers their department's, auditors and
    admins all. A case the user may not see is reported as not found (its existence is not leaked)."""
    return access.check_case(user, session.get(CaseRow, case_id), case_id)


class RulesetRef(BaseModel):
    version: str
    sha256: str


class ResultRef(BaseModel):
    code: str
    kind: str
    kind_label: str
    title: str
    issued_at: IsoTime
    issued_at_local: str
    revoked: bool


class CaseView(BaseModel):
    """A case as `GET /api/v1/cases/{id}` answers it: its state, the engine's decision, tasks, results."""

    case_id: str
    item: str
    department: str
    status: str
    status_label: str
    outcome: str | None
    outcome_label: str | None
    engine_outcome: str | None
    progress_label: str
    """Where the case stands for its applicant (service/labels.py: progress_label)."""
    round: int
    """The case's current round: 1, then one more for each correction resubmitted (补正)."""
    decision_round: int | None
    """The round `decision` is of: the latest decided one (the current round while it is decided)."""
    commitment: bool
    received_at: IsoTime
    received_at_local: str
    decided_at: IsoTime | None
    decided_at_local: str | None
    """The Beijing-time (+08:00) forms of the instants; the UTC fields are kept as they were."""
    decision: Decision | ApplicantDecision | None
    """The engine's decision as recorded: in full for staff, the applicant's view for an applicant."""
    ruleset: RulesetRef | None
    review_comment: str | None
    """The approver's comment when they returned the case for 补正 or refused it: the one comment meant
    for the applicant (service/disclosure.py); None otherwise."""
    tasks: list[TaskView]
    """Every task for staff; for an applicant, as service/disclosure.py: applicant_tasks shows them."""
    results: list[ResultRef]


def case_view(session: Session, *, user: User, row: CaseRow, now: datetime) -> CaseView:
    decision = latest_decision(session, row.id)
    shown: Decision | ApplicantDecision | None = None
    full: Decision | None = None
    if decision is not None:
        full = Decision.model_validate(decision.decision)
        shown = full if access.sees_full_decision(user) else applicant_view(full, case=row.payload)
    tasks = [task_view(t, now=now) for t in case_tasks(session, case_id=row.id)]
    comment = review_comment(tasks, decision=full, case=row.payload)
    if not access.sees_full_decision(user):
        tasks = applicant_tasks(tasks, decision=full, case=row.payload)
    results = session.scalars(
        select(ResultRow).where(ResultRow.case_id == row.id).order_by(ResultRow.issued_at)
    ).all()
    return CaseView(
        case_id=row.id,
        item=row.item,
        department=row.department,
        status=row.status,
        status_label=labels.label(labels.CASE_STATUS_LABELS, row.status) or row.status,
        outcome=row.outcome,
        outcome_label=labels.label(labels.OUTCOME_LABELS, row.outcome),
        engine_outcome=row.engine_outcome,
        progress_label=labels.progress_label(row.status, row.outcome),
        round=row.round,
        decision_round=decision.round if decision is not None else None,
        commitment=row.commitment,
        received_at=row.received_at,
        received_at_local=labels.local_time(row.received_at) or "",
        decided_at=row.decided_at,
        decided_at_local=labels.local_time(row.decided_at),
        decision=shown,
        ruleset=RulesetRef(version=decision.ruleset_version, sha256=decision.ruleset_sha256)
        if decision
        else None,
        review_comment=comment,
        tasks=tasks,
        results=[
            ResultRef(
                code=r.code,
                kind=r.kind,
                kind_label=labels.label(labels.RESULT_KIND_LABELS, r.kind) or r.kind,
                title=r.title,
                issued_at=r.issued_at,
                issued_at_local=labels.local_time(r.issued_at) or "",
                revoked=r.revoked,
            )
            for r in results
        ],
    )


@dataclass(frozen=True)
class CaseSummary:
    """A line of the case list (the applicant's name masked)."""

    case_id: str
    item: str
    applicant: str
    status: str
    outcome: str | None
    received_at: datetime
    decided_at: datetime | None


def list_cases(session: Session, *, user: User, status: str | None, limit: int) -> list[CaseSummary]:
    """The cases the user may see, newest first."""
    q = select(CaseRow).order_by(CaseRow.received_at.desc()).limit(limit)
    scope, value = access.case_scope(user)
    if scope == "submitted_by":
        q = q.where(CaseRow.submitted_by == value)
    elif scope == "department":
        q = q.where(CaseRow.department == value)
    if status is not None:
        q = q.where(CaseRow.status == status)
    return [
        CaseSummary(
            case_id=r.id,
            item=r.item,
            applicant=mask_name(str(r.payload.get("applicant", {}).get("name", ""))),
            status=r.status,
            outcome=r.outcome,
            received_at=r.received_at,
            decided_at=r.decided_at,
        )
        for r in session.scalars(q)
    ]


def case_if_done(services: Services, case_id: str) -> CaseRow | None:
    """The case once it is decided (or has failed for good), else None."""
    with services.sessions() as session:
        fresh = session.get(CaseRow, case_id)
        return fresh if fresh is not None and fresh.status in ("decided", "failed") else None


@dataclass(frozen=True)
class CaseRecord:
    """What the case page shows beside the view: the recorded facts and the ruleset decided under."""

    row: CaseRow
    view: CaseView
    facts: dict[str, Any]
    ruleset: Ruleset | None


def case_record(
    services: Services, session: Session, *, user: User, case_id: str, now: datetime
) -> CaseRecord:
    row = get_case(session, user=user, case_id=case_id)
    view = case_view(session, user=user, row=row, now=now)
    rec = latest_decision(session, row.id)
    facts = rec.facts if rec is not None else {}
    catalogue = services.rulesets
    ruleset = catalogue.by_sha(session, rec.ruleset_sha256 if rec else None) or catalogue.in_force(
        session, item=row.item, at=row.received_at
    )
    return CaseRecord(row=row, view=view, facts=facts, ruleset=ruleset)
