"""The worker: takes leased cases from the database and decides them, one at a time, in its own process.

durable_rules can crash the process (DESIGN.md §2), so the evaluation never runs inside the API: the
API only records cases. A dead worker loses nothing: its lease expires and the case is taken again;
`WorkerSupervisor` restarts it. The database stays the record of work; the wake-up event only saves
the poll interval.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import threading
import time
from typing import Any

from miaopi.settings import Settings

log = logging.getLogger("miaopi.worker")


def run_worker(
    settings: Settings,
    *,
    owner: str | None = None,
    wake: Any = None,
    stop: Any = None,
    max_cases: int | None = None,
    idle_exit: bool = False,
) -> int:
    """Decide cases until `stop` is set (or `max_cases` are done, or, with idle_exit, nothing is left).
    Returns the number of cases this worker decided."""
    from engine.evaluate import DurableEvaluator
    from miaopi.documents import DocumentReader
    from miaopi.workflow import create_services, lease_next, process_case, utcnow

    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    services = create_services(settings, migrate=False)
    evaluator = DurableEvaluator()
    done = 0
    with DocumentReader(settings.extract_options()) as reader:
        while stop is None or not stop.is_set():
            case_id = lease_next(services, owner=owner, now=utcnow())
            if case_id is None:
                if idle_exit:
                    break
                if wake is not None:
                    wake.wait(settings.worker_poll_s)
                    wake.clear()
                else:
                    time.sleep(settings.worker_poll_s)
                continue
            outcome = process_case(
                services, case_id=case_id, owner=owner, reader=reader, evaluator=evaluator, now=utcnow()
            )
            if outcome is not None:
                done += 1
            if max_cases is not None and done >= max_cases:
                break
    services.engine.dispose()
    return done


class _StopWhenOrphaned:
    """Set when the stop event is set or the parent process has died (the worker is re-parented)."""

    def __init__(self, stop: Any) -> None:
        self._stop = stop
        self._parent = os.getppid()

    def is_set(self) -> bool:
        return bool(self._stop.is_set()) or os.getppid() != self._parent


def _worker_main(settings_json: str, wake: Any, stop: Any) -> None:
    settings = Settings.model_validate_json(settings_json)
    logging.basicConfig(level=settings.log_level)
    run_worker(settings, wake=wake, stop=_StopWhenOrphaned(stop))


class WorkerSupervisor:
    """Runs worker processes beside the API and restarts any that dies (for example a crash inside
    the rule engine). `wake()` tells an idle worker that a case has arrived."""

    def __init__(self, settings: Settings, *, processes: int = 1) -> None:
        self.settings = settings
        self._ctx = mp.get_context("spawn")
        self._wake = self._ctx.Event()
        self._stop = self._ctx.Event()
        self._procs: list[Any] = [None] * processes
        self._watch: threading.Thread | None = None
        self._closing = threading.Event()
        self.restarts = 0

    def _spawn(self, i: int) -> None:
        proc = self._ctx.Process(
            target=_worker_main,
            args=(self.settings.model_dump_json(), self._wake, self._stop),
            name=f"miaopi-worker-{i}",
            # not a daemon: a worker starts its own OCR process, which daemons may not do; it exits
            # on the stop event or when the supervising process is gone (see _worker_main)
            daemon=False,
        )
        proc.start()
        self._procs[i] = proc

    def start(self) -> None:
        for i in range(len(self._procs)):
            self._spawn(i)
        self._watch = threading.Thread(target=self._watchdog, name="miaopi-worker-watch", daemon=True)
        self._watch.start()

    def _watchdog(self) -> None:
        while not self._closing.wait(0.5):
            for i, proc in enumerate(self._procs):
                if proc is not None and not proc.is_alive() and not self._closing.is_set():
                    log.warning("worker %s exited with %s; restarting", proc.name, proc.exitcode)
                    self.restarts += 1
                    self._spawn(i)

    def wake(self) -> None:
        self._wake.set()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.pid is not None]

    def stop(self, timeout: float = 10.0) -> None:
        self._closing.set()
        self._stop.set()
        self._wake.set()
        for proc in self._procs:
            if proc is not None:
                proc.join(timeout)
                if proc.is_alive():
                    proc.terminate()
                    proc.join(2)
