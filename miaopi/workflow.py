"""The service's use cases, written against the database session and the decision core: submit a case,
lease and decide it in a worker, work the review queue, publish rulesets, verify results, replay.

Functions take keyword-only arguments and the caller's clock (`now`); each one that changes state does
so in one transaction together with its audit event, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.case import CHINA_TZ, Case, DocumentRef, parse_case
from engine.decision import Decision, Reason
from engine.errors import CaseError, RulesetError, UnknownItemError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.expr import suggest
from engine.program import Program, build_program
from extractors.errors import DocumentError
from extractors.sniff import sniff
from miaopi import results, sla
from miaopi.documents import DocumentReader
from miaopi.errors import Conflict, Forbidden, InvalidRequest, NotFound, TooLarge, UnsupportedDocument
from miaopi.masking import mask_id, mask_name
from miaopi.records import RecordingRegistry, ReplayRegistry, decode_documents, encode_documents
from miaopi.rulesets import RULESET_FILE
from miaopi.service import decide_case
from miaopi.settings import Settings
from store import audit
from store.blobs import BlobStore
from store.db import SQLITE_BEGIN
from store.registry import SqlRegistry
from store.workflow import (
    CaseDocument,
    CaseRow,
    DecisionRow,
    ExtractionRow,
    ResultRow,
    RulesetVersion,
    TaskRow,
    User,
)

log = logging.getLogger("miaopi.workflow")

REVIEW_OUTCOMES = {"approve": "approved", "reject": "rejected", "return": "returned"}
POST_CHECK_OUTCOMES = {"confirm": "confirmed", "revoke": "revoked"}
SYSTEM = "system"


def _changed(session: Session, statement: Any) -> int:
    """Run an UPDATE and return how many rows it changed (the compare-and-set outcome)."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What the use cases need, wired once per process (API, worker or CLI)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    programs: dict[str, Program] = field(default_factory=dict)
    """Compiled rulesets by content hash."""
    registry: SqlRegistry = field(init=False)
    """The shared registries (one per process: it keeps its prepared statements)."""

    def __post_init__(self) -> None:
        self.registry = SqlRegistry(self.engine)

    _published: dict[str, tuple[float, list[tuple[datetime, int, RulesetVersion]]]] = field(
        default_factory=dict
    )

    def current_program(self, session: Session, *, item: str, at: datetime) -> Program:
        """The program in force for `item` at `at`, from a short-lived cache of the published versions
        (settings.ruleset_cache_s): for the request path; workers read the database each time."""
        import time as _time

        cached = self._published.get(item)
        if cached is None or _time.monotonic() - cached[0] > self.settings.ruleset_cache_s:
            rows = session.scalars(
                select(RulesetVersion).where(
                    RulesetVersion.item == item, RulesetVersion.status == "published"
                )
            ).all()
            cached = (
                _time.monotonic(),
                sorted(((r.effective_from, r.id, r) for r in rows), key=lambda x: x[:2]),
            )
            self._published[item] = cached
        in_force = [r for eff, _id, r in cached[1] if eff <= at]
        if not in_force:
            return self.program_for(active_version(session, item=item, at=at))  # raises the full error
        return self.program_for(in_force[-1])

    def program_for(self, version: RulesetVersion) -> Program:
        program = self.programs.get(version.sha256)
        if program is None:
            program = build_program(version.content, source=f"{version.item}@{version.version}")
            self.programs[version.sha256] = program
        return program


@contextmanager
def _writing(services: Services) -> Iterator[Session]:
    """A transaction that reads, then writes on what it read (compare-and-set). On SQLite it begins
    IMMEDIATE, taking the write lock first: a deferred transaction whose snapshot went stale when another
    writer committed fails at once with "database is locked" instead of waiting for its turn."""
    bind = services.engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    with services.sessions(bind=bind) as session, session.begin():
        yield session


# -- rulesets ------------------------------------------------------------------------------------------
def active_version(session: Session, *, item: str, at: datetime) -> RulesetVersion:
    """The version of `item` in force at `at`: the latest published one whose effective time has come."""
    row = session.scalars(
        select(RulesetVersion)
        .where(
            RulesetVersion.item == item,
            RulesetVersion.status == "published",
            RulesetVersion.effective_from <= at,
        )
        .order_by(RulesetVersion.effective_from.desc(), RulesetVersion.id.desc())
        .limit(1)
    ).first()
    if row is None:
        items = sorted(set(session.scalars(select(RulesetVersion.item).distinct())))
        if item in items:
            raise UnknownItemError(f"事项 {item!r} 在 {at.isoformat()} 尚无生效的规则集版本", path="item")
        raise UnknownItemError(
            f"未知事项：{item!r}（可选：{', '.join(items)}）", path="item", suggestion=suggest(item, items)
        )
    return row


def seed_rulesets(services: Services, *, now: datetime) -> list[str]:
    """Publish every ruleset folder whose content is not yet in the database (first start, upgrades
    shipped with the code). Returns 'item@version' of what was added."""
    added = []
    root = services.settings.rulesets_dir
    with services.sessions.begin() as session:
        known = set(session.scalars(select(RulesetVersion.sha256)))
        for folder in sorted(p for p in root.iterdir() if (p / RULESET_FILE).is_file()):
            content = (folder / RULESET_FILE).read_text(encoding="utf-8")
            program = build_program(content, source=str(folder / RULESET_FILE))
            if program.sha256 in known:
                continue
            exists = session.scalars(
                select(RulesetVersion).where(
                    RulesetVersion.item == program.item, RulesetVersion.version == program.ruleset.version
                )
            ).first()
            if exists is not None:
                log.warning(
                    "ruleset %s@%s on disk differs from the published one; not re-published",
                    program.item,
                    program.ruleset.version,
                )
                continue
            _insert_version(
                session, program=program, content=content, effective_from=now, actor=SYSTEM, now=now
            )
            services.programs[program.sha256] = program
            added.append(f"{program.item}@{program.ruleset.version}")
    return added


def _insert_version(
    session: Session, *, program: Program, content: str, effective_from: datetime, actor: str, now: datetime
) -> RulesetVersion:
    row = RulesetVersion(
        item=program.item,
        version=program.ruleset.version,
        sha256=program.sha256,
        content=content,
        effective_from=effective_from,
        status="published",
        published_by=actor,
        published_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="ruleset.published",
        subject=f"{program.item}@{program.ruleset.version}",
        at=now,
        detail={"sha256": program.sha256, "effective_from": effective_from.isoformat()},
    )
    return row


def list_rulesets(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    rows = session.scalars(select(RulesetVersion).order_by(RulesetVersion.item, RulesetVersion.id)).all()
    items: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = items.setdefault(r.item, {"item": r.item, "active": None, "versions": []})
        entry["versions"].append(
            {
                "version": r.version,
                "sha256": r.sha256,
                "status": r.status,
                "effective_from": r.effective_from.isoformat(),
                "published_by": r.published_by,
                "published_at": r.published_at.isoformat(),
            }
        )
    for item, entry in items.items():
        try:
            entry["active"] = active_version(session, item=item, at=now).version
        except UnknownItemError:
            entry["active"] = None
    return list(items.values())


def publish_ruleset(
    services: Services,
    *,
    user: User,
    content: str,
    effective_from: datetime | None,
    now: datetime,
    golden: Any = None,
) -> RulesetVersion:
    """Publish a new version. Refused unless it compiles and its item's golden cases all pass
    (`golden(program) -> list[str]` returns the failures; the default runs samples/<item>)."""
    _require(user, "rule_author", "admin")
    try:
        program = build_program(content, source="upload")
    except RulesetError as exc:
        raise InvalidRequest(f"规则集无法编译：{exc}", problems=[exc.to_dict()]) from exc
    failures = (golden or _run_golden(services))(program)
    if failures:
        raise Conflict(
            f"规则集 {program.item}@{program.ruleset.version} 未通过样例案件测试"
            f"（{len(failures)} 项），不予发布",
            problems=[{"path": "golden", "message": f} for f in failures[:50]],
        )
    with _writing(services) as session:
        dup = session.scalars(
            select(RulesetVersion).where(
                RulesetVersion.item == program.item, RulesetVersion.version == program.ruleset.version
            )
        ).first()
        if dup is not None:
            raise Conflict(f"版本 {program.item}@{program.ruleset.version} 已发布，请使用新的版本号")
        known_items = set(session.scalars(select(RulesetVersion.item).distinct()))
        if program.item not in known_items and user.role != "admin":
            raise Forbidden("新增事项须由管理员发布")
        when = effective_from or now
        if when.tzinfo is None:
            raise InvalidRequest(
                "生效时间须带时区", problems=[{"path": "effective_from", "message": "缺少时区"}]
            )
        row = _insert_version(
            session, program=program, content=content, effective_from=when, actor=user.id, now=now
        )
    services.programs[program.sha256] = program
    return row


def _run_golden(services: Services) -> Any:
    def run(program: Program) -> list[str]:
        from miaopi.golden import run_golden

        samples = services.settings.samples_dir / program.item
        if not (samples / "expected.json").is_file():
            return [f"事项 {program.item} 没有样例案件（{samples}/expected.json）"]
        report = run_golden(program, samples, registry=SqlRegistry(services.engine))
        return [f"{r.case_id}: {'；'.join(r.problems)}" for r in report.results if not r.ok]

    return run


def rollback_ruleset(services: Services, *, user: User, item: str, now: datetime) -> RulesetVersion:
    """Withdraw the version in force; the previous one takes over at once."""
    _require(user, "rule_author", "admin")
    with _writing(services) as session:
        current = active_version(session, item=item, at=now)
        previous = session.scalars(
            select(RulesetVersion).where(
                RulesetVersion.item == item,
                RulesetVersion.status == "published",
                RulesetVersion.effective_from <= now,
                RulesetVersion.id != current.id,
            )
        ).first()
        if previous is None:
            raise Conflict(f"事项 {item} 只有一个生效版本，无法回滚")
        current.status = "rolled_back"
        audit.append(
            session, actor=user.id, action="ruleset.rolled_back", subject=f"{item}@{current.version}", at=now
        )
        session.flush()
        return active_version(session, item=item, at=now)


# -- submission ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


def _canonical_sha(data: Any, uploads: list[Upload]) -> str:
    h = hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    for up in sorted(uploads, key=lambda u: u.name):
        h.update(up.name.encode("utf-8") + hashlib.sha256(up.data).digest())
    return h.hexdigest()


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
    case_id returns the first case; the same key with a different body is a conflict."""
    _require(user, "applicant", "admin")
    if not isinstance(data, dict):
        raise InvalidRequest("案件应为 JSON 对象", problems=[{"path": "", "message": "应为 JSON 对象"}])
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
        raise InvalidRequest("Idempotency-Key 长度应为 1 到 200 个字符")
    digest = _canonical_sha(data, uploads)
    with services.sessions() as session:
        existing = _existing_submission(session, user=user, data=data, key=idempotency_key)
        if existing is not None:
            return _same_or_conflict(existing, digest), False
        item = data.get("item")
        ruleset = None
        if isinstance(item, str):
            ruleset = services.current_program(session, item=item, at=now).ruleset
        case = parse_case(data, ruleset=ruleset)
        if ruleset is None:  # parse_case reported the missing or malformed item already
            raise CaseError("缺少事项 item")
        documents = _check_uploads(services, case, uploads)
    case_id = case.case_id or f"MP{now.astimezone(CHINA_TZ):%Y%m%d}{secrets.token_hex(5).upper()}"
    stored = [(ref, services.blobs.put(up.data), media, len(up.data)) for ref, up, media in documents]
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
                raise Conflict(f"案件编号 {case_id} 已被使用") from None
            return _same_or_conflict(existing, digest), False
    log.info(
        "case submitted case=%s item=%s applicant=%s",
        case_id,
        case.item,
        mask_id(case.applicant.id_number or case.applicant.credit_code or ""),
    )
    return row, True


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
                raise Conflict(f"案件编号 {case_id} 已被使用")
            return row
    return None


def _same_or_conflict(row: CaseRow, digest: str) -> CaseRow:
    if row.payload_sha256 != digest:
        raise Conflict(
            f"同一幂等键（或案件编号）已用于内容不同的案件 {row.id}",
            problems=[{"path": "Idempotency-Key", "message": "重复使用于不同内容"}],
        )
    return row


def _check_uploads(
    services: Services, case: Case, uploads: list[Upload]
) -> list[tuple[DocumentRef, Upload, str]]:
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
        if len(up.data) > limit:
            raise TooLarge(
                f"文件 {ref.path!r} 超过 {limit // 2**20} MiB 上限",
                problems=[
                    {"path": f"documents.{i}.path", "message": f"{len(up.data)} 字节，超过上限 {limit}"}
                ],
            )
        try:
            media = sniff(up.data)
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


# -- access ----------------------------------------------------------------------------------------------
def _require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"角色 {user.role} 无权执行此操作（需要：{'、'.join(roles)}）")


def get_case(session: Session, *, user: User, case_id: str) -> CaseRow:
    """A case the user may see: applicants their own, approvers their department's, auditors and
    admins all. A case the user may not see is reported as not found (its existence is not leaked)."""
    row = session.get(CaseRow, case_id)
    if row is None or not can_see(user, row):
        raise NotFound(f"没有编号为 {case_id} 的案件")
    return row


def can_see(user: User, row: CaseRow) -> bool:
    if user.role in ("auditor", "admin"):
        return True
    if user.role == "applicant":
        return row.submitted_by == user.id
    if user.role == "approver":
        return row.department == user.department
    return False


def case_view(session: Session, *, row: CaseRow, now: datetime) -> dict[str, Any]:
    decision = session.scalars(select(DecisionRow).where(DecisionRow.case_id == row.id)).first()
    tasks = session.scalars(select(TaskRow).where(TaskRow.case_id == row.id).order_by(TaskRow.id)).all()
    results = session.scalars(
        select(ResultRow).where(ResultRow.case_id == row.id).order_by(ResultRow.issued_at)
    ).all()
    return {
        "case_id": row.id,
        "item": row.item,
        "department": row.department,
        "status": row.status,
        "outcome": row.outcome,
        "engine_outcome": row.engine_outcome,
        "commitment": row.commitment,
        "received_at": row.received_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision": decision.decision if decision else None,
        "ruleset": {"version": decision.ruleset_version, "sha256": decision.ruleset_sha256}
        if decision
        else None,
        "tasks": [task_view(t, now=now) for t in tasks],
        "results": [
            {
                "code": r.code,
                "kind": r.kind,
                "title": r.title,
                "issued_at": r.issued_at.isoformat(),
                "revoked": r.revoked,
            }
            for r in results
        ],
    }


# -- the worker: lease, decide, record -------------------------------------------------------------------
def lease_next(services: Services, *, owner: str, now: datetime) -> str | None:
    """Take the oldest case that is queued or whose lease has expired; None when there is none.
    The compare-and-set update makes two workers never hold the same case."""
    lease = timedelta(seconds=services.settings.lease_seconds)
    with _writing(services) as session:
        candidates = session.execute(
            select(CaseRow.id, CaseRow.status, CaseRow.attempts)
            .where(
                or_(
                    CaseRow.status == "queued",
                    and_(CaseRow.status == "processing", CaseRow.lease_until < now),
                )
            )
            .order_by(CaseRow.received_at)
            .limit(5)
        ).all()
        for case_id, status, attempts in candidates:
            took = _changed(
                session,
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.status == status, CaseRow.attempts == attempts)
                .values(
                    status="processing", lease_owner=owner, lease_until=now + lease, attempts=attempts + 1
                ),
            )
            if took == 1:
                return case_id
    return None


def process_case(
    services: Services,
    *,
    case_id: str,
    owner: str,
    reader: DocumentReader,
    evaluator: Evaluator | None = None,
    now: datetime,
) -> str | None:
    """Decide a leased case and record everything in one transaction. Returns the outcome, or None when
    the lease was lost (another worker decides it). Failures are retried up to the attempt limit, then
    the case goes to a person with the reason: never approved on an error."""
    with services.sessions() as session:
        row = session.get(CaseRow, case_id)
        if row is None or row.status != "processing" or row.lease_owner != owner:
            return None
        payload, attempts = dict(row.payload), row.attempts
        received_at = row.received_at
        docs = session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id)).all()
        version = active_version(session, item=row.item, at=received_at)
        doc_rows = [(d.ref, d.kind, d.sha256) for d in docs]
    try:
        program = services.program_for(version)
        case = parse_case(payload, ruleset=program.ruleset)
        blob_paths = {ref: services.blobs.path(sha) for ref, _kind, sha in doc_rows}
        stored_case = case.model_copy(
            update={
                "documents": [
                    DocumentRef(kind=d.kind, path=str(blob_paths[d.path].relative_to(services.blobs.root)))
                    for d in case.documents
                ]
            }
        )
        documents = reader.facts_for(program, stored_case, services.blobs.root)
        # the facts keep the case's own document names, not the storage paths
        for d in case.documents:
            if d.kind in documents:
                documents[d.kind].path = d.path
        sql = services.registry
        registry = RecordingRegistry(sql)
        decided_now = received_at.astimezone(CHINA_TZ)
        with sql.reading():
            decision = decide_case(
                case,
                repository=_FixedRepository(program),  # type: ignore[arg-type]
                registry=registry,
                evaluator=evaluator or DurableEvaluator(),
                documents=documents,
                now=decided_now,
            )
    except Exception as exc:  # any failure: retry, then a person decides; never approved
        log.exception("case %s failed (attempt %d)", case_id, attempts)
        return _record_failure(services, case_id=case_id, owner=owner, attempts=attempts, error=exc, now=now)
    facts = {
        "case": payload,
        "now": decided_now.isoformat(),
        "registry": registry.calls,
        "records": registry.records(),
        "documents": encode_documents(documents),
    }
    return _record_decision(
        services,
        case_id=case_id,
        owner=owner,
        program=program,
        decision=decision,
        facts=facts,
        documents=documents,
        doc_shas={kind: sha for _r, kind, sha in doc_rows},
        now=now,
    )


class _FixedRepository:
    def __init__(self, program: Program) -> None:
        self.program = program

    def get(self, item: str) -> Program:
        return self.program


def _record_decision(
    services: Services,
    *,
    case_id: str,
    owner: str,
    program: Program,
    decision: Decision,
    facts: dict[str, Any],
    documents: Mapping[str, Any],
    doc_shas: dict[str, str],
    now: datetime,
) -> str | None:
    outcome = decision.outcome
    try:
        with services.sessions.begin() as session:
            took = _changed(
                session,
                update(CaseRow)
                .where(CaseRow.id == case_id, CaseRow.status == "processing", CaseRow.lease_owner == owner)
                .values(
                    status="decided",
                    outcome=outcome,
                    engine_outcome=outcome,
                    decided_at=now,
                    lease_owner=None,
                    lease_until=None,
                    error=None,
                ),
            )
            if took != 1:
                session.rollback()
                return None
            row = session.get(CaseRow, case_id)
            assert row is not None
            session.add(
                DecisionRow(
                    case_id=case_id,
                    item=program.item,
                    ruleset_version=program.ruleset.version,
                    ruleset_sha256=program.sha256,
                    outcome=outcome,
                    facts=facts,
                    decision=decision.to_json_dict(),
                    decided_at=now,
                    elapsed_ms=decision.elapsed_ms,
                )
            )
            for kind, doc in encode_documents(documents).items():
                session.add(ExtractionRow(case_id=case_id, kind=kind, sha256=doc_shas.get(kind), facts=doc))
            audit.append(
                session,
                actor=SYSTEM,
                action="case.decided",
                subject=case_id,
                at=now,
                detail={
                    "outcome": outcome,
                    "ruleset": f"{program.item}@{program.ruleset.version}",
                    "sha256": program.sha256,
                    "reasons": len(decision.reasons),
                },
            )
            if outcome == "review":
                _open_task(services, session, row=row, kind="review", program=program, now=now)
            else:
                _issue_result(services, session, row=row, program=program, decision=decision, now=now)
                if outcome == "approved" and row.commitment and _sampled(services, case_id):
                    _open_task(services, session, row=row, kind="post_check", program=program, now=now)
    except IntegrityError:
        log.warning("case %s already has a decision; this one is dropped", case_id)
        return None
    return outcome


def _sampled(services: Services, case_id: str) -> bool:
    """Random sampling for 事后核查, reproducible per case (seeded by the case id)."""
    rate = services.settings.post_check_rate
    return random.Random(hashlib.sha256(case_id.encode()).digest()).random() < rate


def _record_failure(
    services: Services, *, case_id: str, owner: str, attempts: int, error: Exception, now: datetime
) -> str | None:
    message = f"{type(error).__name__}: {error}"[:2000]
    final = attempts >= services.settings.max_attempts
    with services.sessions.begin() as session:
        took = _changed(
            session,
            update(CaseRow)
            .where(CaseRow.id == case_id, CaseRow.status == "processing", CaseRow.lease_owner == owner)
            .values(
                status="failed" if final else "queued",
                outcome="review" if final else None,
                lease_owner=None,
                lease_until=None,
                error=message,
            ),
        )
        if took != 1:
            return None
        audit.append(
            session,
            actor=SYSTEM,
            action="case.failed" if final else "case.retry",
            subject=case_id,
            at=now,
            detail={"attempts": attempts, "error": type(error).__name__},
        )
        if final:
            row = session.get(CaseRow, case_id)
            assert row is not None
            version = active_version(session, item=row.item, at=row.received_at)
            _open_task(
                services, session, row=row, kind="review", program=services.program_for(version), now=now
            )
            return "review"
    return None


def _open_task(
    services: Services, session: Session, *, row: CaseRow, kind: str, program: Program, now: datetime
) -> TaskRow:
    days = program.ruleset.item.time_limit_days if kind == "review" else services.settings.post_check_days
    due = sla.compute_due(row.received_at, days)
    task = TaskRow(
        case_id=row.id,
        kind=kind,
        department=row.department,
        status="open",
        created_at=now,
        due_at=due.at,
        official_calendar=due.official,
        version=0,
    )
    session.add(task)
    session.flush()
    audit.append(
        session,
        actor=SYSTEM,
        action=f"task.opened.{kind}",
        subject=row.id,
        at=now,
        detail={"task": task.id, "due_at": due.at.isoformat()},
    )
    return task


def _issue_result(
    services: Services,
    session: Session,
    *,
    row: CaseRow,
    program: Program,
    decision: Decision,
    now: datetime,
    review: str | None = None,
) -> ResultRow:

    code = results.normalize_code(results.new_verification_code())
    base = services.settings.public_base_url.rstrip("/")
    rendered = results.render_result(
        ruleset=program.ruleset,
        decision=decision,
        applicant_name=str(row.payload.get("applicant", {}).get("name", "")),
        verification_code=code,
        verify_url=f"{base}/verify/{code}",
        issued_at=now,
        review=review,
    )
    sha = services.blobs.put(rendered.pdf)
    result = ResultRow(
        code=code,
        case_id=row.id,
        kind=rendered.kind,
        title=rendered.title,
        pdf_sha256=sha,
        grants=json.loads(json.dumps(rendered.grants, ensure_ascii=False, default=str)),
        issued_at=now,
        revoked=False,
    )
    session.add(result)
    session.flush()
    audit.append(
        session,
        actor=SYSTEM,
        action="result.issued",
        subject=row.id,
        at=now,
        detail={"code": code, "kind": rendered.kind, "pdf_sha256": sha},
    )
    return result


# -- review queue ----------------------------------------------------------------------------------------
def task_view(task: TaskRow, *, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "case_id": task.case_id,
        "kind": task.kind,
        "department": task.department,
        "status": task.status,
        "due_at": task.due_at.isoformat(),
        "card": sla.card(task.due_at, now) if task.status != "done" else None,
        "official_calendar": task.official_calendar,
        "claimed_by": task.claimed_by,
        "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
        "outcome": task.outcome,
        "comment": task.comment,
        "decided_by": task.decided_by,
        "decided_at": task.decided_at.isoformat() if task.decided_at else None,
    }


CARD_ORDER = {"red": 0, "yellow": 1, "green": 2}


def list_tasks(
    session: Session,
    *,
    user: User,
    now: datetime,
    kind: str = "review",
    department: str | None = None,
    card: str | None = None,
    include_done: bool = False,
) -> list[TaskRow]:
    """Tasks of a department: red cards first, then by due date."""
    _require(user, "approver", "auditor", "admin")
    if kind not in ("review", "post_check"):
        raise InvalidRequest("kind 只能是 review 或 post_check", problems=[{"path": "kind", "message": kind}])
    if card is not None and card not in CARD_ORDER:
        raise InvalidRequest("card 只能是 red、yellow 或 green", problems=[{"path": "card", "message": card}])
    if user.role == "approver":
        if department is not None and department != user.department:
            raise Forbidden("只能查看本部门的任务")
        department = user.department
    q = select(TaskRow).where(TaskRow.kind == kind)
    if department is not None:
        q = q.where(TaskRow.department == department)
    if not include_done:
        q = q.where(TaskRow.status != "done")
    tasks = list(session.scalars(q.order_by(TaskRow.due_at, TaskRow.id)))
    if card is not None:
        tasks = [t for t in tasks if t.status != "done" and sla.card(t.due_at, now) == card]
    tasks.sort(
        key=lambda t: (0 if t.status != "done" and sla.card(t.due_at, now) == "red" else 1, t.due_at, t.id)
    )
    return tasks


def queue_counts(session: Session, *, department: str | None, now: datetime) -> dict[str, dict[str, int]]:
    q = select(TaskRow.kind, TaskRow.due_at).where(TaskRow.status != "done")
    if department is not None:
        q = q.where(TaskRow.department == department)
    counts: dict[str, dict[str, int]] = {}
    for kind, due in session.execute(q):
        bucket = counts.setdefault(kind, {"red": 0, "yellow": 0, "green": 0})
        bucket[sla.card(due, now)] += 1
    return counts


def _task_for(session: Session, *, user: User, task_id: int) -> TaskRow:
    _require(user, "approver", "admin")
    task = session.get(TaskRow, task_id)
    if task is None or (user.role == "approver" and task.department != user.department):
        raise NotFound(f"没有编号为 {task_id} 的任务")
    return task


def claim_task(services: Services, *, user: User, task_id: int, now: datetime) -> TaskRow:
    """Claim a task. Exactly one of two concurrent claims wins (compare-and-set on the version); a claim
    idle longer than the setting may be taken over by another approver of the department (AB岗)."""
    idle = timedelta(minutes=services.settings.claim_idle_minutes)
    with _writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        if task.status == "done":
            raise Conflict("任务已办结")
        previous = task.claimed_by
        if task.status == "claimed" and previous != user.id:
            last = task.last_activity_at or task.claimed_at or now
            if last > now - idle:
                raise Conflict(f"任务已由 {previous} 认领", claimed_by=previous)
        _set_task(
            session,
            task,
            "任务刚被他人认领，请刷新",
            status="claimed",
            claimed_by=user.id,
            claimed_at=now,
            last_activity_at=now,
        )
        # `task` already shows the new state here (the ORM update synchronises it): decide by `previous`
        action = "task.taken_over" if previous not in (None, user.id) else "task.claimed"
        audit.append(
            session,
            actor=user.id,
            action=action,
            subject=task.case_id,
            at=now,
            detail={"task": task_id, "previous": previous},
        )
    return _reload_task(services, task_id)


def _set_task(session: Session, task: TaskRow, conflict: str, **values: Any) -> None:
    """Compare-and-set on the task's version: exactly one of two concurrent changes wins; the other
    gets a Conflict with `conflict` as its message."""
    took = _changed(
        session,
        update(TaskRow)
        .where(TaskRow.id == task.id, TaskRow.version == task.version)
        .values(**values, version=task.version + 1),
    )
    if took != 1:
        raise Conflict(conflict)


def _reload_task(services: Services, task_id: int) -> TaskRow:
    with services.sessions() as session:
        fresh = session.get(TaskRow, task_id)
        assert fresh is not None
        return fresh


def release_task(services: Services, *, user: User, task_id: int, now: datetime) -> TaskRow:
    with _writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        if task.status != "claimed" or task.claimed_by != user.id:
            raise Conflict("只能释放自己认领的任务")
        _set_task(
            session,
            task,
            "任务状态已变化，请刷新",
            status="open",
            claimed_by=None,
            claimed_at=None,
            last_activity_at=now,
        )
        audit.append(
            session,
            actor=user.id,
            action="task.released",
            subject=task.case_id,
            at=now,
            detail={"task": task_id},
        )
    return _reload_task(services, task_id)


def decide_task(
    services: Services, *, user: User, task_id: int, outcome: str, comment: str, now: datetime
) -> TaskRow:
    """The approver's decision, kept beside the engine's. Review: approve / reject / return (a result is
    issued at once); post-check: confirm / revoke (revoking withdraws the issued result)."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidRequest("审批意见为必填项", problems=[{"path": "comment", "message": "不能为空"}])
    if len(comment) > 2000:
        raise InvalidRequest("审批意见过长", problems=[{"path": "comment", "message": "不超过 2000 字"}])
    with _writing(services) as session:
        task = _task_for(session, user=user, task_id=task_id)
        allowed = REVIEW_OUTCOMES if task.kind == "review" else POST_CHECK_OUTCOMES
        if outcome not in allowed:
            raise InvalidRequest(
                f"处理结果只能是 {'、'.join(allowed)}",
                problems=[{"path": "outcome", "message": f"不支持 {outcome!r}"}],
            )
        if task.status == "done":
            raise Conflict("任务已办结")
        if task.status != "claimed" or task.claimed_by != user.id:
            raise Conflict("请先认领任务再作出决定")
        _set_task(
            session,
            task,
            "任务状态已变化，请刷新",
            status="done",
            outcome=allowed[outcome],
            comment=comment,
            decided_by=user.id,
            decided_at=now,
            last_activity_at=now,
        )
        row = session.get(CaseRow, task.case_id)
        assert row is not None
        audit.append(
            session,
            actor=user.id,
            action=f"task.decided.{task.kind}",
            subject=row.id,
            at=now,
            detail={"task": task_id, "outcome": allowed[outcome], "comment": comment},
        )
        if task.kind == "review":
            row.outcome = allowed[outcome]
            engine = session.scalars(select(DecisionRow).where(DecisionRow.case_id == row.id)).first()
            engine_json = engine.decision if engine is not None else None
            # the result is rendered under the version the engine decided with, even when it has since
            # been rolled back (the version in force at receipt would then be another one)
            recorded = (
                session.scalars(
                    select(RulesetVersion).where(RulesetVersion.sha256 == engine.ruleset_sha256)
                ).first()
                if engine is not None
                else None
            )
            version = recorded or active_version(session, item=row.item, at=row.received_at)
            program = services.program_for(version)
            decision = _human_decision(
                program, row=row, engine_json=engine_json, outcome=allowed[outcome], comment=comment, now=now
            )
            _issue_result(
                services, session, row=row, program=program, decision=decision, now=now, review=comment
            )
        elif outcome == "revoke":
            for res in session.scalars(
                select(ResultRow).where(ResultRow.case_id == row.id, ResultRow.revoked.is_(False))
            ):
                res.revoked = True
            row.outcome = "revoked"
            audit.append(
                session,
                actor=user.id,
                action="result.revoked",
                subject=row.id,
                at=now,
                detail={"comment": comment},
            )
    return _reload_task(services, task_id)


def _human_decision(
    program: Program,
    *,
    row: CaseRow,
    engine_json: dict[str, Any] | None,
    outcome: str,
    comment: str,
    now: datetime,
) -> Decision:
    """The decision a result document is rendered from after review: the engine's evaluation with the
    approver's outcome; a refusal or a return carries the approver's comment as its reason."""
    if engine_json is None:  # the engine never decided (system failure): a bare decision with the comment
        engine_json = {
            "case_id": row.id,
            "item": row.item,
            "ruleset": {"id": program.item, "version": program.ruleset.version, "sha256": program.sha256},
            "outcome": "review",
            "outputs": {},
            "conditions": [],
            "reasons": [],
            "missing_materials": [],
            "materials": [],
            "decided_at": now.isoformat(),
        }
    decision = Decision.model_validate(engine_json)
    update_: dict[str, Any] = {"outcome": outcome, "decided_at": now.astimezone(CHINA_TZ).isoformat()}
    if outcome != "approved":
        update_["reasons"] = [
            *decision.reasons,
            Reason(condition=results.REVIEWER, status="fail", message=comment),
        ]
    return decision.model_copy(update=update_)


# -- results and verification ----------------------------------------------------------------------------
def verify_result(session: Session, *, code: str) -> dict[str, Any]:

    if not results.is_well_formed(code):
        raise NotFound("核验码格式不正确")
    row = session.get(ResultRow, results.normalize_code(code))
    if row is None:
        raise NotFound("未找到该核验码对应的文书，文书可能为伪造")
    return {
        "genuine": True,
        "valid": not row.revoked,
        "status": "已撤销" if row.revoked else "有效",
        "kind": row.kind,
        "title": row.title,
        "issued_at": row.issued_at.isoformat(),
        "grants": {**row.grants, "applicant": mask_name(str(row.grants.get("applicant", "")))},
    }


def result_pdf(services: Services, session: Session, *, user: User, code: str) -> tuple[ResultRow, bytes]:

    row = session.get(ResultRow, results.normalize_code(code)) if results.is_well_formed(code) else None
    if row is None:
        raise NotFound("没有该文书")
    get_case(session, user=user, case_id=row.case_id)
    return row, services.blobs.get(row.pdf_sha256)


# -- replay ----------------------------------------------------------------------------------------------
def replay(services: Services, *, case_id: str, now: datetime) -> dict[str, Any]:
    """Decide a case again from its recorded facts under the recorded ruleset (must match exactly) and
    under the version in force now (may differ: reported condition by condition)."""
    with services.sessions() as session:
        rec = session.scalars(select(DecisionRow).where(DecisionRow.case_id == case_id)).first()
        if rec is None:
            raise NotFound(f"案件 {case_id} 没有引擎决定可重放")
        recorded = session.scalars(
            select(RulesetVersion).where(RulesetVersion.sha256 == rec.ruleset_sha256)
        ).first()
        if recorded is None:
            raise NotFound(f"找不到哈希为 {rec.ruleset_sha256[:12]}… 的规则集版本")
        current = active_version(session, item=rec.item, at=now)
        facts, stored = rec.facts, rec.decision
    same = _replay_under(services.program_for(recorded), facts)
    try:
        later = _replay_under(services.program_for(current), facts)
    except LookupError as exc:  # the current version reads shared data the case never looked up
        later = None
        not_comparable = str(exc)
    original = {k: v for k, v in stored.items() if k != "elapsed_ms"}
    reproduced = {k: v for k, v in same.to_json_dict().items() if k != "elapsed_ms"}
    recorded_part = {
        "version": rec.ruleset_version,
        "sha256": rec.ruleset_sha256,
        "outcome": stored["outcome"],
    }
    if later is None:
        return {
            "case_id": case_id,
            "recorded": recorded_part,
            "reproduced": reproduced == original,
            "current": {
                "version": current.version,
                "sha256": current.sha256,
                "comparable": False,
                "reason": f"现行版本需要记录之外的共享数据：{not_comparable}",
            },
        }
    later_conditions = {c.id: c.status for c in later.conditions}
    diff_now = [
        {"condition": c["id"], "recorded": c["status"], "current": later_conditions.get(c["id"], "absent")}
        for c in stored["conditions"]
        if later_conditions.get(c["id"]) != c["status"]
    ]
    added = [cid for cid in later_conditions if cid not in {c["id"] for c in stored["conditions"]}]
    return {
        "case_id": case_id,
        "recorded": recorded_part,
        "reproduced": reproduced == original,
        "current": {
            "comparable": True,
            "version": current.version,
            "sha256": current.sha256,
            "outcome": later.outcome,
            "differs": later.outcome != same.outcome or bool(diff_now) or bool(added),
            "conditions": diff_now,
            "added_conditions": added,
        },
    }


def _replay_under(program: Program, facts: dict[str, Any]) -> Decision:
    from engine.decision import decide

    case = parse_case(facts["case"])
    return decide(
        program,
        case=case,
        registry=ReplayRegistry(facts["registry"]),
        evaluator=DurableEvaluator(),
        now=datetime.fromisoformat(facts["now"]),
        documents=decode_documents(facts["documents"]),
    )


# -- users -------------------------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_hex, _digest = stored.split("$")
    return secrets.compare_digest(hash_password(password, salt=bytes.fromhex(salt_hex)), stored)


def add_user(
    services: Services,
    *,
    user_id: str,
    display_name: str,
    role: str,
    department: str | None,
    password: str | None,
    token: str | None = None,
    now: datetime,
) -> tuple[User, str]:
    """Create a user; returns the user and their API token (shown once; only its hash is stored)."""
    from store.workflow import ROLES

    if role not in ROLES:
        raise InvalidRequest(f"未知角色 {role!r}（可选：{'、'.join(ROLES)}）")
    if role == "approver" and not department:
        raise InvalidRequest("审批人员必须属于一个部门")
    token = token or secrets.token_urlsafe(24)
    user = User(
        id=user_id,
        display_name=display_name,
        role=role,
        department=department,
        token_sha256=hash_token(token),
        password_hash=hash_password(password) if password else None,
        created_at=now,
    )
    try:
        with services.sessions.begin() as session:
            session.add(user)
            session.flush()
            audit.append(
                session,
                actor=SYSTEM,
                action="user.created",
                subject=user_id,
                at=now,
                detail={"role": role, "department": department},
            )
    except IntegrityError:
        raise Conflict(f"用户 {user_id} 已存在") from None
    return user, token


def user_by_token(session: Session, token: str) -> User | None:
    return session.scalars(select(User).where(User.token_sha256 == hash_token(token))).first()


def stats(session: Session, *, now: datetime) -> dict[str, Any]:
    """Figures for /metrics and the queue page: cases by outcome and status, the auto-approval rate."""
    by_outcome = dict(
        session.execute(select(DecisionRow.outcome, func.count()).group_by(DecisionRow.outcome)).all()
    )
    by_status = dict(session.execute(select(CaseRow.status, func.count()).group_by(CaseRow.status)).all())
    decided = sum(by_outcome.values())
    done = session.execute(
        select(TaskRow.decided_at, TaskRow.due_at).where(TaskRow.status == "done", TaskRow.kind == "review")
    ).all()
    on_time = sum(1 for d, due in done if d is not None and d <= due)
    return {
        "cases_by_outcome": by_outcome,
        "cases_by_status": by_status,
        "auto_approval_rate": (by_outcome.get("approved", 0) / decided) if decided else 0.0,
        "reviews_done": len(done),
        "reviews_on_time": on_time,
    }


def create_services(settings: Settings, *, migrate: bool = True) -> Services:
    from store.db import create_engine_for, session_factory
    from store.migrate import upgrade

    engine = create_engine_for(settings.database_url)
    if migrate:
        upgrade(engine)
    files = Path(settings.files_dir)
    files.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings, engine=engine, sessions=session_factory(engine), blobs=BlobStore(files)
    )


def dry_run(services: Services, *, data: Any, evaluator: Evaluator, now: datetime) -> dict[str, Any]:
    """Decide a case without recording anything (rule authors' checks, applicants' pre-checks,
    benchmarks). Documents are not read here: a case listing documents is refused."""
    if not isinstance(data, dict):
        raise InvalidRequest("案件应为 JSON 对象", problems=[{"path": "", "message": "应为 JSON 对象"}])
    item = data.get("item")
    if not isinstance(item, str):
        raise CaseError("缺少事项 item")
    with services.sessions() as session:
        program = services.current_program(session, item=item, at=now)
    case = parse_case(data, ruleset=program.ruleset)
    if case.documents:
        raise InvalidRequest(
            "预审接口不读取材料文件；带材料的案件请通过 /api/v1/cases/multipart 提交",
            problems=[{"path": "documents", "message": "预审不支持材料文件"}],
        )
    sql = services.registry
    with sql.reading():  # nothing is kept, so the rows read are not recorded
        decision = decide_case(
            case,
            repository=_FixedRepository(program),  # type: ignore[arg-type]
            registry=sql,
            evaluator=evaluator,
            now=now.astimezone(CHINA_TZ),
        )
    return decision.to_json_dict()
