"""Prometheus metrics: request latency measured in the API process; case, queue and SLA figures read
from the database at scrape time (the worker processes write them there)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import container, ratings, review, stats, transactions
from service.engine_pool import EnginePool

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _DatabaseCollector:
    def __init__(self, services: container.Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Any]:
        now = transactions.utcnow()
        with self.services.sessions() as session:
            figures = stats.stats(session, now=now)
            queues = review.queue_counts(session, department=None, now=now)
            recent = stats.recent_decisions(session, limit=10_000)
            rated = ratings.counts(session)
        by_outcome = GaugeMetricFamily(
            "miaopi_cases_decided", "Cases decided by the engine, by outcome", labels=["outcome"]
        )
        for outcome in ("approved", "review", "returned", "rejected"):
            by_outcome.add_metric([outcome], figures["cases_by_outcome"].get(outcome, 0))
        yield by_outcome
        by_status = GaugeMetricFamily("miaopi_cases", "Cases by processing status", labels=["status"])
        for status in ("queued", "processing", "decided", "failed"):
            by_status.add_metric([status], figures["cases_by_status"].get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "miaopi_auto_approval_ratio",
            "秒批率: share of decided cases approved automatically",
            value=figures["auto_approval_rate"],
        )
        queue = GaugeMetricFamily(
            "miaopi_queue_tasks", "Open tasks by kind and card colour", labels=["kind", "card"]
        )
        for kind in review.QUEUE_KINDS:
            for card in ("red", "yellow", "green"):
                queue.add_metric([kind, card], queues.get(kind, {}).get(card, 0))
        yield queue
        done = figures["reviews_done"]
        yield GaugeMetricFamily(
            "miaopi_review_sla_compliance_ratio",
            "Share of reviews decided before their due time",
            value=(figures["reviews_on_time"] / done) if done else 1.0,
        )
        yield from _rating_metrics(rated)
        yield _histogram(
            "miaopi_case_turnaround_seconds",
            "Submission to engine decision (last 10k cases)",
            [(d - r).total_seconds() for r, d, _ in recent if d is not None],
        )
        yield _histogram(
            "miaopi_decision_seconds",
            "Engine time per decision (last 10k cases)",
            [ms / 1000 for _r, _d, ms in recent],
        )


def _rating_metrics(rated: list[tuple[str, str, int, int]]) -> Iterator[Any]:
    """好差评 per item and per department, by level (codes of service/ratings.py: LEVELS)."""
    per_item = GaugeMetricFamily(
        "miaopi_ratings",
        "好差评 ratings by item, department and level",
        labels=["item", "department", "level"],
    )
    per_department: dict[tuple[str, int], int] = {}
    for item, department, score, count in rated:
        per_item.add_metric([item, department, ratings.LEVEL_OF_SCORE[score]], count)
        per_department[(department, score)] = per_department.get((department, score), 0) + count
    yield per_item
    by_department = GaugeMetricFamily(
        "miaopi_department_ratings", "好差评 ratings by department and level", labels=["department", "level"]
    )
    for (department, score), count in sorted(per_department.items()):
        by_department.add_metric([department, ratings.LEVEL_OF_SCORE[score]], count)
    yield by_department
    totals: dict[str, list[int]] = {}
    for (department, score), count in per_department.items():
        entry = totals.setdefault(department, [0, 0])
        entry[0] += count
        entry[1] += count if score not in ratings.BAD_SCORES else 0
    satisfied = GaugeMetricFamily(
        "miaopi_department_satisfaction_ratio",
        "Share of a department's ratings that are 基本满意 or better",
        labels=["department"],
    )
    for department, (total, good) in sorted(totals.items()):
        satisfied.add_metric([department], good / total if total else 1.0)
    yield satisfied


def _histogram(name: str, doc: str, values: list[float]) -> HistogramMetricFamily:
    buckets = []
    for bound in DECISION_BUCKETS:
        buckets.append((str(bound), sum(1 for v in values if v <= bound)))
    buckets.append(("+Inf", len(values)))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(values))


class _EngineCollector:
    """The pre-check's engine pool (service/engine_pool.py), read at scrape time."""

    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[Any]:
        pool = self.pool
        yield GaugeMetricFamily(
            "miaopi_engine_pending", "Pre-check requests admitted and not yet answered", value=pool.pending
        )
        yield GaugeMetricFamily(
            "miaopi_engine_pending_limit", "Admission bound of the pre-check", value=pool.max_pending
        )
        yield CounterMetricFamily(
            "miaopi_engine_rejected", "Pre-check requests refused at the bound (503)", value=pool.rejected
        )
        yield CounterMetricFamily(
            "miaopi_engine_restarts", "Rule-engine processes replaced after dying", value=pool.restarts
        )
        yield CounterMetricFamily(
            "miaopi_engine_batches", "Messages sent to the rule-engine processes", value=pool.batches_sent
        )
        yield CounterMetricFamily(
            "miaopi_engine_cases", "Cases sent to the rule-engine processes", value=pool.cases_sent
        )


class Metrics:
    def __init__(self, services: container.Services) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "miaopi_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.registry.register(_DatabaseCollector(services))

    def watch_engine(self, pool: EnginePool) -> None:
        self.registry.register(_EngineCollector(pool))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


class LatencyMiddleware:
    """Records each HTTP request's latency by route and status (`app.add_middleware(LatencyMiddleware,
    metrics=...)`). Plain ASGI: Starlette's BaseHTTPMiddleware costs a task group and a pair of
    streams per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.latency = metrics.latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], path, str(status)).observe(time.perf_counter() - start)
