"""A burst against `miaopi serve` as deployed: 200 concurrent submissions and 200 concurrent reads get
no 5xx, and every acknowledged case is decided exactly once, by the database's own record (its
decision row and its audit event), none lost.

The defects this guards against: the sign-in dependency held one pooled database connection for the
whole request while the submission opened a second, so 20 concurrent submissions exhausted the pool
(5 + 10 connections) and were answered 500 after its 30-second timeout; 90 concurrent reads timed out
the same way. A request now holds at most one connection, and only while it uses it. On SQLite every
write queues for the one write lock: past the driver's 5-second wait, 500 concurrent submissions got
500s "database is locked" (store/db.py: SQLITE_BUSY_TIMEOUT_S).

How long the burst takes is not asserted: the machine is shared, and performance is measured by
`miaopi bench`, never by timed tests (docs/architecture.md, section 9). A pool that stalled would show
here as 500s (its time-out), which are asserted.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from reliability_kit import Tally, assert_each_decided_exactly_once, burst, ledger, resubmit, wait_decided

from benchmarks.service import running_service

SUBMISSIONS = 200
READS = 200


def test_a_burst_of_submissions_and_reads_gets_no_server_error(backend: str) -> None:
    """`backend` (tests/conftest.py): SQLite and PostgreSQL."""
    prefix = f"burst-{uuid.uuid4().hex[:8]}-"
    case_ids = [f"{prefix}{i}" for i in range(SUBMISSIONS)]
    with running_service(backend=backend, workers=1, environ={"MIAOPI_POST_CHECK_RATE": "0"}) as server:
        started = time.monotonic()
        tally = asyncio.run(burst(server.base, server.token, case_ids, reads=READS, tally=Tally()))
        took = time.monotonic() - started
        report = f"{tally} in {took:.1f} s; server log: {server.log_tail(2000)}"
        assert tally.submissions == {202: SUBMISSIONS}, report
        assert tally.reads == {200: READS}, report
        assert not tally.transport_errors and not tally.wrong_answers, report
        assert wait_decided(server.db_url, prefix, SUBMISSIONS) == SUBMISSIONS, server.log_tail()
        book = ledger(server.db_url, prefix, files_dir=server.log_path.parent / "files")
        assert_each_decided_exactly_once(book, case_ids)
        assert book.outcomes == {"approved": SUBMISSIONS}  # the same sample case, decided alike each time
        # a client retrying under the same case id gets the case it already has
        assert resubmit(server.base, server.token, case_ids[:20]) == {(200, False): 20}
        assert (
            ledger(server.db_url, prefix, files_dir=server.log_path.parent / "files").submitted_events
            == book.submitted_events
        )
        assert "Traceback" not in server.log_tail(1_000_000)
