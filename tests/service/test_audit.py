"""The audit trail: edited, deleted and reordered events are found at the first broken link, by the
library and by `miaopi audit verify`; concurrent appends keep the chain whole."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta

from service_kit import ROOT, Env, decide_all, submit
from sqlalchemy import Connection, delete, func, select, text, update

from service.audit import verify_trail
from service.transactions import utcnow
from store import audit
from store.records import AuditEvent, AuditHead

Tamper = Callable[[Connection, int], None]


def _verify(env: Env) -> audit.ChainReport:
    return verify_trail(env.services)


def _cli_verify(env: Env) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "miaopi.cli", "audit", "verify", "--db", env.settings.database_url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "MIAOPI_FILES_DIR": str(env.settings.files_dir)},
    )


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
                        key=env.services.audit_key.secret,
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
