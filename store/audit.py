"""The audit trail: append-only events chained by hash, and the check that finds the first broken link."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.records import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(seq: int, at: datetime, actor: str, action: str, subject: str, detail: Any) -> bytes:
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def chain_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str, detail: Any
) -> str:
    return hashlib.sha256(
        prev_hash.encode("ascii") + _canonical(seq, at, actor, action, subject, detail)
    ).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event in the caller's transaction. The head row is updated first, which serialises
    concurrent appends: the second writer waits for the first one's commit, then chains after it."""
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    at = at.astimezone(UTC)  # stored and hashed in UTC, as it is read back
    # claim the head: on PostgreSQL the UPDATE takes the row lock before we read the head
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    seq = head.seq + 1
    digest = chain_hash(head.hash, seq, at, actor, action, subject, detail)
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=detail,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    ok: bool
    broken_at: int | None = None
    """Sequence number of the first event that does not chain (or where one is missing)."""
    problem: str | None = None


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the chain from the start; report the first event that was edited, deleted or reordered."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                return ChainReport(
                    count, False, expected_seq, f"第 {expected_seq} 条事件缺失（下一条为第 {ev.seq} 条）"
                )
            if ev.prev_hash != prev:
                return ChainReport(
                    count, False, ev.seq, f"第 {ev.seq} 条事件的前序哈希与上一条不符（被删除或调换顺序）"
                )
            digest = chain_hash(prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.detail)
            if digest != ev.hash:
                return ChainReport(count, False, ev.seq, f"第 {ev.seq} 条事件内容与其哈希不符（被修改）")
            prev = ev.hash
            expected_seq += 1
            count += 1
            last_seq = ev.seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(
            count, False, count + 1, f"链尾记录为第 {head.seq} 条，实际只有 {count} 条（末尾事件被删除）"
        )
    return ChainReport(count, True)
