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


def _declared_registries() -> None:
    """Add the registry declarations of the settings (MIAOPI_REGISTRIES_DIR, the item folders'
    registries/) to the catalogue; an invalid one ends the command naming its file and line."""
    from service.registries import load_registries

    try:
        load_registries(get_settings())
    except RulesetError as exc:
        raise exit_for(exc) from exc


def _open_registry(db: str | None, *, create: bool) -> Any:
    """An engine for the database; refuses to create an empty SQLite file when only reading."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from store.db import create_engine_for
    from store.errors import StoreError
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
    except StoreError as exc:  # a declaration its existing table cannot take
        raise exit_for(exc) from exc
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
    """Load a folder of shared-data CSVs in one transaction (idempotent); files are streamed. A registry
    not declared yet is declared by DIR/<name>.yaml beside its CSV (docs/architecture.md §8)."""
    from store.loader import DEFAULT_MAX_DELETE_SHARE, load_directory

    if not directory.is_dir():
        raise fail(EXIT_BAD_INPUT, f"不是文件夹：{directory}")
    _declared_registries()
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


@data_app.command("registries")
def data_registries() -> None:
    """List the declared registries: name, Chinese title, columns, key and the declaration's file."""
    _declared_registries()
    from engine.registries import REGISTRIES

    table = Table(title="共享数据库（声明见 docs/architecture.md 第 8 节）")
    for col in ("registry", "名称", "列", "记录键", "声明文件"):
        table.add_column(col)
    for name, registry in REGISTRIES.items():
        columns = "、".join(
            f"{c.title}（{c.name}）" + ("［个人信息］" if c.personal else "") for c in registry.columns
        )
        table.add_row(name, registry.title, columns, ", ".join(registry.key), registry.source)
    out.print(table)


@data_app.command("show")
def data_show(
    registry: Annotated[str, typer.Argument(help="registry name, e.g. population")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="rows shown (in key order)")] = 20,
    db: DbOption = None,
) -> None:
    """Show the first rows of a registry under its column titles, codes as their labels and personal
    columns masked."""
    from engine.expr import suggest
    from engine.registries import REGISTRIES
    from service.masking import mask_record
    from store.errors import StoreError
    from store.registry import SqlRegistry

    _declared_registries()
    spec = REGISTRIES.get(registry)
    if spec is None:
        hint = suggest(registry, list(REGISTRIES))
        raise fail(EXIT_BAD_INPUT, f"未知的共享数据库 {registry!r}" + (f"，{hint}" if hint else ""))
    engine = _open_registry(db, create=False)
    try:
        total, rows = SqlRegistry(engine).head(registry, limit=limit)
    except StoreError as exc:
        raise exit_for(exc) from exc
    table = Table(title=f"{spec.title}（{registry}）：共 {total} 行，显示前 {len(rows)} 行（个人信息已遮蔽）")
    for column in spec.columns:
        table.add_column(column.title or column.name)
    for row in rows:
        shown = mask_record(spec, {c.name: c.label(row[c.name]) for c in spec.columns})
        table.add_row(*("" if v is None else str(v) for v in shown.values()))
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

    _declared_registries()
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
    from service.rulesets import RulesetCatalogue, document_kinds

    settings = get_settings()
    kinds = document_kinds(RulesetCatalogue(settings.rulesets_dir)).kinds
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

    _declared_registries()
    # a ruleset folder or file as given, or every ruleset folder of a rulesets root
    folders = [ruleset_dir]
    if ruleset_dir.is_dir() and not (ruleset_dir / RULESET_FILE).is_file():
        folders = sorted(p for p in ruleset_dir.iterdir() if (p / RULESET_FILE).is_file())
    bad = 0
    for folder in folders:
        try:
            program = load_program(folder)
        except RulesetError as exc:
            for each in exc.every:  # the type check lists every error of the file at once
                err.print(f"[red]✗[/] {each.located()}", highlight=False, soft_wrap=True)
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

    _declared_registries()
    try:
        program = RulesetCatalogue(get_settings().rulesets_dir).get(item)
    except ApprovalError as exc:
        raise exit_for(exc) from exc
    sys.stdout.write(render_guide(program) + "\n")


@app.command("test")
def test_rulesets(
    ruleset_dir: Annotated[Path, typer.Argument(help="ruleset folder (e.g. rulesets/deed-tax)")],
    samples: Annotated[
        Path | None, typer.Option(help="golden cases folder (default DIR/tests, else samples/<item>)")
    ] = None,
    shared: Annotated[
        Path | None,
        typer.Option(help="shared-data CSV folder (default DIR/tests/shared-data, else samples/shared-data)"),
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="run only this golden case")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="every case's conditions with their values")
    ] = False,
    require_full_coverage: Annotated[
        bool, typer.Option(help="fail unless every condition passes and fails")
    ] = False,
) -> None:
    """Run a ruleset's golden cases: pass/fail per case, for a failing case what was expected and what
    came out and why, coverage per condition and per decision-table row. Exit 1 on a failing case, or
    (with --require-full-coverage) on a condition not seen both passing and failing."""
    from service.golden import SharedDataError, golden_case_ids, golden_folders, run_golden_on_own_data
    from service.rulesets import load_program

    _declared_registries()
    try:
        program = load_program(ruleset_dir)
    except RulesetError as exc:
        raise exit_for(exc) from exc
    folder = ruleset_dir if ruleset_dir.is_dir() else ruleset_dir.parent
    found_samples, found_shared = golden_folders(
        program.item, ruleset_folder=folder, samples_dir=get_settings().samples_dir
    )
    samples = samples or found_samples
    shared = shared or (found_shared if samples == found_samples else samples.parent / "shared-data")
    if not (samples / "expected.json").is_file():
        raise fail(
            EXIT_BAD_INPUT,
            f"{samples} 中没有 expected.json（黄金案例放在 {folder / 'tests'} 或 --samples 指定）",
        )
    if case is not None and case not in (ids := golden_case_ids(samples)):
        from engine.expr import suggest

        hint = suggest(case, ids)
        raise fail(EXIT_BAD_INPUT, f"没有黄金案例 {case!r}" + (f"，是否想写 {hint!r}？" if hint else ""))
    try:
        report = run_golden_on_own_data(program, samples, shared=shared, only=case)
    except SharedDataError as exc:
        raise exit_for(exc.original) from exc.original
    table = Table(title=f"{program.item} {program.ruleset.version}: 黄金案例（{samples}）")
    for col in ("case", "result", "outcome", "detail"):
        table.add_column(col)
    for r in report.results:
        outcome = r.decision.outcome if r.decision else ("refused" if r.ok else "—")  # refused: not decided
        detail = "; ".join(r.problems) if r.problems else r.title
        table.add_row(r.case_id, "[green]PASS[/]" if r.ok else "[red]FAIL[/]", outcome, detail)
    out.print(table)
    for r in report.results:
        if r.decision is None or (r.ok and not verbose):
            continue
        # why it came out as it did: the conditions that did not pass (all of them with --verbose)
        out.print(f"[bold]{r.case_id}[/] {r.title}：结论 {r.decision.outcome}")
        for c in r.decision.conditions:
            if c.status == "pass" and not verbose:
                continue
            colour = {"pass": "green", "fail": "red"}.get(c.status, "yellow")
            values = "，".join(f"{k} = {v!r}" for k, v in c.values.items())
            out.print(f"  [{colour}]{c.status}[/] {c.id}（{c.title}）{values}", highlight=False)
        for m in r.decision.missing_materials:
            out.print(f"  [yellow]缺少材料[/] {m.id}（{m.title}）", highlight=False)
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
    if report.table_rows:
        rows = Table(title="决策表行覆盖 (table rows hit)")
        for col in ("table", "row", "cases"):
            rows.add_column(col)
        for name, hits in report.table_rows.items():
            for i, n in enumerate(hits):
                rows.add_row(name, str(i + 1), str(n) if n else "[yellow]0[/]")
        out.print(rows)
    out.print(f"{report.passed} passed, {report.failed} failed")
    out.print(
        f"coverage: {report.coverage_ratio:.0%} of {len(report.coverage)} conditions seen passing and failing"
    )
    if report.unhit_rows:
        out.print(f"未被任何案例命中的决策表行：{'、'.join(report.unhit_rows)}")
    if report.failed:
        raise typer.Exit(1)
    if require_full_coverage and report.uncovered and case is None:
        out.print(
            "[red]所有案例通过，但覆盖不全[/]：以下条件未见既通过又不通过的案例——"
            + "、".join(report.uncovered)
        )
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

    from service.audit import AuditKeyError
    from service.container import create_services
    from store.errors import StoreError

    try:
        return create_services(_service_settings(db))
    except (RulesetError, StoreError) as exc:  # a registry declaration: invalid, or not for its table
        raise exit_for(exc) from exc
    except SQLAlchemyError as exc:
        raise fail(EXIT_ENVIRONMENT, f"无法连接或升级数据库：{exc.__class__.__name__}: {exc}") from exc
    except AuditKeyError as exc:
        raise fail(EXIT_ENVIRONMENT, str(exc)) from exc


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
    subject_id: Annotated[
        str | None,
        typer.Option(
            help="applicants: the subject the account acts for, a person's ID number or an "
            "enterprise's unified social credit code (without one the account cannot submit)"
        ),
    ] = None,
    acting_id: Annotated[
        str | None,
        typer.Option(help="enterprise accounts: the ID number of the person acting for the enterprise"),
    ] = None,
    agent: Annotated[
        bool,
        typer.Option(
            help="enterprise accounts: the acting person is an agent the enterprise authorised, not "
            "its 法定代表人 in the enterprise registry"
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a user and print their API token (shown once)."""
    from service.errors import ServiceError
    from service.transactions import utcnow
    from service.users import add_user, subject_for

    services = _services(db)
    try:
        if subject_id is None and (acting_id is not None or agent):
            raise fail(EXIT_BAD_INPUT, "--acting-id 与 --agent 须与 --subject-id 一起使用")
        subject = (
            subject_for(services, subject_id=subject_id, acting_id=acting_id, agent=agent)
            if subject_id is not None
            else None
        )
        _user, token = add_user(
            services,
            user_id=user_id,
            display_name=name,
            role=role,
            department=department,
            password=password,
            subject=subject,
            now=utcnow(),
        )
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, exc.message) from exc
    out.print(token)


@user_app.command("bind")
def user_bind(
    user_id: Annotated[str, typer.Argument(help="sign-in name of an existing applicant account")],
    subject_id: Annotated[
        str,
        typer.Option(
            help="the subject the account acts for: a person's ID number, or an enterprise's unified "
            "social credit code"
        ),
    ],
    acting_id: Annotated[
        str | None,
        typer.Option(help="enterprise accounts: the ID number of the person acting for the enterprise"),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="enterprise accounts: how the acting person acts, legal_representative (法定代表人, "
            "checked against the enterprise registry; the default) or agent (经办人 the enterprise "
            "authorised)",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Bind an existing applicant account to its subject (replacing the one it had), checked as
    `user add --subject-id` checks it."""
    from service.errors import ServiceError
    from service.masking import mask_id
    from service.transactions import utcnow
    from service.users import bind_subject, subject_for

    if role is not None and role not in ("legal_representative", "agent"):
        raise fail(
            EXIT_BAD_INPUT,
            f"--as 只能是 legal_representative（法定代表人）或 agent（经办人）/ --as must be "
            f"legal_representative or agent, not {role!r}",
        )
    services = _services(db)
    try:
        subject = subject_for(services, subject_id=subject_id, acting_id=acting_id, agent=role == "agent")
        user = bind_subject(services, user_id=user_id, subject=subject, now=utcnow())
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, f"{exc.message} / cannot bind {user_id}: {exc.code}") from exc
    what = "个人" if user.subject_kind == "person" else "企业"
    shown = mask_id(user.subject_id or "") if user.subject_kind == "person" else user.subject_id
    acting = {"legal_representative": "，由法定代表人办理", "agent": "，由经办人受托办理"}.get(
        user.acting_as or "", ""
    )
    out.print(f"已将用户 {user_id} 绑定到{what}申请主体 {shown}{acting}", highlight=False)


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


@app.command("settings")
def show_settings() -> None:
    """Print every setting (MIAOPI_* variables or .env): the value in force, its default and meaning."""
    from service.settings import effective, reference

    table = Table("variable", "in force", "default", "meaning")
    for (var, shown, default), (_var, _default, meaning) in zip(
        effective(get_settings()), reference(), strict=True
    ):
        table.add_row(var, shown, default, meaning)
    out.print(table)


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
        uvicorn.run(
            application,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
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
def replay(
    case_id: Annotated[str, typer.Argument(help="case id")],
    db: DbOption = None,
    round_: Annotated[
        int | None,
        typer.Option(
            "--round", min=1, help="the round of a corrected case (补正) to replay; default the latest"
        ),
    ] = None,
) -> None:
    """Decide a case again from its recorded facts: exit 0 when the recorded decision is reproduced
    exactly; the output also says whether the version in force today would decide differently."""
    from service.errors import ServiceError
    from service.replay import replay as replay_case
    from service.transactions import utcnow

    services = _services(db)
    try:
        report = replay_case(services, case_id=case_id, now=utcnow(), round=round_)
    except ServiceError as exc:
        raise fail(EXIT_BAD_INPUT, exc.message) from exc
    sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    if not report["reproduced"]:
        raise fail(1, "重放结果与记录的决定不一致")


OUTCOME_LABELS = {
    "approved": "准予",
    "rejected": "不予",
    "returned": "退回补正",
    "review": "人工审核",
    "invalid": "表单不符",
}


@app.command("diff")
def diff(
    item: Annotated[str, typer.Argument(help="item id, e.g. deed-tax")],
    candidate: Annotated[Path, typer.Option("--candidate", help="folder (or file) of the candidate ruleset")],
    since: Annotated[
        str | None, typer.Option(help="only decisions taken on or after this date (YYYY-MM-DD)")
    ] = None,
    processes: Annotated[int, typer.Option(min=1, max=16, help="worker processes")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON on stdout")] = False,
    db: DbOption = None,
) -> None:
    """What a candidate version would change: the recorded decisions of ITEM replayed from their facts
    under the candidate, as a table of outcome changes, output changes and condition changes."""
    from datetime import date, datetime, time

    from rich.progress import Progress

    from engine.case import CHINA_TZ
    from service.errors import ServiceError
    from service.impact import count_recorded, impact
    from service.registries import REGISTRIES_FOLDER, add_folder
    from service.rulesets import RULESET_FILE

    path = candidate / RULESET_FILE if candidate.is_dir() else candidate
    if not path.is_file():
        raise fail(EXIT_BAD_INPUT, f"找不到候选规则集文件 {path}")
    _declared_registries()
    try:
        add_folder(path.parent / REGISTRIES_FOLDER)  # the registries the candidate's folder declares
    except RulesetError as exc:
        raise exit_for(exc) from exc
    try:
        start = datetime.combine(date.fromisoformat(since), time(), tzinfo=CHINA_TZ) if since else None
    except ValueError as exc:
        raise fail(EXIT_BAD_INPUT, f"--since 应为日期 YYYY-MM-DD，收到 {since!r}") from exc
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise fail(EXIT_BAD_INPUT, f"候选规则集 {path} 不是 UTF-8 编码") from exc
    services = _services(db)
    total = count_recorded(services, item=item, since=start)
    with Progress(console=err, transient=True, disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("重放已记录的决定", total=total)
        try:
            report = impact(
                services,
                item=item,
                candidate_text=text,
                candidate_source=str(path),
                since=start,
                processes=processes,
                progress=lambda n: bar.advance(task, n),
            )
        except ServiceError as exc:
            raise fail(EXIT_BAD_INPUT, exc.message) from exc
        except RulesetError as exc:
            raise exit_for(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(report.to_json_dict(), ensure_ascii=False, indent=1) + "\n")
        return
    out.print(
        f"{item}：候选版本 {report.candidate_version}（sha256 {report.candidate_sha256[:12]}）重放 "
        f"{report.decisions} 件已记录的决定，可比较 {report.compared} 件，结论改变 {report.changed} 件，"
        f"用时 {report.elapsed_s:.1f} 秒"
    )
    if report.recorded_versions:
        versions = "，".join(f"{v} {n} 件" for v, n in report.recorded_versions.most_common())
        out.print(f"记录的决定所用版本：{versions}")
    table = Table("记录的结论", "候选版本的结论", "件数", "案件（举例）", title="结论变化")
    for (old, new), cell in sorted(report.outcomes.items(), key=lambda kv: (kv[0][0] == kv[0][1], kv[0])):
        mark = "" if old == new else "[bold]"
        table.add_row(
            OUTCOME_LABELS.get(old, old),
            f"{mark}{OUTCOME_LABELS.get(new, new)}",
            str(cell.count),
            "、".join(cell.cases[:5]) + ("…" if cell.count > 5 else "") if old != new else "",
        )
    out.print(table)
    if report.outputs:
        outputs = Table("输出", "改变件数", "记录合计", "候选合计", "举例", title="输出变化")
        for key, change in sorted(report.outputs.items()):
            case, before, after = change.examples[0]
            outputs.add_row(
                report.titles.get(key, key),
                str(change.cell.count),
                str(change.before) if change.numeric else "—",
                str(change.after) if change.numeric else "—",
                f"{case}: {before} → {after}",
            )
        out.print(outputs)
    if report.conditions:
        conditions = Table("条件", "记录", "候选", "件数", title="条件结果变化")
        for cid, moves in sorted(report.conditions.items()):
            for (old, new), n in sorted(moves.items()):
                conditions.add_row(report.titles.get(cid, cid), old, new, str(n))
        out.print(conditions)
    if report.not_comparable.count:
        out.print(
            f"[yellow]无法比较 {report.not_comparable.count} 件[/]"
            f"（举例：{'、'.join(report.not_comparable.cases[:5])}）："
        )
        for reason, n in report.not_comparable_reasons.most_common():
            out.print(f"  {reason}：{n} 件")


CheckpointsOption = Annotated[
    Path | None,
    typer.Option(
        "--checkpoints",
        help="checkpoint file to hold the chain to, e.g. a copy kept off the machine "
        "(default: MIAOPI_AUDIT_CHECKPOINT_FILE, or audit-checkpoints.jsonl in the files folder)",
    ),
]


def _key_note(services: Any) -> None:
    if services.audit_key.generated:
        err.print(
            f"注意：未设置 MIAOPI_AUDIT_KEY，审计链使用本机生成的密钥 {services.audit_key.origin} 签名；"
            "正式部署请设置 MIAOPI_AUDIT_KEY，并将密钥保存在数据库和本机数据目录之外",
            highlight=False,
            soft_wrap=True,
        )


def _not_trusted(report: Any) -> str:
    if report.broken_at is None:
        return f"审计链校验未通过：{report.problem}"
    return f"审计链在第 {report.broken_at} 条处校验未通过：{report.problem}（之前 {report.events} 条完好）"


@audit_app.command("verify")
def audit_verify(db: DbOption = None, checkpoints: CheckpointsOption = None) -> None:
    """Check the hash chain, the head's signature and every checkpoint (table and file); exit 1 naming
    the first event that cannot be trusted."""
    from service.audit import verify_trail

    if checkpoints is not None and not checkpoints.is_file():
        raise fail(EXIT_BAD_INPUT, f"检查点文件不存在：{checkpoints}")
    services = _services(db)
    _key_note(services)
    report = verify_trail(services, checkpoint_file=checkpoints)
    if not report.ok:
        raise fail(1, _not_trusted(report))
    if report.events == 0:
        out.print("审计链为空")
        return
    out.print(f"审计链完好：{report.events} 条事件，链尾签名有效，{report.checkpoints} 个检查点相符")


@audit_app.command("checkpoint")
def audit_checkpoint(db: DbOption = None) -> None:
    """Record a signed checkpoint of the committed head in the checkpoint file and the table, after
    checking the head's signature and the events since the last checkpoint (run it from cron); exit 1
    when that check fails, and nothing is recorded."""
    from service.audit import checkpoint_path, record_checkpoint
    from service.transactions import utcnow

    services = _services(db)
    _key_note(services)
    report = record_checkpoint(services, now=utcnow())
    if not report.ok:
        raise fail(1, f"未记录检查点：{report.problem}")
    if report.checkpoint is not None:
        out.print(
            f"已记录检查点：第 {report.seq} 条（哈希 {report.checkpoint.hash[:16]}…），"
            f"写入 {checkpoint_path(services.settings)} 和检查点表；核查了其后的 {report.verified} 条事件",
            highlight=False,
            soft_wrap=True,
        )
    elif report.seq:
        out.print(f"上一检查点之后没有新事件（链尾第 {report.seq} 条），未记录新的检查点")
    else:
        out.print("审计链为空，未记录检查点")


@audit_app.command("sign-head")
def audit_sign_head(db: DbOption = None) -> None:
    """Sign the head with the audit key after checking the events and every checkpoint (for a trail
    written before heads were signed, or left unsigned while a wrong key was in use), then record a
    checkpoint; exit 1 when the check fails, and nothing is signed."""
    from service.audit import record_checkpoint, sign_head
    from service.transactions import utcnow

    services = _services(db)
    _key_note(services)
    report = sign_head(services)
    if not report.ok:
        raise fail(1, f"未签名：{_not_trusted(report)}")
    checkpoint = record_checkpoint(services, now=utcnow())
    if not checkpoint.ok:
        raise fail(1, f"已为链尾签名，但未记录检查点：{checkpoint.problem}")
    out.print(
        f"已为链尾签名（第 {checkpoint.seq} 条）：{report.events} 条事件完好，"
        f"{report.checkpoints} 个检查点相符"
    )


from miaopi.bench import bench  # noqa: E402

app.command("bench")(bench)


if __name__ == "__main__":  # pragma: no cover
    app()
