"""The audit trail: edited, deleted and reordered events are found at the first broken link, by the
library and by `miaopi audit verify`; concurrent appends keep the chain whole. Someone with the
database but not the audit key cannot rewind or re-chain it either: the head's signature, the signed
checkpoints in the table and in the checkpoint file outside the database give it away, as do a forged
checkpoint and a wrong key."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from service_kit import ROOT, Env, decide_all, submit
from sqlalchemy import Connection, delete, func, select, text, update

from service.audit import (
    AuditKeyError,
    checkpoint_path,
    load_key,
    record_checkpoint,
    sign_head,
    verify_trail,
)
from service.settings import Settings
from service.transactions import utcnow, writing
from store import audit
from store.records import AuditCheckpoint, AuditEvent, AuditHead

Tamper = Callable[[Connection, int], None]


def _verify(env: Env) -> audit.ChainReport:
    """The whole check: events, head signature, checkpoints of the table and of the file."""
    return verify_trail(env.services)


def _cli(env: Env, command: str, *, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """`miaopi audit COMMAND` in its own process, with the test's files folder (where the generated
    audit key and the checkpoint file live), or with MIAOPI_AUDIT_KEY set to `key`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MIAOPI_AUDIT_")}
    environ["MIAOPI_FILES_DIR"] = str(env.settings.files_dir)
    if key is not None:
        environ["MIAOPI_AUDIT_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "miaopi.cli", "audit", command, "--db", env.settings.database_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environ,
    )


def _cli_verify(env: Env) -> subprocess.CompletedProcess[str]:
    return _cli(env, "verify")


def _key(env: Env) -> bytes:
    return env.services.audit_key.secret


def _append(env: Env, n: int, *, key: bytes | None = None) -> None:
    for i in range(n):
        with env.services.sessions.begin() as session:
            audit.append(
                session, key=key or _key(env), actor="t", action="test.appended", subject=str(i), at=utcnow()
            )


def _head(env: Env) -> AuditHead:
    with env.services.sessions() as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        return head


def _table_checkpoints(env: Env) -> list[AuditCheckpoint]:
    with env.services.sessions() as session:
        return list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)))


def _file_lines(env: Env) -> list[str]:
    path = checkpoint_path(env.settings)
    return path.read_text("ascii").splitlines() if path.exists() else []


def _rewind(conn: Connection, keep: int) -> None:
    """Delete the events after `keep` and point the head at event `keep`, as one can without the key."""
    digest = conn.execute(select(AuditEvent.hash).where(AuditEvent.seq == keep)).scalar_one()
    conn.execute(delete(AuditEvent).where(AuditEvent.seq > keep))
    conn.execute(update(AuditHead).values(seq=keep, hash=digest))


def _rechain_from(conn: Connection, seq: int) -> None:
    """Edit event `seq`, then recompute its hash, every later one and the head's: the hash chain holds."""
    rows = conn.execute(
        select(AuditEvent.__table__).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
    ).all()
    prev = rows[0].prev_hash
    for i, ev in enumerate(rows):
        detail = {**ev.detail, "outcome": "approved"} if i == 0 else ev.detail
        digest = audit.chain_hash(prev, ev.seq, ev.at, ev.actor, ev.action, ev.subject, detail)
        conn.execute(
            update(AuditEvent)
            .where(AuditEvent.seq == ev.seq)
            .values(detail=detail, prev_hash=prev, hash=digest)
        )
        prev = digest
    conn.execute(update(AuditHead).values(seq=rows[-1].seq, hash=prev))


def _edit_detail(conn: Connection, seq: int) -> None:
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(detail={"outcome": "approved"}))


def _edit_actor(conn: Connection, seq: int) -> None:
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(actor="someone-else"))


def _edit_time(conn: Connection, seq: int) -> None:
    at = conn.execute(select(AuditEvent.at).where(AuditEvent.seq == seq)).scalar_one()
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(at=at - timedelta(hours=1)))


def _swap_with_next(conn: Connection, seq: int) -> None:
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=-1))
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq + 1).values(seq=seq))
    conn.execute(update(AuditEvent).where(AuditEvent.seq == -1).values(seq=seq + 1))


def _delete(conn: Connection, seq: int) -> None:
    conn.execute(delete(AuditEvent).where(AuditEvent.seq == seq))


def _edit_and_rehash(conn: Connection, seq: int) -> None:
    """Edit an event and recompute its own hash: the next event no longer chains to it."""
    ev = conn.execute(select(AuditEvent.__table__).where(AuditEvent.seq == seq)).one()
    detail = {**ev.detail, "outcome": "approved"}
    digest = audit.chain_hash(
        ev.prev_hash,
        seq,
        ev.at,
        ev.actor,
        ev.action,
        ev.subject,
        detail,
    )
    conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(detail=detail, hash=digest))


def _setup(env: Env) -> int:
    for name in ("dt-01-only-home-small", "dt-22-name-mismatch", "sp-15-after-expiry"):
        submit(env, name)
    decide_all(env)
    report = _verify(env)
    assert report.ok and report.broken_at is None
    return report.events


def _snapshot(env: Env) -> tuple[list[dict[str, object]], dict[str, object]]:
    with env.services.engine.connect() as conn:
        events = [
            dict(r._mapping) for r in conn.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq))
        ]
        head = dict(conn.execute(select(AuditHead.__table__)).one()._mapping)
    return events, head


def _restore(env: Env, events: list[dict[str, object]], head: dict[str, object]) -> None:
    with env.services.engine.begin() as conn:
        conn.execute(delete(AuditEvent))
        conn.execute(AuditEvent.__table__.insert(), events)
        conn.execute(
            update(AuditHead).values(seq=head["seq"], hash=head["hash"], signature=head["signature"])
        )


def test_tampering_is_found_at_the_first_broken_link(env: Env) -> None:
    count = _setup(env)
    events, head = _snapshot(env)
    middle = count // 2
    cases: list[tuple[str, Tamper, int, int]] = [
        ("edited detail", _edit_detail, middle, middle),
        ("edited actor", _edit_actor, 3, 3),
        ("edited time", _edit_time, count, count),
        ("edited and rehashed", _edit_and_rehash, middle, middle + 1),
        ("reordered", _swap_with_next, middle, middle),
        ("deleted", _delete, middle, middle),
        ("first deleted", _delete, 1, 1),
        ("last deleted", _delete, count, count),
    ]
    for label, tamper, seq, broken in cases:
        with env.services.engine.begin() as conn:
            tamper(conn, seq)
        report = _verify(env)
        assert (label, report.ok, report.broken_at) == (label, False, broken), report
        assert report.events == broken - 1
        assert report.problem
        _restore(env, events, head)
        assert _verify(env).ok, label


def test_cli_audit_verify_names_the_first_broken_link(env: Env) -> None:
    count = _setup(env)
    ok = _cli_verify(env)
    assert ok.returncode == 0, ok.stderr
    assert str(count) in ok.stdout
    with env.services.engine.begin() as conn:
        _edit_detail(conn, 7)
        _delete(conn, 9)
    broken = _cli_verify(env)
    assert broken.returncode == 1, (broken.stdout, broken.stderr)
    assert "第 7 条" in broken.stdout + broken.stderr


def test_the_api_reports_a_broken_chain(env: Env) -> None:
    from fastapi.testclient import TestClient
    from service_kit import auth

    from api.app import create_app

    _setup(env)
    with env.services.engine.begin() as conn:
        _swap_with_next(conn, 4)
    with TestClient(create_app(env.settings, services=env.services)) as client:
        r = client.get("/api/v1/audit/verify", headers=auth("auditor"))
    assert r.status_code == 200
    assert r.json()["ok"] is False and r.json()["broken_at"] == 4


def test_concurrent_appends_keep_the_chain(env: Env) -> None:
    before = _verify(env).events
    threads_n, per_thread = 6, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            for j in range(per_thread):
                with env.services.sessions.begin() as session:
                    audit.append(
                        session,
                        key=_key(env),
                        actor=f"t{i}",
                        action="test.appended",
                        subject=f"{i}-{j}",
                        at=utcnow(),
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    report = _verify(env)
    assert report.ok, report
    assert report.events == before + threads_n * per_thread
    with env.services.engine.connect() as conn:
        n = conn.execute(select(func.count()).where(AuditEvent.action == "test.appended")).scalar_one()
        seqs = conn.execute(text("select count(distinct seq) from audit_events")).scalar_one()
    assert n == threads_n * per_thread and seqs == report.events


# -- the signed head and the checkpoints -------------------------------------------------------------------
def test_truncating_the_last_events_and_rewinding_the_head_is_found(env: Env) -> None:
    count = _setup(env)
    [start] = _table_checkpoints(env)  # the worker's, on start: before the cases were decided
    keep = count - 3
    assert start.seq < keep
    with env.services.engine.begin() as conn:
        _rewind(conn, keep)
    with env.services.sessions() as session:  # the hash chain alone is fooled
        assert audit.verify(session, key=_key(env), signed_head=False).ok

    report = _verify(env)
    assert not report.ok and report.problem
    assert f"链尾（第 {keep} 条）的签名不符" in report.problem
    # what stands is what the last checkpoint vouches for
    assert (report.broken_at, report.events) == (start.seq + 1, start.seq)

    # appending afterwards does not make the rewound head look genuine
    _append(env, 2)
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"链尾（第 {keep + 2} 条）没有签名" in report.problem


def test_editing_an_event_and_rechaining_every_later_hash_and_the_head_is_found(env: Env) -> None:
    count = _setup(env)
    events, head = _snapshot(env)
    middle = count // 2
    # first with no checkpoint at all: the head's signature gives it away
    with env.services.engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint))
    checkpoint_path(env.settings).unlink()
    with env.services.engine.begin() as conn:
        _rechain_from(conn, middle)
    with env.services.sessions() as session:
        assert audit.verify(session, key=_key(env), signed_head=False).ok  # every hash recomputed

    report = _verify(env)
    assert not report.ok and report.problem
    assert f"链尾（第 {count} 条）的签名不符" in report.problem
    assert report.broken_at == 1  # nothing vouches for any event

    # with a checkpoint taken before the edit, the checkpoint finds it
    _restore(env, events, head)
    assert record_checkpoint(env.services, now=utcnow()).checkpoint is not None
    with env.services.engine.begin() as conn:
        _rechain_from(conn, middle)
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"第 {count} 条事件的哈希与检查点" in report.problem
    assert "被修改" in report.problem


def test_a_forged_checkpoint_is_found(env: Env) -> None:
    count = _setup(env)
    head = _head(env)
    forged = audit.Checkpoint.sign(
        b"not the audit key, but long enough", seq=head.seq, digest=head.hash, at=utcnow()
    )
    with writing(env.services) as session:
        audit.record_checkpoint(session, forged)
    [_, row] = _table_checkpoints(env)
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"检查点表中的第 {row.id} 号检查点（第 {count} 条" in report.problem
    assert "签名不符：检查点被伪造或篡改" in report.problem
    refused = record_checkpoint(env.services, now=utcnow())  # nothing is anchored on a forgery
    assert not refused.ok and refused.checkpoint is None and refused.problem
    assert "伪造" in refused.problem

    with env.services.engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == row.id))
    assert _verify(env).ok

    # in the file: the worker's genuine line, its seq raised (as if the chain had been longer)
    path = checkpoint_path(env.settings)
    [line] = _file_lines(env)
    genuine = json.loads(line)
    path.write_text(line + "\n" + json.dumps({**genuine, "seq": count + 10}) + "\n", "ascii")
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"检查点文件 {path} 第 2 行的检查点（第 {count + 10} 条" in report.problem
    assert "伪造" in report.problem

    path.write_text(line + "\n" + line[:40] + "\n", "ascii")  # a line that is no checkpoint
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"检查点文件 {path} 第 2 行的检查点无法解析" in report.problem


def test_truncation_below_a_checkpoint_with_an_old_signed_head_put_back_is_found_by_the_file(
    env: Env,
) -> None:
    count = _setup(env)
    _events, old_head = _snapshot(env)  # a genuinely signed head, kept by the attacker
    _append(env, 4)
    written = record_checkpoint(env.services, now=utcnow()).checkpoint
    assert written is not None and written.seq == count + 4
    with env.services.engine.begin() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq > count))
        conn.execute(update(AuditHead).values(**{k: old_head[k] for k in ("seq", "hash", "signature")}))
        conn.execute(delete(AuditCheckpoint))
    with env.services.sessions() as session:  # the database alone shows nothing
        assert audit.verify(session, key=_key(env)).ok

    report = _verify(env)
    assert not report.ok and report.problem
    assert (report.broken_at, report.events) == (count + 1, count)
    assert f"检查点文件 {checkpoint_path(env.settings)} 第 2 行的检查点" in report.problem
    assert f"记录审计链已有第 {count + 4} 条，现只有 {count} 条（末尾事件被删除）" in report.problem


def test_the_worker_records_a_checkpoint_on_start_and_every_interval(env: Env) -> None:
    assert _table_checkpoints(env) == [] and _file_lines(env) == []
    submit(env, "dt-01-only-home-small")
    at_start = _head(env)
    decide_all(env)  # the default interval (300 s): the checkpoint on start only
    [row] = _table_checkpoints(env)
    assert (row.seq, row.hash) == (at_start.seq, at_start.hash)
    [line] = _file_lines(env)
    in_file = json.loads(line)
    assert (in_file["seq"], in_file["hash"], in_file["hmac"]) == (row.seq, row.hash, row.signature)
    assert audit.Checkpoint(row.seq, row.hash, row.at, row.signature).signed(_key(env))

    for i in range(2):
        submit(env, "dt-22-name-mismatch", case_id=f"again-{i}")
    often = env.settings.model_copy(update={"audit_checkpoint_s": 1e-6})
    from miaopi.worker import run_worker

    assert run_worker(often, idle_exit=True) == 2
    rows = _table_checkpoints(env)
    assert len(rows) >= 3 and len(_file_lines(env)) == len(rows)
    assert rows[-1].seq == _head(env).seq  # the last pass, finding nothing to do, anchored the end
    report = _verify(env)
    assert report.ok and report.checkpoints == 2 * len(rows)

    submit(env, "sp-15-after-expiry", case_id="unanchored")
    never = env.settings.model_copy(update={"audit_checkpoint_s": 0})
    assert run_worker(never, idle_exit=True) == 1
    assert len(_table_checkpoints(env)) == len(rows)


def test_cli_audit_checkpoint_records_for_cron_and_refuses_a_rewound_head(env: Env) -> None:
    count = _setup(env)
    first = _cli(env, "checkpoint")
    assert first.returncode == 0, first.stderr
    assert f"已记录检查点：第 {count} 条" in first.stdout
    assert len(_table_checkpoints(env)) == len(_file_lines(env)) == 2
    assert json.loads(_file_lines(env)[-1])["seq"] == count

    again = _cli(env, "checkpoint")
    assert again.returncode == 0, again.stderr
    assert "没有新事件" in again.stdout
    assert len(_table_checkpoints(env)) == len(_file_lines(env)) == 2

    with env.services.engine.begin() as conn:
        _rewind(conn, count - 2)
    refused = _cli(env, "checkpoint")
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert f"未记录检查点：链尾（第 {count - 2} 条）的签名不符" in refused.stderr
    assert len(_table_checkpoints(env)) == len(_file_lines(env)) == 2


def test_cli_audit_verify_exits_1_on_a_rewound_head_and_on_a_wrong_key(env: Env) -> None:
    count = _setup(env)
    assert record_checkpoint(env.services, now=utcnow()).checkpoint is not None
    ok = _cli_verify(env)
    assert ok.returncode == 0, ok.stderr
    assert f"审计链完好：{count} 条事件，链尾签名有效，4 个检查点相符" in ok.stdout
    assert "未设置 MIAOPI_AUDIT_KEY" in ok.stderr  # the generated key is never used silently

    wrong = _cli(env, "verify", key="another key, long enough to be accepted")
    assert wrong.returncode == 1, (wrong.stdout, wrong.stderr)
    assert f"链尾（第 {count} 条）与全部 4 个检查点的签名都与审计密钥不符" in wrong.stderr

    with env.services.engine.begin() as conn:
        _rewind(conn, count - 1)
    rewound = _cli_verify(env)
    assert rewound.returncode == 1, (rewound.stdout, rewound.stderr)
    assert f"现只有 {count - 1} 条（末尾事件被删除）" in rewound.stderr  # the checkpoint at the old end
    with env.services.engine.begin() as conn:
        conn.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq == count))
    checkpoint_path(env.settings).unlink()
    rewound = _cli_verify(env)
    assert rewound.returncode == 1, (rewound.stdout, rewound.stderr)
    assert f"链尾（第 {count - 1} 条）的签名不符" in rewound.stderr


def test_the_api_reports_a_rewound_head(env: Env) -> None:
    from fastapi.testclient import TestClient
    from service_kit import auth

    from api.app import create_app

    count = _setup(env)
    with env.services.engine.begin() as conn:
        _rewind(conn, count - 1)
    with TestClient(create_app(env.settings, services=env.services)) as client:
        r = client.get("/api/v1/audit/verify", headers=auth("auditor"))
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and f"链尾（第 {count - 1} 条）的签名不符" in body["problem"]


def test_an_append_under_a_wrong_key_leaves_the_head_unsigned_and_signing_again_checks_first(
    env: Env,
) -> None:
    count = _setup(env)
    _append(env, 1, key=b"a wrong key, yet long enough to use")
    report = _verify(env)
    assert not report.ok and report.problem
    assert f"链尾（第 {count + 1} 条）没有签名" in report.problem

    events, head = _snapshot(env)
    with env.services.engine.begin() as conn:
        _edit_detail(conn, 3)
    refused = _cli(env, "sign-head")  # a broken chain is not signed
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert "未签名" in refused.stderr and "第 3 条事件内容与其哈希不符" in refused.stderr
    assert _head(env).signature is None

    _restore(env, events, head)
    with env.services.engine.begin() as conn:
        _rechain_from(conn, 1)  # hashes all recomputed: the worker's checkpoint does not match
    refused_report = sign_head(env.services)
    assert not refused_report.ok and refused_report.problem and "检查点" in refused_report.problem
    assert _head(env).signature is None

    _restore(env, events, head)
    assert sign_head(env.services).ok
    assert _verify(env).ok


def test_cli_audit_sign_head_signs_a_checked_trail_and_anchors_it(env: Env) -> None:
    count = _setup(env)
    with env.services.engine.begin() as conn:
        conn.execute(update(AuditHead).values(signature=None))  # as a trail from before signing
    assert not _verify(env).ok
    signed = _cli(env, "sign-head")
    assert signed.returncode == 0, signed.stderr
    assert f"已为链尾签名（第 {count} 条）" in signed.stdout
    report = _verify(env)
    assert report.ok and report.events == count
    assert _table_checkpoints(env)[-1].seq == count and json.loads(_file_lines(env)[-1])["seq"] == count


def test_without_a_configured_key_one_is_generated_once_kept_private_and_announced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url="sqlite://", files_dir=tmp_path / "files")
    with caplog.at_level(logging.WARNING, logger="miaopi.audit"):
        first = load_key(settings)
    assert first.generated and first.origin == str(tmp_path / "files" / "audit.key")
    assert "MIAOPI_AUDIT_KEY is not set" in caplog.text
    assert len(first.secret) == 64 and load_key(settings).secret == first.secret  # kept, not renewed
    assert stat.S_IMODE(os.stat(first.origin).st_mode) == 0o600
    assert first.secret.decode() not in repr(first)

    configured = load_key(Settings(files_dir=tmp_path / "other", audit_key="k" * 32))
    assert (configured.secret, configured.generated, configured.origin) == (
        b"k" * 32,
        False,
        "MIAOPI_AUDIT_KEY",
    )
    assert not (tmp_path / "other" / "audit.key").exists()
    for weak in ("", "too short"):
        with pytest.raises(ValidationError):
            Settings(audit_key=weak)
    assert "k" * 32 not in repr(Settings(audit_key="k" * 32))

    Path(first.origin).write_text("\n", "ascii")  # an emptied key file is refused, not replaced
    with pytest.raises(AuditKeyError):
        load_key(settings)
