"""Crash safety: a worker killed with SIGKILL at random moments loses no case and decides none twice;
the API stays up while a supervised worker dies, and the supervisor replaces it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from service_kit import ROOT, SAMPLES, Env, auth, bind, sample, submit
from sqlalchemy import func, select

from api.app import create_app
from miaopi.worker import WorkerSupervisor
from service.audit import verify_trail
from store.records import AuditEvent, CaseRow, DecisionRow, TaskRow


def _document_free_cases(n: int) -> list[str]:
    names = []
    for item in ("deed-tax", "safety-permit-renewal"):
        for path in sorted((SAMPLES / item / "cases").glob("*.json")):
            if not sample(path.stem)["documents"]:
                names.append(path.stem)
    rng = random.Random(7)
    rng.shuffle(names)
    return names[:n]


def _decided(env: Env) -> int:
    with env.services.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(CaseRow).where(CaseRow.status == "decided")) or 0
        )


def _start_worker(env: Env, log: Path) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "MIAOPI_FILES_DIR": str(env.settings.files_dir),
        "MIAOPI_LEASE_SECONDS": "2",
        "MIAOPI_WORKER_POLL_S": "0.1",
        "MIAOPI_POST_CHECK_RATE": "0",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "miaopi.cli", "worker", "--db", env.settings.database_url],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_sigkilled_workers_lose_nothing_and_decide_nothing_twice(env: Env, tmp_path: Path) -> None:
    names = _document_free_cases(36)
    case_ids = [submit(env, name) for name in names]
    # a few samples again under new case ids
    case_ids += [submit(env, name, case_id=f"{name}-again") for name in names[:6]]
    total = len(case_ids)
    rng = random.Random(20261122)
    log = tmp_path / "worker.log"
    kills = 0
    # a bound on liveness, not a speed: each of the six worker starts imports the engine and OCR stack
    # and starts its engine processes, which on two cores shared with other work has taken over 240 s
    deadline = time.monotonic() + 480
    while _decided(env) < total:
        assert time.monotonic() < deadline, f"cases left undecided; worker log:\n{log.read_text()[-3000:]}"
        before = _decided(env)
        proc = _start_worker(env, log)
        try:
            if kills < 5:
                # wait until this worker is deciding, then kill it at a random moment
                while _decided(env) == before and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.25))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
                kills += 1
            else:
                while _decided(env) < total and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    assert kills == 5

    with env.services.sessions() as session:
        rows = {r.id: r for r in session.scalars(select(CaseRow))}
        decisions = Counter(session.scalars(select(DecisionRow.case_id)).all())
        decided_events = Counter(
            session.scalars(select(AuditEvent.subject).where(AuditEvent.action == "case.decided")).all()
        )
        tasks = Counter(session.scalars(select(TaskRow.case_id).where(TaskRow.kind == "review")).all())
        report = verify_trail(env.services)
    assert sorted(rows) == sorted(case_ids)
    assert all(r.status == "decided" and r.lease_owner is None for r in rows.values())
    assert decisions == Counter(case_ids)
    assert decided_events == Counter(case_ids)
    assert all(n == 1 for n in tasks.values())
    assert {c for c in case_ids if rows[c].outcome == "review"} == set(tasks)
    assert report.ok, report
    # some case was taken again after a kill: its lease had expired
    assert any(r.attempts > 1 for r in rows.values()) or kills == 0


def test_the_api_stays_up_while_a_supervised_worker_is_killed(env: Env) -> None:
    """The worker is killed while it decides (cases queued before the app starts)."""
    names = _document_free_cases(30)
    case_ids = [submit(env, name) for name in names]
    settings = env.settings.model_copy(update={"lease_seconds": 2.0, "worker_poll_s": 0.1})
    supervisor = WorkerSupervisor(settings, processes=1)
    app = create_app(settings, services=env.services, supervisor=supervisor)
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while _decided(env) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        [first] = supervisor.pids
        os.kill(first, signal.SIGKILL)
        assert 0 < _decided(env) < len(case_ids), "the worker was not killed while deciding"
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        while supervisor.pids == [first] and time.monotonic() < deadline:
            assert client.get("/health").status_code == 200
            time.sleep(0.1)
        assert supervisor.pids and supervisor.pids != [first]
        assert supervisor.restarts >= 1
        extra = {**sample("dt-01-only-home-small"), "case_id": "after-the-restart"}
        bind(env, "applicant", extra)
        r = client.post("/api/v1/cases", json=extra, headers=auth("applicant"), params={"wait": 20})
        assert r.status_code in (201, 202), r.text
        while _decided(env) < len(case_ids) + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _decided(env) == len(case_ids) + 1
        view = client.get("/api/v1/cases/after-the-restart", headers=auth("applicant")).json()
        assert view["status"] == "decided" and view["outcome"] == "approved"
        assert client.get("/health").json()["workers"] == 1
    with env.services.sessions() as session:
        decisions = Counter(session.scalars(select(DecisionRow.case_id)).all())
        assert verify_trail(env.services).ok
    assert decisions == Counter([*case_ids, "after-the-restart"])


def test_a_worker_killed_while_idle_does_not_stall_the_api(env: Env) -> None:
    """Killed while it waits for work: nothing it shared with the API is left locked, so the next
    submission's wake-up returns at once and the replacement worker decides the case."""
    settings = env.settings.model_copy(update={"lease_seconds": 2.0, "worker_poll_s": 0.2})
    supervisor = WorkerSupervisor(settings, processes=1)
    app = create_app(settings, services=env.services, supervisor=supervisor)
    with TestClient(app) as client:
        time.sleep(1.0)  # the worker has started and found nothing to do: it is waiting
        for round_ in range(3):
            [pid] = supervisor.pids
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
            extra = {**sample("dt-01-only-home-small"), "case_id": f"idle-kill-{round_}"}
            bind(env, "applicant", extra)
            started = time.monotonic()
            r = client.post("/api/v1/cases", json=extra, headers=auth("applicant"), params={"wait": 20})
            assert r.status_code in (201, 202), r.text
            assert client.get("/health").status_code == 200
            deadline = started + 30
            while time.monotonic() < deadline:
                view = client.get(f"/api/v1/cases/idle-kill-{round_}", headers=auth("applicant")).json()
                if view["status"] == "decided":
                    break
                time.sleep(0.1)
            assert view["status"] == "decided" and view["outcome"] == "approved"
        assert supervisor.restarts >= 3


def test_a_case_that_kills_its_worker_goes_to_a_person_after_max_attempts(env: Env) -> None:
    """A poison case: every worker that takes it dies before recording anything, so its failures are
    never recorded. Leases count as attempts: past max_attempts it goes to a person, not round again."""
    from datetime import timedelta

    from service.documents import DocumentReader
    from service.pipeline import lease_next, process_case
    from service.transactions import utcnow

    services = env.services
    limit = services.settings.max_attempts
    case_id = submit(env, "dt-01-only-home-small", case_id="poison-1")
    now = utcnow()
    for attempt in range(1, limit + 1):
        assert lease_next(services, owner=f"w{attempt}", now=now) == case_id  # ...and that worker dies
        now += timedelta(seconds=services.settings.lease_seconds + 1)
    assert lease_next(services, owner="last", now=now) == case_id
    with DocumentReader(services.settings.extract_options()) as reader:
        outcome = process_case(services, case_id=case_id, owner="last", reader=reader, now=now)
    assert outcome == "review"
    with services.sessions() as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        assert (row.status, row.outcome, row.attempts) == ("failed", "review", limit + 1)
        assert row.error is not None and "转人工审核" in row.error
        assert session.scalars(select(DecisionRow).where(DecisionRow.case_id == case_id)).first() is None
        tasks = session.scalars(select(TaskRow).where(TaskRow.case_id == case_id)).all()
        assert [t.kind for t in tasks] == ["review"]
    assert lease_next(services, owner="again", now=now + timedelta(hours=1)) is None  # never taken again
