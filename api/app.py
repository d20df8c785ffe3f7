"""The FastAPI application factory: JSON API, approvers' pages, health and metrics.

`create_app(settings)` wires the services (database migrated, rulesets seeded); `miaopi serve` adds
the worker processes beside it. Tests pass their own settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from api import pages, problems, schemas
from api.deps import ServicesDep
from api.limits import BodyLimitMiddleware
from api.metrics import LatencyMiddleware, Metrics
from api.routes import router
from api.schemas import Health
from service import container, rulesets, stats, transactions
from service.engine_pool import EnginePool
from service.errors import ServiceError
from service.identity import IdentityProvider, LocalIdentity
from service.settings import Settings, get_settings


class NotReady(ServiceError):
    code = "not_ready"
    status = 503
    title = "服务尚未就绪"


def create_app(
    settings: Settings | None = None,
    *,
    services: container.Services | None = None,
    supervisor: Any = None,
    identity: IdentityProvider | None = None,
) -> FastAPI:
    """`identity`: the identity service applicants sign in with (service/identity.py); the local
    stand-in when None."""
    settings = settings or get_settings()
    own = services is None
    services = services or container.create_services(settings)
    rulesets.seed_rulesets(services, now=transactions.utcnow())

    engine_pool = EnginePool(settings, processes=settings.engine_processes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if supervisor is not None:
            supervisor.start()
            await engine_pool.start()
        try:
            yield
        finally:
            await engine_pool.aclose()
            if supervisor is not None:
                supervisor.stop()
            if own:
                services.engine.dispose()

    app = FastAPI(
        title="秒批 miaopi",
        description="政务服务事项秒批：案件受理、规则引擎自动审批、人工审核队列、结果文书核验",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.supervisor = supervisor
    app.state.identity = identity or LocalIdentity()
    app.state.engine_pool = engine_pool
    metrics = Metrics(services)
    app.state.metrics = metrics
    metrics.watch_engine(engine_pool)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    app.add_middleware(
        BodyLimitMiddleware,
        json_bytes=settings.max_json_bytes,
        upload_bytes=settings.max_upload_bytes,
        json_values=settings.max_json_values,
        large_bodies=settings.max_large_bodies,
    )
    problems.install(app)
    app.include_router(router)

    @app.get(
        "/health",
        response_model=Health,
        summary="健康检查",
        tags=["ops"],
        responses=problems.responses(503, described={503: "数据库不可用"}),
    )
    def health(services: ServicesDep) -> Health:
        try:
            with services.sessions() as session:
                n = stats.published_versions(session)
        except Exception as exc:
            raise NotReady(f"数据库不可用：{type(exc).__name__}") from exc
        workers = len(supervisor.pids) if supervisor is not None else 0
        return Health(status="ok", database=services.engine.dialect.name, workers=workers, rulesets=n)

    @app.get("/metrics", summary="Prometheus 指标", tags=["ops"], response_class=PlainTextResponse)
    def prometheus() -> Any:
        return metrics.render()

    pages.install(app)
    app.openapi = _with_components(app)  # type: ignore[method-assign]
    return app


def _with_components(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The application's OpenAPI schema with the components that operations name without FastAPI
    deriving them from a route's types (api/schemas.py: `components`), and without the framework's
    own 422 (`HTTPValidationError` as `application/json`), which this API never answers: an operation
    whose request can fail validation declares its 422 Problem itself (api/problems.py)."""
    generate = app.openapi

    framework_422 = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for operations in document["paths"].values():
                for operation in operations.values():
                    answers = operation["responses"]
                    if answers.get("422", {}).get("content") == framework_422:
                        del answers["422"]
            found = document.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                found.pop(name, None)
            for name, definition in schemas.components().items():
                if found.setdefault(name, definition) != definition:
                    raise RuntimeError(f"two OpenAPI schemas are named {name}")
            app.openapi_schema = document
        return app.openapi_schema

    return openapi
