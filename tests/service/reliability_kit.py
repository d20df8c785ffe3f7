"""Helpers of the reliability tests, which run `miaopi serve` as deployed (benchmarks/service.py:
running_service) and hold it to what the server promises: the burst's clients (each request retried
on a connection error until it is answered, every answer and every error counted), the database's
own record of what was acknowledged and decided, the workers holding a lease, the server's memory.
(Not a test module; the tests folder is on sys.path through its root conftest.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from service_kit import ROOT
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import audit
from store.db import create_engine_for
from store.records import AuditEvent, CaseRow, DecisionRow, TaskRow

CASE_FILE = ROOT / "samples" / "deed-tax" / "cases" / "dt-01-only-home-small.json"
ACKNOWLEDGED = (200, 201, 202)
"""A submission the server has committed: 202 accepted, 201 accepted and decided, 200 the same case
again (an idempotent retry)."""


def sample_case() -> dict[str, Any]:
    """A document-free deed-tax case (approved when decided), without its case id."""
    case: dict[str, Any] = json.loads(CASE_FILE.read_text(encoding="utf-8"))
    case.pop("case_id", None)
    return case


# -- the burst -------------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients of a burst got: HTTP statuses by endpoint, connection errors by kind (a
    request that found no server), and the acknowledgement of each case id."""

    submissions: Counter[int] = field(default_factory=Counter)
    reads: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, int] = field(default_factory=dict)
    """case id → the status that acknowledged it first."""
    wrong_answers: list[str] = field(default_factory=list)
    """Acknowledgements naming another case, or server errors' bodies."""

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in (self.submissions + self.reads).items() if s >= 500)


async def _retrying(tally: Tally, deadline: float, send: Any) -> httpx.Response | None:
    """`await send()` again after each connection error (the server is down or restarting) until it
    answers, or None at the deadline."""
    while time.monotonic() < deadline:
        try:
            return await send()  # type: ignore[no-any-return]
        except httpx.TransportError as exc:  # refused, reset, or closed mid-answer: no HTTP status
            tally.transport_errors[type(exc).__name__] += 1
            await asyncio.sleep(0.2)
    return None


async def burst(
    base: str,
    token: str,
    case_ids: list[str],
    *,
    reads: int,
    tally: Tally,
    case: dict[str, Any] | None = None,
    deadline_s: float = 180,
) -> Tally:
    """Submit every case id at once (`POST /api/v1/cases`) beside `reads` case lists
    (`GET /api/v1/cases`), each request retried on connection errors until answered."""
    body = case or sample_case()
    deadline = time.monotonic() + deadline_s
    limits = httpx.Limits(max_connections=len(case_ids) + reads)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as client:

        async def submit(case_id: str) -> None:
            r = await _retrying(
                tally, deadline, lambda: client.post("/api/v1/cases", json={**body, "case_id": case_id})
            )
            if r is None:
                return
            tally.submissions[r.status_code] += 1
            if r.status_code in ACKNOWLEDGED:
                if r.json().get("case_id") != case_id:
                    tally.wrong_answers.append(r.text[:300])
                tally.acknowledged.setdefault(case_id, r.status_code)
            elif r.status_code >= 500:
                tally.wrong_answers.append(r.text[:300])

        async def read() -> None:
            r = await _retrying(tally, deadline, lambda: client.get("/api/v1/cases", params={"limit": 20}))
            if r is not None:
                tally.reads[r.status_code] += 1
                if r.status_code >= 500:
                    tally.wrong_answers.append(r.text[:300])

        await asyncio.gather(*(submit(c) for c in case_ids), *(read() for _ in range(reads)))
    return tally


class BurstInBackground:
    """A burst run by a thread of its own (with its own event loop), so that the test's main thread
    stays free to kill and restart the server while it runs (the server ends with the thread that
    started it)."""

    def __init__(self, base: str, token: str, case_ids: list[str], *, reads: int) -> None:
        self.tally = Tally()
        self.error: BaseException | None = None

        def run() -> None:
            try:
                asyncio.run(burst(base, token, case_ids, reads=reads, tally=self.tally))
            except BaseException as exc:  # reported by join()
                self.error = exc

        self._thread = threading.Thread(target=run, name="burst", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 240) -> Tally:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the burst's clients did not finish"
        if self.error is not None:
            raise self.error
        return self.tally


def resubmit(base: str, token: str, case_ids: list[str]) -> Counter[tuple[int, bool]]:
    """Each case submitted again under its case id, as a client retries that never saw the first
    answer: (status, whether a case was created) of the answers; an answer naming another case
    counts as status 0."""
    case = sample_case()
    answers: Counter[tuple[int, bool]] = Counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for case_id in case_ids:
            r = client.post("/api/v1/cases", json={**case, "case_id": case_id})
            if r.status_code not in ACKNOWLEDGED:
                answers[(r.status_code, False)] += 1
                continue
            body = r.json()
            answers[(r.status_code if body["case_id"] == case_id else 0, bool(body["created"]))] += 1
    return answers


# -- the database's record -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ledger:
    """What the database holds of the cases whose ids start with a prefix."""

    statuses: dict[str, str]
    attempts: dict[str, int]
    leased: list[str]
    """Cases still holding a worker's lease."""
    outcomes: Counter[str]
    decisions: Counter[str]
    """Decision rows per case (the row is unique per case)."""
    decided_events: Counter[str]
    """`case.decided` audit events per case."""
    submitted_events: Counter[str]
    review_tasks: Counter[str]
    audit_ok: bool


def ledger(db_url: str, prefix: str, *, files_dir: Path) -> Ledger:
    """`files_dir`: the server's files folder, where its audit key and checkpoint file are."""
    from service.audit import checkpoint_path, load_key
    from service.settings import Settings

    settings = Settings(database_url=db_url, files_dir=files_dir)
    key = load_key(settings).secret
    engine = create_engine_for(db_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(CaseRow).where(CaseRow.id.startswith(prefix, autoescape=True))
            ).all()
            subject = AuditEvent.subject.startswith(prefix, autoescape=True)
            events = session.execute(
                select(AuditEvent.action, AuditEvent.subject).where(
                    subject, AuditEvent.action.in_(("case.decided", "case.submitted"))
                )
            ).all()
            return Ledger(
                statuses={r.id: r.status for r in rows},
                attempts={r.id: r.attempts for r in rows},
                leased=[r.id for r in rows if r.lease_owner is not None],
                outcomes=Counter(r.outcome or "" for r in rows),
                decisions=Counter(
                    session.scalars(
                        select(DecisionRow.case_id).where(
                            DecisionRow.case_id.startswith(prefix, autoescape=True)
                        )
                    ).all()
                ),
                decided_events=Counter(s for a, s in events if a == "case.decided"),
                submitted_events=Counter(s for a, s in events if a == "case.submitted"),
                review_tasks=Counter(
                    session.scalars(
                        select(TaskRow.case_id).where(
                            TaskRow.kind == "review", TaskRow.case_id.startswith(prefix, autoescape=True)
                        )
                    ).all()
                ),
                audit_ok=audit.verify(session, key=key, checkpoint_file=checkpoint_path(settings)).ok,
            )
    finally:
        engine.dispose()


def decided_count(db_url: str, prefix: str) -> int:
    engine = create_engine_for(db_url)
    try:
        with Session(engine) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(CaseRow)
                    .where(CaseRow.id.startswith(prefix, autoescape=True), CaseRow.status == "decided")
                )
                or 0
            )
    finally:
        engine.dispose()


def wait_decided(db_url: str, prefix: str, n: int, *, seconds: float = 180) -> int:
    """Wait until `n` cases of the prefix are decided; how many are."""
    deadline = time.monotonic() + seconds
    while (done := decided_count(db_url, prefix)) < n and time.monotonic() < deadline:
        time.sleep(0.25)
    return done


def assert_each_decided_exactly_once(book: Ledger, case_ids: list[str]) -> None:
    """Nothing lost, nothing twice: every case recorded once, decided once (its decision row and its
    audit event), no lease left, the audit chain whole."""
    expected = Counter(case_ids)
    assert sorted(book.statuses) == sorted(case_ids), "cases lost or added"
    assert set(book.statuses.values()) == {"decided"}, Counter(book.statuses.values())
    assert book.decisions == expected, "a case without a decision, or decided twice"
    assert book.decided_events == expected
    assert book.submitted_events == expected, "a case accepted twice"
    assert book.leased == []
    assert book.audit_ok


def leasing_worker(db_url: str, server_pid: int) -> tuple[int, str] | None:
    """A worker of the server deciding a case right now: (its pid, the case), from the lease it holds
    (the lease owner is `host:pid`)."""
    engine = create_engine_for(db_url)
    try:
        with Session(engine) as session:
            held = session.execute(
                select(CaseRow.lease_owner, CaseRow.id).where(
                    CaseRow.status == "processing", CaseRow.lease_owner.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    children = {p.pid for p in psutil.Process(server_pid).children()}
    for owner, case_id in held:
        pid = int(str(owner).rsplit(":", 1)[1])
        if pid in children:
            return pid, case_id
    return None


def wait_gone(pid: int, timeout: float = 10) -> None:
    """Until process `pid` has died (a zombie counts: it runs nothing), and a moment more, so that
    a COMMIT it sent just before the signal has reached the database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.005)
    else:
        raise AssertionError(f"process {pid} still runs {timeout} s after SIGKILL")
    time.sleep(0.2)


def still_held_by(db_url: str, case_id: str, pid: int) -> bool:
    """Whether `case_id` is still in progress under the lease of worker `pid`. Asked after that
    worker is dead, it tells whether the kill came while the worker was deciding the case (its lease
    stays until it expires) or only after it had committed the decision: a worker that is fast
    enough finishes between the look-up that chose it and the kill."""
    engine = create_engine_for(db_url)
    try:
        with Session(engine) as session:
            row = session.get(CaseRow, case_id)
    finally:
        engine.dispose()
    owner = None if row is None else row.lease_owner
    return row is not None and row.status == "processing" and str(owner).endswith(f":{pid}")


# -- hostile bodies --------------------------------------------------------------------------------------
def send_endless_body(
    base: str,
    path: str,
    token: str,
    *,
    total: int,
    chunked: bool,
    content_type: str = "application/json",
    start: bytes = b'{"item": "deed-tax", "form": {"x": "',
    seconds: float = 60,
) -> tuple[int, int]:
    """POST a body of `total` bytes (`start`, then filler), generated as it is sent, with its
    Content-Length or chunked without one, reading the socket all along: (the HTTP status answered, 0
    if none; at most how many body bytes were sent before the answer came or the server closed the
    connection: they are generated a MiB at a time as the socket takes them)."""
    import select
    import socket

    host, port = base.split("://", 1)[1].rsplit(":", 1)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\n"
        + ("Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n")
    )
    pending = bytearray(head.encode("ascii"))
    filler = b"a" * (1 << 20)
    sent = 0
    answer = b""
    deadline = time.monotonic() + seconds
    with socket.create_connection((host, int(port))) as sock:
        sock.setblocking(False)
        writable = True
        while time.monotonic() < deadline:
            if not pending and sent < total and writable:
                piece = (start if sent == 0 else filler)[: total - sent]
                sent += len(piece)
                pending += f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
                if chunked and sent >= total:
                    pending += b"0\r\n\r\n"
            readable, can_write, _ = select.select([sock], [sock] if pending and writable else [], [], 1)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionError:
                    break
                if not data:
                    break
                answer += data
                if b"\r\n\r\n" in answer:
                    break  # the answer's head is all we need
            if can_write:
                try:
                    del pending[: sock.send(pending)]
                except (BlockingIOError, InterruptedError):
                    pass
                except ConnectionError:
                    writable = False
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, sent


# -- memory ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def peak_rss(pid: int) -> Iterator[dict[str, float]]:
    """The resident memory of process `pid` while the block runs, in MiB: `sampled`, the highest of
    samples taken every 10 ms (psutil), and `high_water`, the kernel's own peak (VmHWM) counted from
    the block's start, which no sampling can miss."""
    proc = psutil.Process(pid)
    figures = {"start": proc.memory_info().rss / 2**20, "sampled": 0.0, "high_water": 0.0}
    status = Path(f"/proc/{pid}/status")
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                figures["sampled"] = max(figures["sampled"], proc.memory_info().rss / 2**20)
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    try:
        yield figures
    finally:
        stop.set()
        sampler.join(5)
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                figures["high_water"] = int(line.split()[1]) / 1024
