"""Rule-engine processes for synchronous decisions (the dry-run `POST /api/v1/decide`).

durable_rules can crash its process (DESIGN.md §2), so the API never evaluates in its own process:
it hands the case to a small pool of engine processes, each with its own durable_rules host,
database connection and compiled rulesets. A crashed pool is replaced and the request answered
with 503; the API itself stays up.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from miaopi.errors import ServiceError
from miaopi.settings import Settings

log = logging.getLogger("miaopi.engine")

_state: dict[str, Any] = {}


class EngineUnavailable(ServiceError):
    code = "engine_unavailable"
    status = 503
    title = "规则引擎暂不可用"


def _init(settings_json: str) -> None:
    from engine.evaluate import DurableEvaluator
    from miaopi.workflow import create_services

    settings = Settings.model_validate_json(settings_json)
    _state["services"] = create_services(settings, migrate=False)
    _state["evaluator"] = DurableEvaluator()


def _decide(data: dict[str, Any], now_iso: str) -> dict[str, Any]:
    from miaopi.workflow import dry_run

    return dry_run(
        _state["services"], data=data, evaluator=_state["evaluator"], now=datetime.fromisoformat(now_iso)
    )


class EnginePool:
    def __init__(self, settings: Settings, *, processes: int = 1, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.processes = processes
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=mp.get_context("spawn"),
                    initializer=_init,
                    initargs=(self.settings.model_dump_json(),),
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                self.restarts += 1

    def decide(self, data: dict[str, Any], *, now: datetime) -> dict[str, Any]:
        """The decision for a case, evaluated in an engine process; nothing is stored."""
        pool = self._get()
        try:
            return pool.submit(_decide, data, now.isoformat()).result(timeout=self.timeout_s)
        except BrokenProcessPool as exc:
            log.error("engine process died; starting a new one")
            self._replace(pool)
            raise EngineUnavailable("规则引擎进程异常退出，已重新启动，请重试") from exc
        except TimeoutError as exc:
            self._replace(pool)
            raise EngineUnavailable(f"规则引擎在 {self.timeout_s:.0f} 秒内未作出决定") from exc

    def warm_up(self) -> None:
        """Start the processes now rather than on the first request."""
        pool = self._get()
        for f in [pool.submit(_ping) for _ in range(self.processes)]:
            f.result(timeout=120)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _ping() -> bool:
    return "services" in _state
