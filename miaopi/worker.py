"""The worker: takes leased cases from the database and decides them, one at a time, in its own process.

durable_rules can crash the process, so the evaluation never runs inside the API: the
API only records cases. A dead worker loses nothing: its lease expires and the case is taken again;
`WorkerSupervisor` restarts it. The database stays the record of work; the wake-up event only saves
the poll interval. Each worker also records an audit checkpoint on start and every
`MIAOPI_AUDIT_CHECKPOINT_S` seconds (service/audit.py).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from service.processes import start_ignoring_sigint
from service.settings import Settings

if TYPE_CHECKING:
    from service.container import Services

log = logging.getLogger("miaopi.worker")


class Wake(Protocol):
    def wait(self, timeout: float) -> None: ...


def run_worker(
    settings: Settings,
    *,
    owner: str | None = None,
    wake: Wake | None = None,
    stop: Callable[[], bool] | None = None,
    max_cases: int | None = None,
    idle_exit: bool = False,
) -> int:
    """Decide cases until `stop()` says so (or `max_cases` are done, or, with idle_exit, nothing is
    left). Returns the number of cases this worker decided."""
    from engine.evaluate import DurableEvaluator
    from service.container import create_services
    from service.documents import DocumentReader
    from service.pipeline import lease_next, process_case
    from service.transactions import utcnow

    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    services = create_services(settings, migrate=False)
    evaluator = DurableEvaluator()
    done = 0
    every = settings.audit_checkpoint_s
    next_checkpoint = time.monotonic()  # one on start, then every `audit_checkpoint_s`
    with DocumentReader(settings.extract_options()) as reader:
        while stop is None or not stop():
            if every and time.monotonic() >= next_checkpoint:
                _checkpoint(services)
                next_checkpoint = time.monotonic() + every
            case_id = lease_next(services, owner=owner, now=utcnow())
            if case_id is None:
                if idle_exit:
                    break
                if wake is not None:
                    wake.wait(settings.worker_poll_s)
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


def _checkpoint(services: Services) -> None:
    """Record an audit checkpoint; a failure is logged and the worker goes on deciding cases."""
    from service.audit import record_checkpoint
    from service.transactions import utcnow

    try:
        report = record_checkpoint(services, now=utcnow())
    except Exception:  # the database or the checkpoint file unavailable: tried again next time
        log.exception("recording an audit checkpoint failed")
        return
    if not report.ok:
        log.error("audit checkpoint not recorded: %s", report.problem)


class _PipeWake:
    """The reading end of a worker's wake-up pipe: a byte means "a case has arrived"."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)

    def wait(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self.fd, 4096)


def _worker_main(settings_json: str, wake_conn: Any) -> None:
    settings = Settings.model_validate_json(settings_json)
    logging.basicConfig(level=settings.log_level)
    parent = os.getppid()
    stopping = threading.Event()
    # the supervisor stops a worker with SIGTERM: it finishes the case in hand, then leaves
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    run_worker(
        settings,
        wake=_PipeWake(wake_conn.fileno()),
        stop=lambda: stopping.is_set() or os.getppid() != parent,  # orphaned: the supervisor is gone
    )


class WorkerSupervisor:
    """Runs worker processes beside the API and restarts any that dies (for example a crash inside
    the rule engine). `wake()` tells idle workers that a case has arrived.

    Nothing is shared with a worker but a pipe per worker, written without blocking: a worker killed
    at any moment (even while waiting) cannot leave a lock held that would stall the API."""

    def __init__(self, settings: Settings, *, processes: int = 1) -> None:
        self.settings = settings
        self._ctx = mp.get_context("spawn")
        self._procs: list[Any] = [None] * processes
        self._pipes: list[Any] = [None] * processes
        self._retired: list[Any] = []
        self._watch: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.restarts = 0

    def _spawn(self, i: int) -> None:
        reader, writer = self._ctx.Pipe(duplex=False)
        os.set_blocking(writer.fileno(), False)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(self.settings.model_dump_json(), reader),
            name=f"miaopi-worker-{i}",
            # not a daemon: a worker starts its own OCR process, which daemons may not do; it exits
            # on SIGTERM or when the supervising process is gone (see _worker_main)
            daemon=False,
        )
        start_ignoring_sigint(proc)  # Ctrl-C reaches the whole group: the supervisor decides
        reader.close()
        old = self._pipes[i]
        self._procs[i], self._pipes[i] = proc, writer
        if old is not None:  # closed at stop(): wake() may be writing to it from another thread
            self._retired.append(old)

    def start(self) -> None:
        with self._lock:
            for i in range(len(self._procs)):
                self._spawn(i)
        self._watch = threading.Thread(target=self._watchdog, name="miaopi-worker-watch", daemon=True)
        self._watch.start()

    def _watchdog(self) -> None:
        while not self._closing.wait(0.5):
            with self._lock:
                for i, proc in enumerate(self._procs):
                    if proc is not None and not proc.is_alive() and not self._closing.is_set():
                        log.warning("worker %s exited with %s; restarting", proc.name, proc.exitcode)
                        self.restarts += 1
                        self._spawn(i)

    def wake(self) -> None:
        """Never blocks: a full pipe already holds a wake-up, a dead worker's pipe is skipped."""
        for conn in list(self._pipes):
            if conn is not None:
                with contextlib.suppress(OSError):  # full (a wake-up is pending), or the worker is gone
                    os.write(conn.fileno(), b"w")

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.pid is not None]

    def stop(self, timeout: float = 10.0) -> None:
        self._closing.set()
        with self._lock:
            for proc in self._procs:
                if proc is not None and proc.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)
            for proc in self._procs:
                if proc is not None:
                    proc.join(timeout)
                    if proc.is_alive():
                        proc.kill()
                        proc.join(2)
            for conn in [*self._pipes, *self._retired]:
                if conn is not None:
                    conn.close()
            self._retired.clear()
            self._pipes = [None] * len(self._pipes)
