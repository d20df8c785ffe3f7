"""The audit trail: append-only events chained by hash, a head signed with the audit key, signed
checkpoints in the database and in a file outside it, and the check that finds the first event that
can no longer be trusted.

Event hashes are plain SHA-256, which anyone with database access can recompute. What such a person
cannot recompute is an HMAC-SHA256 under the audit key, which is kept outside the database: the head's
signature (over its seq and hash) and each checkpoint's (over seq, hash and time). So an edited,
deleted or reordered event breaks the hash chain; an edited event with every later hash recomputed, or
the last events deleted and the head rewound, leaves a head whose signature does not match; and a
checkpoint, copied off the machine, still names a sequence number and hash that the chain must reach,
even when an old signed head is put back.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.records import AuditCheckpoint, AuditEvent, AuditHead

GENESIS = "0" * 64
HEAD_DOMAIN = b"miaopi-audit-head"
CHECKPOINT_DOMAIN = b"miaopi-audit-checkpoint"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TAIL_BYTES = 65536
"""How much of the checkpoint file's end is read to find its last checkpoint (a line is ~200 bytes)."""

log = logging.getLogger("miaopi.audit")


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


# -- signatures --------------------------------------------------------------------------------------------
def _mac(key: bytes, domain: bytes, *parts: str) -> str:
    message = b"|".join([domain, *(part.encode("utf-8") for part in parts)])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _shown(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _same(signature: str | None, expected: str) -> bool:
    return signature is not None and hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii"))


def head_signature(key: bytes, seq: int, digest: str) -> str:
    """HMAC-SHA256 of `miaopi-audit-head|seq|hash` under the audit key."""
    return _mac(key, HEAD_DOMAIN, str(seq), digest)


def head_signed(key: bytes, head: AuditHead) -> bool:
    return _same(head.signature, head_signature(key, head.seq, head.hash))


def checkpoint_signature(key: bytes, seq: int, digest: str, at: datetime) -> str:
    """HMAC-SHA256 of `miaopi-audit-checkpoint|seq|hash|time` under the audit key (time in UTC, ISO)."""
    return _mac(key, CHECKPOINT_DOMAIN, str(seq), digest, _instant(at))


# -- appending ---------------------------------------------------------------------------------------------
def append(
    session: Session,
    *,
    key: bytes,
    actor: str,
    action: str,
    subject: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event in the caller's transaction and sign the new head with `key`. The head row is
    updated first, which serialises concurrent appends: the second writer waits for the first one's
    commit, then chains after it.

    A head whose signature does not match (rewound or re-chained without the key, or signed with
    another key) is extended but not signed: signing it would make the change look genuine. Verification
    keeps reporting it until an operator has checked the chain and signed the head again (`sign_head`)."""
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    at = at.astimezone(UTC)  # stored and hashed in UTC, as it is read back
    # claim the head: on PostgreSQL the UPDATE takes the row lock before we read the head
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.get(AuditHead, 1, populate_existing=True)
    trusted = True
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS, signature=None)
        session.add(head)
        session.flush()
    elif not head_signed(key, head):
        trusted = False
        log.error(
            "the audit head at seq %d has no valid signature under this process's audit key: the new "
            "head is left unsigned (see `miaopi audit verify`; after checking, `miaopi audit sign-head`)",
            head.seq,
        )
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
    head.signature = head_signature(key, seq, digest) if trusted else None
    session.flush()
    return event


# -- checkpoints -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    """The head at a time, signed: a line of the checkpoint file and a row of `audit_checkpoints`."""

    seq: int
    hash: str
    at: datetime
    signature: str
    origin: str = field(default="检查点表中的检查点", compare=False)
    """Where it was read, for the problem texts."""

    @classmethod
    def sign(cls, key: bytes, *, seq: int, digest: str, at: datetime) -> Checkpoint:
        at = at.astimezone(UTC)
        return cls(seq=seq, hash=digest, at=at, signature=checkpoint_signature(key, seq, digest, at))

    def signed(self, key: bytes) -> bool:
        return _same(self.signature, checkpoint_signature(key, self.seq, self.hash, self.at))

    def line(self) -> str:
        body = {"seq": self.seq, "hash": self.hash, "at": _instant(self.at), "hmac": self.signature}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))


class CheckpointFileError(Exception):
    """The checkpoint file cannot be read, or holds a line that is not a checkpoint."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _parse_line(raw: bytes, *, origin: str) -> Checkpoint:
    try:
        data = json.loads(raw)
        seq, digest, signature = data["seq"], data["hash"], data["hmac"]
        at = datetime.fromisoformat(data["at"])
    except (ValueError, TypeError, KeyError):
        raise CheckpointFileError(f"{origin}无法解析（文件被改动或写入不完整）") from None
    if (
        type(seq) is not int
        or seq < 1
        or not isinstance(digest, str)
        or not _HEX64.match(digest)
        or not isinstance(signature, str)
        or at.tzinfo is None
    ):
        raise CheckpointFileError(f"{origin}不是有效的检查点（文件被改动）")
    return Checkpoint(seq=seq, hash=digest, at=at.astimezone(UTC), signature=signature, origin=origin)


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """Every checkpoint in the file (none when it does not exist)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CheckpointFileError(f"检查点文件 {path} 无法读取：{exc.strerror}") from None
    return [
        _parse_line(line, origin=f"检查点文件 {path} 第 {number} 行的检查点")
        for number, line in enumerate(raw.split(b"\n"), start=1)
        if line.strip()
    ]


def last_file_checkpoint(path: Path) -> Checkpoint | None:
    """The file's last checkpoint, read from its end only."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_BYTES)
            fh.seek(start)
            tail = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointFileError(f"检查点文件 {path} 无法读取：{exc.strerror}") from None
    lines = tail.split(b"\n")[1 if start else 0 :]  # the first piece of a tail may be a partial line
    filled = [line for line in lines if line.strip()]
    if not filled:
        return None
    return _parse_line(filled[-1], origin=f"检查点文件 {path} 末行的检查点")


def append_checkpoint_file(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line in a single write (O_APPEND, under an exclusive lock), then fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (checkpoint.line() + "\n").encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def record_checkpoint(session: Session, checkpoint: Checkpoint) -> None:
    """Add the checkpoint's row in the caller's transaction."""
    session.add(
        AuditCheckpoint(
            seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at, signature=checkpoint.signature
        )
    )
    session.flush()


def _table_checkpoint(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(
        seq=row.seq,
        hash=row.hash,
        at=row.at,
        signature=row.signature,
        origin=f"检查点表中的第 {row.id} 号检查点",
    )


def _table_checkpoints(session: Session) -> list[Checkpoint]:
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id))
    return [_table_checkpoint(row) for row in rows]


# -- checking ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainReport:
    events: int
    """Events before `broken_at` found intact (all of them when ok)."""
    ok: bool
    broken_at: int | None = None
    """Sequence number of the first event that does not chain (or where one is missing), or from which on
    the events cannot be trusted (a head or checkpoint that does not match); None for an unreadable
    checkpoint file."""
    problem: str | None = None
    checkpoints: int = 0
    """Checkpoints (from the table and the file) the chain was found to match."""


def _events(session: Session, *, after: int, until: int | None, batch: int) -> Iterator[AuditEvent]:
    last = after
    while True:
        query = select(AuditEvent).where(AuditEvent.seq > last)
        if until is not None:
            query = query.where(AuditEvent.seq <= until)
        rows = session.scalars(query.order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _link_problem(ev: AuditEvent, expected_seq: int, prev: str) -> tuple[int, str] | None:
    if ev.seq != expected_seq:
        return expected_seq, f"第 {expected_seq} 条事件缺失（下一条为第 {ev.seq} 条）"
    if ev.prev_hash != prev:
        return ev.seq, f"第 {ev.seq} 条事件的前序哈希与上一条不符（被删除或调换顺序）"
    if chain_hash(prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.detail) != ev.hash:
        return ev.seq, f"第 {ev.seq} 条事件内容与其哈希不符（被修改）"
    return None


def _rewritten(cp: Checkpoint, seq: int, anchored: int) -> str:
    return (
        f"第 {seq} 条事件的哈希与{cp.origin}（{_shown(cp.at)}）记录的不符："
        f"第 {anchored + 1} 至 {seq} 条之间有事件被修改，其后的哈希被重算"
    )


def _truncated(cp: Checkpoint, count: int) -> str:
    return f"{cp.origin}（{_shown(cp.at)}）记录审计链已有第 {cp.seq} 条，现只有 {count} 条（末尾事件被删除）"


def _unconfirmed(anchored: int) -> str:
    if anchored:
        return f"第 {anchored} 条之后的事件无法确认（此前由检查点确认）"
    return "没有相符的检查点，任何一条事件都无法确认"


def _head_mismatch(head: AuditHead, count: int) -> str:
    if head.seq > count:
        return f"链尾记录为第 {head.seq} 条，实际只有 {count} 条（末尾事件被删除）"
    return f"链尾记录（第 {head.seq} 条）与审计链的最后一条（第 {count} 条）不符（链尾被改写）"


def verify(
    session: Session,
    *,
    key: bytes,
    checkpoint_file: Path | None = None,
    signed_head: bool = True,
    batch: int = 1000,
) -> ChainReport:
    """Walk the chain from the start and report a problem, in this order: an event edited, deleted or
    reordered (the first broken link, which names the event exactly); a checkpoint (of the table or the
    file) that does not match the chain at its seq, or lies beyond its end; a head that is not the
    chain's last event, or whose signature under `key` is missing or wrong; a checkpoint whose own
    signature is wrong. `signed_head=False` leaves out the head's signature (before signing it again).

    Run it in one snapshot (REPEATABLE READ on PostgreSQL), or appends committed meanwhile look like a
    head that runs ahead of the events."""
    try:
        from_file = read_checkpoint_file(checkpoint_file) if checkpoint_file is not None else []
    except CheckpointFileError as exc:
        return ChainReport(0, False, None, exc.message)
    checkpoints = [*_table_checkpoints(session), *from_file]
    forged = [cp for cp in checkpoints if not cp.signed(key)]
    anchors: dict[int, list[Checkpoint]] = defaultdict(list)
    for cp in checkpoints:
        if cp.signed(key):
            anchors[cp.seq].append(cp)

    prev = GENESIS
    count = anchored = matched = 0
    rewritten: ChainReport | None = None  # reported after the walk: a broken link comes first
    for ev in _events(session, after=0, until=None, batch=batch):
        broken = _link_problem(ev, count + 1, prev)
        if broken is not None:
            return ChainReport(count, False, *broken)
        for cp in anchors.get(ev.seq, ()):
            if rewritten is not None:
                break
            if cp.hash != ev.hash:
                rewritten = ChainReport(anchored, False, anchored + 1, _rewritten(cp, ev.seq, anchored))
                break
            matched += 1
            anchored = ev.seq
        prev = ev.hash
        count += 1
    if rewritten is not None:
        return rewritten

    beyond = [cp for seq, found in anchors.items() if seq > count for cp in found]
    if beyond:
        cp = max(beyond, key=lambda c: c.seq)
        return ChainReport(count, False, count + 1, _truncated(cp, count))

    head = session.get(AuditHead, 1)
    if head is None:
        if count:
            return ChainReport(count, False, count + 1, f"链尾记录缺失（审计链有 {count} 条事件）")
    else:
        if head.seq != count or head.hash != prev:
            return ChainReport(count, False, count + 1, _head_mismatch(head, count))
        if signed_head and not head_signed(key, head):
            if forged and len(forged) == len(checkpoints):
                problem = (
                    f"链尾（第 {head.seq} 条）与全部 {len(forged)} 个检查点的签名都与审计密钥不符："
                    "审计密钥不是签名时所用的密钥，否则链尾与检查点都被改写"
                )
            elif head.signature is None:
                problem = (
                    f"链尾（第 {head.seq} 条）没有签名：链尾被改写或回退，或为启用签名之前写入的链尾"
                    f"（核查后可运行 miaopi audit sign-head）；{_unconfirmed(anchored)}"
                )
            else:
                problem = (
                    f"链尾（第 {head.seq} 条）的签名不符：链尾被改写或回退（删除末尾事件，或修改事件后"
                    f"重算其后的哈希），或审计密钥不对；{_unconfirmed(anchored)}"
                )
            return ChainReport(anchored, False, anchored + 1, problem)
    if forged:
        cp = min(forged, key=lambda c: c.seq)
        at = min(cp.seq, count + 1)
        return ChainReport(
            at - 1,
            False,
            at,
            f"{cp.origin}（第 {cp.seq} 条，{_shown(cp.at)}）的签名不符：检查点被伪造或篡改，或审计密钥不对",
        )
    return ChainReport(count, True, checkpoints=matched)


@dataclass(frozen=True)
class CheckpointReport:
    ok: bool
    seq: int
    """The committed head's sequence number (0 for an empty trail)."""
    checkpoint: Checkpoint | None = None
    """The new checkpoint to record; None when there is nothing new (or a problem)."""
    problem: str | None = None
    verified: int = 0
    """Events checked since the previous checkpoint."""


def prepare_checkpoint(
    session: Session, *, key: bytes, checkpoint_file: Path | None, now: datetime, batch: int = 1000
) -> CheckpointReport:
    """The checkpoint to record for the committed head, after checking its signature and the chain
    from the last checkpoint (of the table and of the file) up to it. Nothing is written here: the
    caller appends the checkpoint to the file, then records it in a transaction of its own."""
    head = session.get(AuditHead, 1)
    if head is None or head.seq == 0:
        return CheckpointReport(True, 0)
    if not head_signed(key, head):
        what = "没有签名" if head.signature is None else "的签名不符"
        return CheckpointReport(
            False, head.seq, problem=f"链尾（第 {head.seq} 条）{what}（链尾被改写或回退，或审计密钥不对）"
        )
    row = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)
    ).first()
    latest = [_table_checkpoint(row)] if row is not None else []
    if checkpoint_file is not None:
        try:
            in_file = last_file_checkpoint(checkpoint_file)
        except CheckpointFileError as exc:
            return CheckpointReport(False, head.seq, problem=exc.message)
        latest += [in_file] if in_file is not None else []
    for cp in latest:
        if not cp.signed(key):
            return CheckpointReport(
                False,
                head.seq,
                problem=f"{cp.origin}（第 {cp.seq} 条）的签名不符：检查点被伪造或篡改，或审计密钥不对",
            )
        if cp.seq > head.seq:
            return CheckpointReport(False, head.seq, problem=_truncated(cp, head.seq))

    start = min((cp.seq for cp in latest), default=0)
    prev, verified = GENESIS, 0
    if start:
        ev = session.get(AuditEvent, start)
        if ev is None:
            return CheckpointReport(False, head.seq, problem=f"第 {start} 条事件缺失（检查点记录了它）")
        if chain_hash(ev.prev_hash, ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.detail) != ev.hash:
            return CheckpointReport(False, head.seq, problem=f"第 {start} 条事件内容与其哈希不符（被修改）")
        prev = ev.hash
    for cp in latest:
        if cp.seq == start and cp.hash != prev:
            return CheckpointReport(False, head.seq, problem=_rewritten(cp, start, 0))
    for ev in _events(session, after=start, until=head.seq, batch=batch):
        broken = _link_problem(ev, start + verified + 1, prev)
        if broken is not None:
            return CheckpointReport(False, head.seq, problem=broken[1])
        for cp in latest:
            if cp.seq == ev.seq and cp.hash != ev.hash:
                return CheckpointReport(False, head.seq, problem=_rewritten(cp, ev.seq, start))
        prev = ev.hash
        verified += 1
    if start + verified != head.seq or prev != head.hash:
        return CheckpointReport(False, head.seq, problem=_head_mismatch(head, start + verified))

    sources = 1 + (checkpoint_file is not None)
    if len(latest) == sources and all(cp.seq == head.seq for cp in latest):
        return CheckpointReport(True, head.seq, verified=verified)  # nothing new since the last one
    checkpoint = Checkpoint.sign(key, seq=head.seq, digest=head.hash, at=now)
    return CheckpointReport(True, head.seq, checkpoint=checkpoint, verified=verified)


def sign_head(session: Session, *, key: bytes, checkpoint_file: Path | None) -> ChainReport:
    """Sign the head with `key` after checking everything else (the events, the checkpoints) — for a
    head written before signing existed, or left unsigned while a wrong key was in use. In the caller's
    write transaction; the head row is claimed first, so no append runs between the check and the
    signature."""
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    report = verify(session, key=key, checkpoint_file=checkpoint_file, signed_head=False)
    head = session.get(AuditHead, 1, populate_existing=True)
    if report.ok and head is not None:
        head.signature = head_signature(key, head.seq, head.hash)
        session.flush()
    return report
