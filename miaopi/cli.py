"""The `miaopi` command line."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from engine.errors import ApprovalError, CaseError, EngineFault, RulesetError
from service.settings import get_settings

app = typer.Typer(help="秒批 miaopi: instant approval of government service items", no_args_is_help=True)


@app.callback()
def _configure() -> None:
    """Logging goes to stderr at the level from settings (MIAOPI_LOG_LEVEL); personal data is masked."""
    import logging

    logging.basicConfig(
        level=get_settings().log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )


data_app = typer.Typer(help="共享数据 (shared registries)", no_args_is_help=True)
app.add_typer(data_app, name="data")
err = Console(stderr=True)
out = Console()

DbOption = Annotated[
    str | None, typer.Option("--db", help="SQLAlchemy URL (default: MIAOPI_DATABASE_URL or embedded SQLite)")
]

EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_ENGINE = 4
EXIT_INTERRUPTED = 130
"""Ended by Ctrl-C, as the shells report a program SIGINT ended."""


def fail(code: int, message: str) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise: the one place errors become exit codes."""
    err.print(f"[bold red]错误[/]: {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def exit_for(exc: Exception) -> typer.Exit:
    from store.errors import DataLoadError, StoreError

    if isinstance(exc, CaseError | RulesetError | DataLoadError):
        return fail(EXIT_BAD_INPUT, str(exc))
    if isinstance(exc, EngineFault):
        return fail(EXIT_ENGINE, str(exc))
    if isinstance(exc, StoreError | ApprovalError):
        return fail(EXIT_ENVIRONMENT, str(exc))
    raise exc


def _db_url(db: str | None) -> str:
    return db or get_settings().database_url


def _open_registry(db: str | None, *, create: bool) -> Any:
    """An engine for the database; refuses to create an empty SQLite file when only reading."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from store.db import create_engine_for
    from store.migrate import upgrade

    url = _db_url(db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise fail(EXIT_ENVIRONMENT, f"共享数据库不存在：{path}（请先运行 miaopi data load DIR）")
    try:
        engine = create_engine_for(url)
        if create:
            upgrade(engine)
        elif not inspect(engine).has_table("population"):
            raise fail(
                EXIT_ENVIRONMENT,
                f"数据库 {parsed.render_as_string(hide_password=True)} 中没有共享数据表"
                "（请先运行 miaopi data load DIR）",
            )
    except typer.Exit:
        raise
    except Exception as exc:  # connection problems
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            raise fail(EXIT_ENVIRONMENT, f"无法连接数据库：{exc.__class__.__name__}: {exc}") from exc
        raise
    return engine


class LoadMode(StrEnum):
    REPLACE = "replace"
    UPSERT = "upsert"
    APPEND = "append"


@data_app.command("load")
def data_load(
    directory: Annotated[Path, typer.Argument(help="folder of registry CSV files")],
    db: DbOption = None,
    mode: Annotated[
        LoadMode,
        typer.Option(
            help="replace: each file is the registry's full snapshot; upsert: add and change by key, "
            "delete nothing; append: add only (a key already present is an error)"
        ),
    ] = LoadMode.REPLACE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show per registry what would be added, changed and deleted")
    ] = False,
    max_delete: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=100,
            help="replace: refuse to delete more than this percentage of a registry's rows (default 50)",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace even beyond --max-delete")] = False,
) -> None:
    """Load a folder of shared-data CSVs in one transaction (idempotent); files are streamed."""
    from store.loader import DEFAULT_MAX_DELETE_SHARE, load_directory

    if not directory.is_dir():
        raise fail(EXIT_BAD_INPUT, f"不是文件夹：{directory}")
    engine = _open_registry(db, create=True)
    try:
        report = load_directory(
            engine,
            directory,
            mode=mode.value,
            dry_run=dry_run,
            max_delete_share=DEFAULT_MAX_DELETE_SHARE if max_delete is None else max_delete / 100,
            force=force,
        )
    except Exception as exc:
        raise exit_for(exc) from exc
    title = f"试运行（未写入任何数据）{directory}" if dry_run else f"共享数据已载入 {directory}"
    table = Table(title=f"{title}（模式 {mode.value}）")
    for col in ("registry", "rows", "inserted", "updated", "deleted", "unchanged"):
        table.add_column(col, justify="right" if col != "registry" else "left")
    for name, c in report.registries.items():
        table.add_row(name, str(c.rows), str(c.inserted), str(c.updated), str(c.deleted), str(c.unchanged))
    out.print(table)


@app.command()
def decide(
    case_file: Annotated[Path, typer.Argument(help="case JSON (docs/architecture.md)")],
    db: DbOption = None,
) -> None:
    """Decide one case; the decision JSON goes to stdout (exit 0 whatever the outcome)."""
    from service.cases import decide_case, read_case_file, resolve_documents
    from service.rulesets import RulesetCatalogue
    from store.registry import SqlRegistry

    try:
        repository = RulesetCatalogue(get_settings().rulesets_dir)
        case, _ = read_case_file(case_file, repository=repository)
        documents = resolve_documents(case, case_file.parent, program=repository.get(case.item))
    except ApprovalError as exc:
        raise exit_for(exc) from exc
    engine = _open_registry(db, create=False)
    try:
        decision = decide_case(case, repository=repository, registry=SqlRegistry(engine), documents=documents)
    except ApprovalError as exc:
        raise exit_for(exc) from exc
    sys.stdout.write(json.dumps(decision.to_json_dict(), ensure_ascii=False, indent=1) + "\n")


@app.command()
def extract(
    file: Annotated[Path, typer.Argument(help="a scan (PNG/JPEG/TIFF) or a PDF")],
    kind: Annotated[
        str | None, typer.Option(help="document kind, e.g. purchase_contract (default: guessed)")
    ] = None,
) -> None:
    """Read a document and print its fields as the extraction JSON of docs/architecture.md."""
    from extractors.errors import DocumentError
    from extractors.extract import classify, read_with_notes
    from extractors.fields import extract_fields
    from service.documents import DocumentReader
    from service.rulesets import RulesetCatalogue

    settings = get_settings()
    repository = RulesetCatalogue(settings.rulesets_dir)
    kinds: dict[str, Any] = {}
    for item in repository.items():
        for m in repository.get(item).ruleset.materials:
            if m.document_kind and m.fields and m.document_kind not in kinds:
                kinds[m.document_kind] = (m.fields, m.other_labels)
    if kind is not None and kind not in kinds:
        raise fail(EXIT_BAD_INPUT, f"未知的材料类型 {kind!r}（可选：{', '.join(sorted(kinds))}）")
    if not file.is_file():
        raise fail(EXIT_BAD_INPUT, f"文件不存在：{file}")
    reader = DocumentReader(settings.extract_options())
    try:
        with reader:
            doc = read_with_notes(file, options=reader.options, ocr=reader.ocr())
    except DocumentError as exc:
        sys.stdout.write(
            json.dumps(
                {
                    "kind": kind,
                    "pages": 0,
                    "method": None,
                    "fields": {},
                    "problems": [{"code": exc.code, "message": exc.message}],
                },
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )
        raise fail(EXIT_BAD_INPUT, str(exc)) from exc
    if kind is None:
        found = classify(doc, kinds)
        if found is None:
            raise fail(EXIT_BAD_INPUT, "无法判断材料类型，请用 --kind 指定")
        result = found[1]
    else:
        result = extract_fields(doc, kind=kind, fields=kinds[kind][0], other_labels=kinds[kind][1])
    sys.stdout.write(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=1) + "\n")


@app.command()
def lint(ruleset_dir: Annotated[Path, typer.Argument(help="ruleset folder or rulesets root")]) -> None:
    """Validate rulesets without evaluating them."""
    from service.rulesets import RULESET_FILE, load_program

    # a ruleset folder or file as given, or every ruleset folder of a rulesets root
    folders = [ruleset_dir]
    if ruleset_dir.is_dir() and not (ruleset_dir / RULESET_FILE).is_file():
        folders = sorted(p for p in ruleset_dir.iterdir() if (p / RULESET_FILE).is_file())
    bad = 0
    for folder in folders:
        try:
            program = load_program(folder)
        except RulesetError as exc:
            err.print(f"[red]✗[/] {exc}", highlight=False, soft_wrap=True)
            bad += 1
            continue
        rs = program.ruleset
        out.print(
            f"[green]✓[/] {program.source}: {rs.item.id} {rs.version} sha256 {program.sha256[:16]} — "
            f"{len(rs.conditions)} 条件, {len(rs.materials)} 材料, {len(program.steps)} 步骤"
        )
    if bad or not folders:
        raise typer.Exit(1 if folders else EXIT_BAD_INPUT)


@app.command()
def guide(item: Annotated[str, typer.Argument(help="item id, e.g. deed-tax")]) -> None:
    """Print the 办事指南 / 一次告知单 of an item in Markdown."""
    from engine.guide import render_guide
    from service.rulesets import RulesetCatalogue

    try:
        program = RulesetCatalogue(get_settings().rulesets_dir).get(item)
    except ApprovalError as exc:
        raise exit_for(exc) from exc
    sys.stdout.write(render_guide(program) + "\n")


@app.command("test")
def test_rulesets(
    ruleset_dir: Annotated[Path, typer.Argument(help="ruleset folder (e.g. rulesets/deed-tax)")],
    samples: Annotated[Path | None, typer.Option(help="golden cases folder (default samples/<item>)")] = None,
    shared: Annotated[
        Path | None, typer.Option(help="shared-data CSV folder (default samples/shared-data)")
    ] = None,
    require_full_coverage: Annotated[
        bool, typer.Option(help="fail unless every condition passes and fails")
    ] = False,
) -> None:
    """Run a ruleset's golden cases; print pass/fail per case and per-condition coverage."""
    from service.golden import SharedDataError, run_golden_on_own_data
    from service.rulesets import load_program

    try:
        program = load_program(ruleset_dir)
    except RulesetError as exc:
        raise exit_for(exc) from exc
    settings = get_settings()
    samples = samples or settings.samples_dir / program.item
    shared = shared or samples.parent / "shared-data"
    if not (samples / "expected.json").is_file():
        raise fail(EXIT_BAD_INPUT, f"{samples} 中没有 expected.json")
    try:
        report = run_golden_on_own_data(program, samples, shared=shared)
    except SharedDataError as exc:
        raise exit_for(exc.original) from exc.original
    table = Table(title=f"{program.item} {program.ruleset.version}: 黄金案例")
    for col in ("case", "result", "outcome", "detail"):
        table.add_column(col)
    for r in report.results:
        outcome = r.decision.outcome if r.decision else "—"
        detail = "; ".join(r.problems) if r.problems else r.title
        table.add_row(r.case_id, "[green]PASS[/]" if r.ok else "[red]FAIL[/]", outcome, detail)
    out.print(table)
    cov = Table(title="条件覆盖 (condition coverage)")
    for col in ("condition", "pass", "fail", "unknown", "covered"):
        cov.add_column(col)
    for cid, seen in report.coverage.items():
        covered = seen["pass"] > 0 and seen["fail"] > 0
        cov.add_row(
            cid,
            str(seen["pass"]),
            str(seen["fail"]),
            str(seen["unknown"]),
            "[green]yes[/]" if covered else "[yellow]no[/]",
        )
    out.print(cov)
    out.print(f"{report.passed} passed, {report.failed} failed")
    out.print(
        f"coverage: {report.coverage_ratio:.0%} of {len(report.coverage)} conditions seen passing and failing"
    )
    if report.failed or (require_full_coverage and report.uncovered):
        raise typer.Exit(1)


# -- the service -------------------------------------------------------------------------------------------
db_app = typer.Typer(help="数据库结构 (schema migrations)", no_args_is_help=True)
app.add_typer(db_app, name="db")
user_app = typer.Typer(help="用户与角色 (users and roles)", no_args_is_help=True)
app.add_typer(user_app, name="user")
audit_app = typer.Typer(help="审计链 (audit trail)", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _service_settings(db: str | None) -> Any:
    settings = get_settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


def _services(db: str | None) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    from service.container import create_services

    try:
        return create_services(_service_settings(db))
    except SQLAlchemyError as exc:
        raise fail(EXIT_ENVIRONMENT, f"无法连接或升级数据库：{exc.__class__.__name__}: {exc}") from exc


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Bring the database schema to the newest migration."""
    from store.migrate import current, head

    services = _services(db)
    out.print(f"数据库已升级到 {current(services.engine)}（最新 {head()}）")


@user_app.command("add")
def user_add(
    user_id: Annotated[str, typer.Argument(help="sign-in name")],
    name: Annotated[str, typer.Option(help="display name")],
    role: Annotated[str, typer.Option(help="applicant | approver | rule_author | auditor | admin")],
    department: Annotated[str | None, typer.Option(help="department (approvers)")] = None,
    password: Annotated[str | None, typer.Option(help="password for the web page")] = None,
    db: DbOption = None,
) -> None:
    """Create a user and print their API token (shown once)."""
    from service.errors import ServiceError
    from service.transactions import utcnow
    from service.users import add_user

    services = _services(db)
    try:
        _user, token = add_user(
            services,
            user_id=user_id,
            display_name=name,
            role=role,
            department=department,
            password=password,
            now=utcnow(),
        )
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, exc.message) from exc
    out.print(token)


@user_app.command("revoke")
def user_revoke(
    user_id: Annotated[str, typer.Argument(help="sign-in name")],
    db: DbOption = None,
) -> None:
    """End a user's access at once: their API token stops working and their page sessions end."""
    from service.errors import ServiceError
    from service.transactions import utcnow
    from service.users import revoke_user

    services = _services(db)
    try:
        revoke_user(services, user_id=user_id, now=utcnow())
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, exc.message) from exc
    out.print(f"已吊销用户 {user_id} 的访问令牌并结束其全部登录会话")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    db: DbOption = None,
    workers: Annotated[int, typer.Option(min=0, max=16, help="worker processes deciding cases")] = 1,
) -> None:
    """Run the API, the approvers' pages and the workers together (GET /health answers once ready)."""
    import uvicorn

    from api.app import create_app
    from miaopi.worker import WorkerSupervisor

    try:
        settings = _service_settings(db)
        services = _services(db)
        supervisor = WorkerSupervisor(settings, processes=workers) if workers else None
        application = create_app(settings, services=services, supervisor=supervisor)
        # uvicorn shuts down cleanly on Ctrl-C (SIGINT) or SIGTERM, workers and engine processes included
        uvicorn.run(application, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        err.print("服务已停止（启动时收到 Ctrl-C）。", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    err.print("服务已停止。", highlight=False)


@app.command()
def worker(db: DbOption = None) -> None:
    """Decide queued cases until stopped (scale-out: run several beside `miaopi serve`)."""
    from miaopi.worker import run_worker

    _services(db).engine.dispose()  # migrate before taking work
    try:
        run_worker(_service_settings(db))
    except KeyboardInterrupt:
        # a case in hand is left with its lease: once the lease has expired another worker takes it
        err.print("工作进程已停止（Ctrl-C）。", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


@app.command()
def replay(case_id: Annotated[str, typer.Argument(help="case id")], db: DbOption = None) -> None:
    """Decide a case again from its recorded facts: exit 0 when the recorded decision is reproduced
    exactly; the output also says whether the version in force today would decide differently."""
    from service.errors import ServiceError
    from service.replay import replay as replay_case
    from service.transactions import utcnow

    services = _services(db)
    try:
        report = replay_case(services, case_id=case_id, now=utcnow())
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, exc.message) from exc
    sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    if not report["reproduced"]:
        raise fail(1, "重放结果与记录的决定不一致")


@audit_app.command("verify")
def audit_verify(db: DbOption = None) -> None:
    """Check the hash chain; exit 1 naming the first broken link."""
    from store.audit import verify

    services = _services(db)
    with services.sessions() as session:
        report = verify(session)
    if not report.ok:
        raise fail(
            1, f"审计链在第 {report.broken_at} 条断开：{report.problem}（之前 {report.events} 条完好）"
        )
    out.print(f"审计链完好：{report.events} 条事件")


from miaopi.bench import bench  # noqa: E402

app.command("bench")(bench)


if __name__ == "__main__":  # pragma: no cover
    app()
