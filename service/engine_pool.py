"""Rule-engine processes for synchronous decisions (the dry-run `POST /api/v1/decide`).

durable_rules can crash its process, so the API never evaluates in its own process:
it hands the case to a small pool of engine processes, each with its own durable_rules host,
database connection and compiled rulesets. An engine process that dies is replaced and the requests
it held are answered with 503; the API itself stays up.

Everything happens on the API's event loop, with no thread: each engine process is connected by a
socket pair (asyncio streams here, a plain blocking loop there). A request never holds a thread of
the API's pool while its case is decided. Requests that arrive while every engine process is busy
wait in one queue and go to the next free process together, in one message (one round trip instead
of one per case); the process answers each case as soon as it is decided, so a case is not held back
by the others of its batch, and a lone request is sent at once. At most `max_pending` requests are
admitted at a time, waiting or in an engine; beyond that the answer is 503 with Retry-After at once,
so an overload is refused quickly instead of queueing without bound.

When the API process goes away, however it ends, its engine processes read the end of their socket
and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import pickle
import signal
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.process import BaseProcess
from typing import Any

from service.errors import ServiceError
from service.processes import start_ignoring_sigint
from service.settings import Settings

log = logging.getLogger("miaopi.engine")

_state: dict[str, Any] = {}
_HEADER = struct.Struct("!I")


class EngineUnavailable(ServiceError):
    code = "engine_unavailable"
    status = 503
    title = "规则引擎暂不可用"


class EngineBusy(ServiceError):
    code = "engine_busy"
    status = 503
    title = "预审请求过多"
    retry_after_s = 1
    """Sent as the Retry-After header (api/problems.py)."""


# -- the engine process ----------------------------------------------------------------------------
def _init(settings_json: str) -> None:
    from engine.evaluate import DurableEvaluator
    from service.container import create_services

    settings = Settings.model_validate_json(settings_json)
    _state["services"] = create_services(settings, migrate=False)
    _state["evaluator"] = DurableEvaluator()


def _decide(data: dict[str, Any], now_iso: str) -> dict[str, Any]:
    from service.cases import dry_run

    return dry_run(
        _state["services"], data=data, evaluator=_state["evaluator"], now=datetime.fromisoformat(now_iso)
    )


def _encode(decision: dict[str, Any]) -> bytes:
    """The decision as the JSON body the API sends (the encoding of FastAPI's JSONResponse)."""
    return json.dumps(decision, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _answer(data: dict[str, Any], now_iso: str) -> bytes | Exception:
    """One case's decision as JSON, or the error it raised (one that survives the trip back)."""
    try:
        return _encode(_decide(data, now_iso))
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            return RuntimeError(f"{type(exc).__name__}: {exc}")
        return exc


def _frame(obj: Any) -> bytes:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _serve(sock: socket.socket, settings_json: str) -> None:
    """The engine process: read a batch of cases, answer each as soon as it is decided; exit when the
    API process closes its end or dies (killed with SIGKILL, say: the end of the socket read, or an
    answer that cannot be sent, ends the process quietly, since nobody is left to read it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the API, which then closes the socket
    _init(settings_json)
    try:
        sock.sendall(_frame(None))  # ready
        while True:
            header = _recv_exactly(sock, _HEADER.size)
            body = _recv_exactly(sock, _HEADER.unpack(header)[0]) if header else None
            if body is None:
                return
            jobs: list[tuple[dict[str, Any], str]] = pickle.loads(body)
            for data, now_iso in jobs:
                sock.sendall(_frame(_answer(data, now_iso)))
    except OSError:  # BrokenPipeError, ConnectionResetError: the API process is gone
        return


# -- the API side ----------------------------------------------------------------------------------
@dataclass
class _Job:
    data: dict[str, Any]
    now_iso: str
    answer: asyncio.Future[bytes]


@dataclass(eq=False)
class _Engine:
    process: BaseProcess
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def receive(self) -> Any:
        (size,) = _HEADER.unpack(await self.reader.readexactly(_HEADER.size))
        return pickle.loads(await self.reader.readexactly(size))

    def kill(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop of the streams may be closed already
            self.writer.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


@dataclass
class _Loop:
    """The engines and the queue of one event loop (the API runs one; tests may run several in turn)."""

    loop: asyncio.AbstractEventLoop
    waiting: deque[_Job] = field(default_factory=deque)
    idle: list[_Engine] = field(default_factory=list)
    busy: set[_Engine] = field(default_factory=set)
    starting: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @property
    def engines(self) -> list[_Engine]:
        return [*self.idle, *self.busy]


class EnginePool:
    def __init__(
        self,
        settings: Settings,
        *,
        processes: int = 1,
        timeout_s: float = 30.0,
        start_timeout_s: float = 120.0,
        max_pending: int | None = None,
        max_batch: int | None = None,
    ) -> None:
        self.settings = settings
        self.processes = processes
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.max_pending = settings.engine_max_pending if max_pending is None else max_pending
        self.max_batch = settings.engine_max_batch if max_batch is None else max_batch
        self._on: _Loop | None = None
        self.pending = 0
        """Requests admitted by `decide` and not yet answered."""
        self.restarts = 0
        self.rejected = 0
        self.batches_sent = 0
        self.cases_sent = 0

    @property
    def pids(self) -> list[int]:
        return [e.process.pid for e in self._on.engines if e.process.pid] if self._on else []

    def _here(self) -> _Loop:
        loop = asyncio.get_running_loop()
        on = self._on
        if on is None or on.loop is not loop:
            if on is not None:  # engines of a loop that is gone: their streams cannot be used here
                for engine in on.engines:
                    engine.kill()
            on = self._on = _Loop(loop)
        return on

    async def start(self) -> None:
        """Start the engine processes now rather than on the first request; return once they answer."""
        on = self._here()
        self._fill(on)
        deadline = time.monotonic() + self.start_timeout_s
        while on.starting and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def decide(self, data: dict[str, Any], *, now: datetime) -> bytes:
        """The decision for a case as its JSON body, evaluated in an engine process; nothing is
        stored. Raises EngineBusy at once when `max_pending` requests are already admitted, and
        EngineUnavailable when the engine process dies or does not answer within `timeout_s`."""
        if self.pending >= self.max_pending:
            self.rejected += 1
            raise EngineBusy(
                f"当前预审请求过多（同时处理上限 {self.max_pending} 件），请于 "
                f"{EngineBusy.retry_after_s} 秒后重试"
            )
        on = self._here()
        job = _Job(data, now.isoformat(), on.loop.create_future())
        self.pending += 1
        try:
            on.waiting.append(job)
            self._fill(on)
            self._send(on)
            return await job.answer
        finally:
            self.pending -= 1

    def _fill(self, on: _Loop) -> None:
        """Start engine processes up to `processes`."""
        while len(on.idle) + len(on.busy) + on.starting < self.processes:
            on.starting += 1
            on.spawn(self._start_one(on))

    async def _start_one(self, on: _Loop) -> None:
        ours, theirs = socket.socketpair()
        process = mp.get_context("spawn").Process(
            target=_serve,
            args=(theirs, self.settings.model_dump_json()),
            name="miaopi-engine",
            daemon=True,
        )
        engine: _Engine | None = None
        try:
            try:
                start_ignoring_sigint(process)
            finally:
                theirs.close()
            reader, writer = await asyncio.open_connection(sock=ours)
            engine = _Engine(process, reader, writer)
            async with asyncio.timeout(self.start_timeout_s):
                await engine.receive()  # ready
        except BaseException as exc:
            on.starting -= 1
            ours.close()
            if engine is not None:
                engine.kill()
            elif process.pid is not None and process.is_alive():
                process.kill()
            if not isinstance(exc, Exception):
                raise
            log.error("rule-engine process did not start: %s", type(exc).__name__)
            if not on.busy and not on.idle and not on.starting:  # nobody left to take the waiting
                error = EngineUnavailable("规则引擎进程未能启动，请稍后重试")
                while on.waiting:
                    job = on.waiting.popleft()
                    if not job.answer.done():
                        job.answer.set_exception(error)
            return
        on.starting -= 1
        on.idle.append(engine)
        self._send(on)

    def _send(self, on: _Loop) -> None:
        """Send what waits, one batch per free engine process."""
        while on.waiting and on.idle:
            jobs: list[_Job] = []
            while on.waiting and len(jobs) < self.max_batch:
                job = on.waiting.popleft()
                if not job.answer.done():  # a request cancelled while it waited is not sent
                    jobs.append(job)
            if not jobs:
                return
            engine = on.idle.pop()
            on.busy.add(engine)
            self.batches_sent += 1
            self.cases_sent += len(jobs)
            on.spawn(self._exchange(on, engine, jobs))

    async def _exchange(self, on: _Loop, engine: _Engine, jobs: list[_Job]) -> None:
        done = 0
        try:
            engine.writer.write(_frame([(j.data, j.now_iso) for j in jobs]))
            await engine.writer.drain()
            for job in jobs:
                async with asyncio.timeout(self.timeout_s):
                    answer = await engine.receive()
                done += 1
                if job.answer.done():
                    continue
                if isinstance(answer, Exception):
                    job.answer.set_exception(answer)
                else:
                    job.answer.set_result(answer)
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                log.error("rule-engine process gave no answer in %.0f s; starting a new one", self.timeout_s)
                error = EngineUnavailable(f"规则引擎在 {self.timeout_s:.0f} 秒内未作出决定")
            elif isinstance(exc, asyncio.CancelledError):
                error = EngineUnavailable("服务正在停止")
            else:
                log.error("rule-engine process died (%s); starting a new one", type(exc).__name__)
                error = EngineUnavailable("规则引擎进程异常退出，已重新启动，请重试")
            error.__cause__ = exc
            for job in jobs[done:]:
                if not job.answer.done():
                    job.answer.set_exception(error)
            on.busy.discard(engine)
            engine.kill()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.restarts += 1
            self._fill(on)
            return
        on.busy.discard(engine)
        on.idle.append(engine)
        self._send(on)

    async def aclose(self) -> None:
        """Stop the engine processes: each reads the end of its socket and exits."""
        on, self._on = self._on, None
        if on is None:
            return
        if on.loop is not asyncio.get_running_loop():  # started on a loop that is gone
            for engine in on.engines:
                engine.kill()
            return
        for task in list(on.tasks):
            task.cancel()
        await asyncio.gather(*on.tasks, return_exceptions=True)
        error = EngineUnavailable("服务正在停止")
        for job in on.waiting:
            if not job.answer.done():
                job.answer.set_exception(error)
        engines = on.engines
        for engine in engines:
            with contextlib.suppress(RuntimeError):
                engine.writer.close()
        deadline = time.monotonic() + 5
        while any(e.process.is_alive() for e in engines) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for engine in engines:
            engine.kill()
