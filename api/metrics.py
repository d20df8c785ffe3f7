"""Prometheus metrics: request latency measured in the API process; case, queue and SLA figures read
from the database at scrape time (the worker processes write them there)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from miaopi import workflow as wf
from store.workflow import CaseRow, DecisionRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DECISION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _DatabaseCollector:
    def __init__(self, services: wf.Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Any]:
        now = wf.utcnow()
        with self.services.sessions() as session:
            figures = wf.stats(session, now=now)
            queues = wf.queue_counts(session, department=None, now=now)
            recent = session.execute(
                select(CaseRow.received_at, CaseRow.decided_at, DecisionRow.elapsed_ms)
                .join(DecisionRow, DecisionRow.case_id == CaseRow.id)
                .order_by(DecisionRow.id.desc())
                .limit(10_000)
            ).all()
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
        for kind in ("review", "post_check"):
            for card in ("red", "yellow", "green"):
                queue.add_metric([kind, card], queues.get(kind, {}).get(card, 0))
        yield queue
        done = figures["reviews_done"]
        yield GaugeMetricFamily(
            "miaopi_review_sla_compliance_ratio",
            "Share of reviews decided before their due time",
            value=(figures["reviews_on_time"] / done) if done else 1.0,
        )
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


def _histogram(name: str, doc: str, values: list[float]) -> HistogramMetricFamily:
    buckets = []
    for bound in DECISION_BUCKETS:
        buckets.append((str(bound), sum(1 for v in values if v <= bound)))
    buckets.append(("+Inf", len(values)))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(values))


class Metrics:
    def __init__(self, services: wf.Services) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "miaopi_http_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.registry.register(_DatabaseCollector(services))

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.latency.labels(request.method, path, str(response.status_code)).observe(
            time.perf_counter() - start
        )
        return response

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)
