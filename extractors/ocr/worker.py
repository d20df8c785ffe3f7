"""OCR in a bounded worker process: a page that hangs or crashes the OCR runtime costs that page, not
the caller's process, and a process recycled every N pages keeps memory flat over long runs.

    with OcrWorker("rapidocr", threads=2, timeout=20) as ocr:
        lines = ocr.recognise(page_rgb)

OcrWorker implements the OcrBackend protocol, so callers can use it wherever a backend goes."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from extractors.errors import DocumentError
from extractors.model import Line
from extractors.ocr.base import check_image


class OcrError(DocumentError):
    """OCR could not read a page (code `ocr_failed`)."""

    def __init__(self, message: str, *, code: str = "ocr_failed", page: int | None = None) -> None:
        super().__init__(code, message, page=page)


class OcrTimeout(OcrError):
    """The page took longer than the time limit; the worker process was killed (code `timeout`)."""

    def __init__(self, message: str, *, page: int | None = None) -> None:
        super().__init__(message, code="timeout", page=page)


class OcrCrashed(OcrError):
    """The worker process died while reading the page (code `ocr_failed`); the next call starts a
    fresh one."""


class OcrWorker:
    """One worker process hosting one OCR backend, serving one page at a time.

    - `timeout`: seconds per page (ExtractOptions.page_timeout_s); past it the process is killed with
      SIGKILL and OcrTimeout raised. The next call starts a fresh process.
    - A process that dies mid-page raises OcrCrashed; one found dead between pages is replaced
      silently (no page was lost).
    - `recycle_after`: pages served before the process is replaced (memory stays flat even if the
      runtime leaks); `max_rss_mib` also replaces it once its resident memory exceeds that.
    - `start_timeout`: seconds allowed for loading the models, not counted in the page time.
    Calls from several threads are serialised; use several workers for parallel pages."""

    def __init__(
        self,
        backend: str = "rapidocr",
        *,
        threads: int = 2,
        timeout: float = 20.0,
        recycle_after: int = 500,
        max_rss_mib: float | None = None,
        start_timeout: float = 120.0,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        if recycle_after < 1:
            raise ValueError("recycle_after must be at least 1")
        self.name = backend
        self.threads = threads
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.max_rss_mib = max_rss_mib
        self.start_timeout = start_timeout
        self.backend_options = dict(backend_options or {})
        self.pages_total = 0
        self.starts = 0
        """Processes started so far (1 + restarts after timeouts, crashes and recycling)."""
        self._ctx = mp.get_context("spawn")
        self._proc: Any = None
        self._conn: Connection | None = None
        self._pages = 0
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Any, **kwargs: Any) -> OcrWorker:
        """A worker configured from ExtractOptions (backend, threads, page time limit)."""
        return cls(options.ocr_backend, threads=options.ocr_threads, timeout=options.page_timeout_s, **kwargs)

    # -- the OcrBackend protocol -------------------------------------------------------------
    def recognise(self, image: np.ndarray, timeout: float | None = None) -> list[Line]:
        """Lines of the page, read in the worker process; OcrTimeout / OcrCrashed / OcrError."""
        image = check_image(image)
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send(("page", image.shape))
                conn.send_bytes(image.data.cast("B"))
            except (BrokenPipeError, ConnectionError, EOFError, OSError) as exc:
                code = self._kill()
                raise OcrCrashed(f"OCR worker died before reading the page (exit code {code})") from exc
            if not conn.poll(limit):
                self._kill()
                raise OcrTimeout(f"OCR took longer than {limit:g} s; worker killed")
            try:
                reply = conn.recv()
            except (EOFError, ConnectionError, OSError) as exc:
                code = self._kill()
                raise OcrCrashed(f"OCR worker died while reading the page (exit code {code})") from exc
            self._pages += 1
            self.pages_total += 1
            if self._pages >= self.recycle_after or self._over_memory():
                self._stop()
            kind, payload = reply
            if kind == "ok":
                lines: list[Line] = payload
                return lines
            raise OcrError(f"OCR failed: {payload}")

    # -- process management -----------------------------------------------------------------
    def start(self) -> None:
        """Start the process and load the models now rather than on the first page."""
        with self._lock:
            self._ensure_started()

    @property
    def pid(self) -> int | None:
        """The live worker process's id, if any."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def rss_mib(self) -> float | None:
        """Resident memory of the worker process in MiB (None when no process runs)."""
        pid = self.pid
        if pid is None:
            return None
        import psutil

        try:
            return float(psutil.Process(pid).memory_info().rss) / 2**20
        except psutil.Error:
            return None

    def close(self) -> None:
        """Stop the worker process (gracefully, then SIGKILL after a few seconds)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> OcrWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._kill()

    def _ensure_started(self) -> Connection:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._conn
        if self._proc is not None:  # died between pages: nothing was lost, replace it
            self._kill()
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_serve,
            args=(child, self.name, self.threads, self.backend_options),
            name=f"ocr-{self.name}",
            daemon=True,
        )
        start_ignoring_sigint(proc)
        child.close()
        self._proc, self._conn, self._pages = proc, parent, 0
        self.starts += 1
        if not parent.poll(self.start_timeout):
            self._kill()
            raise OcrTimeout(f"OCR worker did not load its models within {self.start_timeout:g} s")
        try:
            kind, payload = parent.recv()
        except (EOFError, ConnectionError, OSError) as exc:
            code = self._kill()
            raise OcrCrashed(f"OCR worker died while starting (exit code {code})") from exc
        if kind != "ready":
            self._kill()
            raise OcrError(f"OCR backend {self.name!r} could not start: {payload}")
        return parent

    def _over_memory(self) -> bool:
        if self.max_rss_mib is None:
            return False
        rss = self.rss_mib()
        return rss is not None and rss > self.max_rss_mib

    def _stop(self) -> None:
        proc, conn = self._proc, self._conn
        if proc is None:
            return
        if conn is not None and proc.is_alive():
            with contextlib.suppress(Exception):
                conn.send(("stop", None))
            proc.join(5)
        self._kill()

    def _kill(self) -> int | None:
        """SIGKILL the process (if alive), reap it, and forget it; its exit code."""
        proc, conn = self._proc, self._conn
        self._proc, self._conn = None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if proc is None:
            return None
        if proc.is_alive():
            with contextlib.suppress(Exception):
                proc.kill()
        proc.join(5)
        code: int | None = proc.exitcode
        with contextlib.suppress(Exception):
            proc.close()
        return code


def start_ignoring_sigint(process: Any) -> None:
    """`process.start()` with SIGINT ignored by the new process from its first instruction (an ignored
    signal stays ignored across exec): a Ctrl-C, which the terminal sends to the whole process group,
    cannot interrupt its start-up with a traceback. The parent ignores it only for those milliseconds,
    and only from the main thread, the one thread allowed to change it: a process started from another
    thread is started as is. The service starts its own processes with it too (service/processes.py)."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    resource_tracker.ensure_running()  # the first start would start it too: not inside the window
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _serve(conn: Connection, backend_name: str, threads: int, options: dict[str, Any]) -> None:
    """The worker process: load the backend, then read pages until told to stop, or until the parent
    is gone (killed with SIGKILL, say): the end of the pipe read, or an answer that cannot be sent,
    ends the process quietly, since nobody is left to read a traceback or the page."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        from extractors.ocr.base import get_backend

        backend = get_backend(backend_name, threads=threads, **options)
    except BaseException as exc:  # report any start-up failure to the parent, then exit
        _answer(conn, ("error", f"{type(exc).__name__}: {exc}"))
        return
    if not _answer(conn, ("ready", os.getpid())):
        return
    while True:
        try:
            kind, shape = conn.recv()
            if kind == "stop":
                return
            buf = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent went away
        image = np.frombuffer(buf, dtype=np.uint8).reshape(shape)
        try:
            lines = backend.recognise(image)
        except Exception as exc:
            reply: tuple[str, Any] = ("error", f"{type(exc).__name__}: {exc}")
        else:
            reply = ("ok", lines)
        if not _answer(conn, reply):
            return


def _answer(conn: Connection, message: tuple[str, Any]) -> bool:
    """Send to the parent; False when it has gone (its end of the pipe closed)."""
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError: the parent was killed or has exited
        return False
    return True
