"""kill -9 during a burst, against `miaopi serve` as deployed on SQLite and PostgreSQL: of workers
deciding a case (several times), and of the whole server (the API, its workers and engine processes,
then started again on the same database). What the server promises: no answer >= 500 (a request
that finds the server down fails to connect, it is not answered with an error), every acknowledged
case decided exactly once after the restart, and a client retrying under the same case id is given
the case it has (idempotent), never a second one.

The case table is the record of work: a case row is committed before it is acknowledged, a worker
holds it by a lease, and an expired lease makes it available again; leases last 3 s here (the
default is 120 s), so a case whose worker died is taken again within the test."""

from __future__ import annotations

import os
import signal
import time
import uuid

from reliability_kit import (
    BurstInBackground,
    assert_each_decided_exactly_once,
    leasing_worker,
    ledger,
    resubmit,
    still_held_by,
    wait_decided,
    wait_gone,
)

from benchmarks.service import running_service

SUBMISSIONS = 200
READS = 200
SETTINGS = {"MIAOPI_LEASE_SECONDS": "3", "MIAOPI_POST_CHECK_RATE": "0"}


def test_workers_killed_while_deciding_a_burst_lose_nothing_and_decide_nothing_twice(backend: str) -> None:
    prefix = f"wkill-{uuid.uuid4().hex[:8]}-"
    case_ids = [f"{prefix}{i}" for i in range(SUBMISSIONS)]
    kills = 4
    with running_service(backend=backend, workers=2, environ=SETTINGS) as server:
        clients = BurstInBackground(server.base, server.token, case_ids, reads=READS)
        killed: dict[str, int] = {}  # case → the worker killed while it decided it
        missed = 0
        deadline = time.monotonic() + 120
        while len(killed) < kills and time.monotonic() < deadline:
            found = leasing_worker(server.db_url, server.proc.pid)
            if found is None or found[1] in killed or found[0] in killed.values() or missed > 40:
                time.sleep(0.005)
                continue
            pid, case_id = found
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid)
            if still_held_by(server.db_url, case_id, pid):
                killed[case_id] = pid  # killed while deciding it: the case must be taken again
            else:
                missed += 1  # it had decided the case before the signal came: not a kill mid-decision
            time.sleep(0.3)  # the next kill finds another case in hand
        tally = clients.join()
        report = f"{tally}; server log: {server.log_tail(2000)}"
        assert len(killed) == kills, f"{missed} kills came after the decision; {report}"
        # the API stayed up throughout: every request answered, none with an error
        assert tally.submissions == {202: SUBMISSIONS}, report
        assert tally.reads == {200: READS}, report
        assert not tally.transport_errors and not tally.wrong_answers, report
        assert wait_decided(server.db_url, prefix, SUBMISSIONS) == SUBMISSIONS, server.log_tail()
        book = ledger(server.db_url, prefix, files_dir=server.log_path.parent / "files")
        assert_each_decided_exactly_once(book, case_ids)
        assert book.outcomes == {"approved": SUBMISSIONS}
        assert all(book.attempts[c] >= 2 for c in killed), {c: book.attempts[c] for c in killed}
        assert resubmit(server.base, server.token, sorted(killed)) == {(200, False): kills}
        log = server.log_tail(1_000_000)
        assert log.count("restarting") >= kills + missed, log[-3000:]  # the supervisor replaced each one
        assert "Traceback" not in log, log[-3000:]


def test_the_whole_server_killed_during_a_burst_and_restarted_loses_nothing(backend: str) -> None:
    prefix = f"skill-{uuid.uuid4().hex[:8]}-"
    case_ids = [f"{prefix}{i}" for i in range(SUBMISSIONS)]
    with running_service(backend=backend, workers=1, environ=SETTINGS) as server:
        clients = BurstInBackground(server.base, server.token, case_ids, reads=READS)
        deadline = time.monotonic() + 120
        while len(clients.tally.acknowledged) < SUBMISSIONS // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # SIGKILL to the API, its workers and its engine processes, mid-burst
        before_kill = dict(clients.tally.acknowledged)
        assert 0 < len(before_kill) < SUBMISSIONS, "the kill did not land during the burst"
        time.sleep(1.5)  # the clients find nobody listening, and try again
        server.restart()  # same database, files and port
        tally = clients.join()
        report = f"{tally}; server log: {server.log_tail(3000)}"
        # while the server was down the requests failed to connect; no answer was an error
        assert tally.transport_errors, report
        assert tally.server_errors == 0 and not tally.wrong_answers, report
        assert set(tally.submissions) <= {200, 202} and set(tally.reads) == {200}, report
        assert sorted(tally.acknowledged) == sorted(case_ids), report
        assert wait_decided(server.db_url, prefix, SUBMISSIONS) == SUBMISSIONS, server.log_tail()
        book = ledger(server.db_url, prefix, files_dir=server.log_path.parent / "files")
        assert set(before_kill) <= set(book.statuses)  # nothing acknowledged before the kill was lost
        assert_each_decided_exactly_once(book, case_ids)
        assert book.outcomes == {"approved": SUBMISSIONS}
        # clients retrying under the same case ids after the restart: the cases they have, not new ones
        assert resubmit(server.base, server.token, case_ids) == {(200, False): SUBMISSIONS}
        assert (
            ledger(server.db_url, prefix, files_dir=server.log_path.parent / "files").submitted_events
            == book.submitted_events
        )
        assert "Traceback" not in server.log_tail(1_000_000), server.log_tail(3000)
