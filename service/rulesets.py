"""The one catalogue of rulesets: the folders under `rulesets/` and the versions published in the
database, compiled once per content hash.

Without a database (the CLI's `decide`, `guide`, `lint`, tests and benchmarks) the catalogue reads the
folders; with one (the service) the version in force is the latest published one whose effective time
has come, the folders being published on first start (`seed_rulesets`). Publishing runs the item's
golden cases first (service/golden.py), on their own shared data.

`RulesetCatalogue.get(item)` is the ruleset loader the decision needs (`item -> Program`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import RulesetError, UnknownItemError
from engine.expr import suggest
from engine.model import DocField, Ruleset
from engine.program import Program, build_program
from service import access
from service.errors import Conflict, InvalidRequest, NotFound
from service.registries import REGISTRIES_FOLDER, add_folder
from service.transactions import SYSTEM, utcnow, writing
from store import audit
from store.records import RulesetVersion, User

if TYPE_CHECKING:
    from service.container import Services

log = logging.getLogger("miaopi.workflow")

RULESET_FILE = "ruleset.yaml"


class RulesetLoader(Protocol):
    """Where the decision of a case gets its compiled ruleset from."""

    def get(self, item: str) -> Program: ...


def load_program(folder: Path) -> Program:
    """Compile the ruleset in `folder` (or a ruleset file given directly), after adding the registries
    the folder declares in its `registries/` (service/registries.py) to the catalogue."""
    path = folder / RULESET_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise RulesetError(f"找不到规则集文件 {path}")
    add_folder(path.parent / REGISTRIES_FOLDER)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RulesetError("规则集文件不是 UTF-8 编码", source=str(path)) from exc
    return build_program(text, source=str(path))


class RulesetCatalogue:
    """Rulesets by item id, compiled once and cached: from the folders under `root`, or, given the
    database's sessions, the versions published there."""

    def __init__(
        self, root: Path, *, sessions: sessionmaker[Session] | None = None, cache_s: float = 2.0
    ) -> None:
        self.root = root
        self.sessions = sessions
        self.cache_s = cache_s
        self.programs: dict[str, Program] = {}
        """Compiled rulesets by content hash."""
        self._folders: dict[str, Program] = {}
        self._published: dict[str, tuple[float, list[tuple[datetime, int, RulesetVersion]]]] = {}

    # -- the folders -----------------------------------------------------------------------------------
    def items(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / RULESET_FILE).is_file())

    def folder_program(self, item: str) -> Program:
        if item not in self._folders:
            items = self.items()
            if item not in items:
                raise UnknownItemError(
                    f"未知事项 {item!r}（可选：{', '.join(items)}）",
                    path="item",
                    suggestion=suggest(item, items),
                )
            program = load_program(self.root / item)
            if program.item != item:
                raise RulesetError(
                    f"文件夹名 {item!r} 与规则集 item.id {program.item!r} 不一致", source=program.source
                )
            self._folders[item] = program
        return self._folders[item]

    def get(self, item: str) -> Program:
        """The program of `item`: the version in force now when there is a database, else the folder's."""
        if self.sessions is None:
            return self.folder_program(item)
        with self.sessions() as session:
            return self.current(session, item=item, at=utcnow())

    # -- the published versions ------------------------------------------------------------------------
    def current(self, session: Session, *, item: str, at: datetime) -> Program:
        """The program in force for `item` at `at`, from a short-lived cache of the published versions
        (settings.ruleset_cache_s): for the request path; workers read the database each time."""
        cached = self._published.get(item)
        if cached is None or time.monotonic() - cached[0] > self.cache_s:
            rows = session.scalars(
                select(RulesetVersion).where(
                    RulesetVersion.item == item, RulesetVersion.status == "published"
                )
            ).all()
            cached = (
                time.monotonic(),
                sorted(((r.effective_from, r.id, r) for r in rows), key=lambda x: x[:2]),
            )
            self._published[item] = cached
        in_force = [r for eff, _id, r in cached[1] if eff <= at]
        if not in_force:
            return self.program_for(active_version(session, item=item, at=at))  # raises the full error
        return self.program_for(in_force[-1])

    def program_for(self, version: RulesetVersion) -> Program:
        program = self.programs.get(version.sha256)
        if program is None:
            # published content passed the checks in force when it was published: it is not type-checked
            # again, so that the cases received and the decisions recorded under it still decide and replay
            program = build_program(
                version.content, source=f"{version.item}@{version.version}", typecheck=False
            )
            self.programs[version.sha256] = program
        return program

    def by_sha(self, session: Session, sha: str | None) -> Ruleset | None:
        """The ruleset of a recorded hash, or None."""
        if sha is None:
            return None
        version = session.scalars(select(RulesetVersion).where(RulesetVersion.sha256 == sha)).first()
        return self.program_for(version).ruleset if version else None

    def in_force(self, session: Session, *, item: str, at: datetime) -> Ruleset | None:
        """The ruleset of `item` in force at `at`, or None when there is none."""
        try:
            return self.program_for(active_version(session, item=item, at=at)).ruleset
        except Exception:
            return None


class DocumentKinds(NamedTuple):
    """What the rulesets declare of their documents, for reading one without a case (`miaopi extract`,
    the extraction benchmarks and tests): each kind's fields and other labels, from the first ruleset
    that declares the kind, and the lowest confidence threshold of all."""

    kinds: dict[str, tuple[dict[str, DocField], list[str]]]
    threshold: float


def document_kinds(catalogue: RulesetCatalogue) -> DocumentKinds:
    kinds: dict[str, tuple[dict[str, DocField], list[str]]] = {}
    threshold = 1.0
    for item in catalogue.items():
        ruleset = catalogue.get(item).ruleset
        threshold = min(threshold, float(ruleset.confidence_threshold))
        for m in ruleset.materials:
            if m.document_kind and m.fields:
                kinds.setdefault(m.document_kind, (m.fields, list(m.other_labels)))
    return DocumentKinds(kinds, threshold)


def active_version(session: Session, *, item: str, at: datetime) -> RulesetVersion:
    """The version of `item` in force at `at`: the latest published one whose effective time has come."""
    row = session.scalars(
        select(RulesetVersion)
        .where(
            RulesetVersion.item == item,
            RulesetVersion.status == "published",
            RulesetVersion.effective_from <= at,
        )
        .order_by(RulesetVersion.effective_from.desc(), RulesetVersion.id.desc())
        .limit(1)
    ).first()
    if row is None:
        items = sorted(set(session.scalars(select(RulesetVersion.item).distinct())))
        if item in items:
            raise UnknownItemError(f"事项 {item!r} 在 {at.isoformat()} 尚无生效的规则集版本", path="item")
        raise UnknownItemError(
            f"未知事项：{item!r}（可选：{', '.join(items)}）", path="item", suggestion=suggest(item, items)
        )
    return row


def seed_rulesets(services: Services, *, now: datetime) -> list[str]:
    """Publish every ruleset folder whose content is not yet in the database (first start, upgrades
    shipped with the code). Returns 'item@version' of what was added."""
    added = []
    root = services.settings.rulesets_dir
    with services.sessions.begin() as session:
        known = set(session.scalars(select(RulesetVersion.sha256)))
        for folder in sorted(p for p in root.iterdir() if (p / RULESET_FILE).is_file()):
            content = (folder / RULESET_FILE).read_text(encoding="utf-8")
            program = build_program(content, source=str(folder / RULESET_FILE))
            if program.sha256 in known:
                continue
            exists = session.scalars(
                select(RulesetVersion).where(
                    RulesetVersion.item == program.item, RulesetVersion.version == program.ruleset.version
                )
            ).first()
            if exists is not None:
                log.warning(
                    "ruleset %s@%s on disk differs from the published one; not re-published",
                    program.item,
                    program.ruleset.version,
                )
                continue
            _insert_version(
                session,
                key=services.audit_key.secret,
                program=program,
                content=content,
                effective_from=now,
                actor=SYSTEM,
                now=now,
            )
            services.rulesets.programs[program.sha256] = program
            added.append(f"{program.item}@{program.ruleset.version}")
    return added


def _insert_version(
    session: Session,
    *,
    key: bytes,
    program: Program,
    content: str,
    effective_from: datetime,
    actor: str,
    now: datetime,
) -> RulesetVersion:
    row = RulesetVersion(
        item=program.item,
        version=program.ruleset.version,
        sha256=program.sha256,
        content=content,
        effective_from=effective_from,
        status="published",
        published_by=actor,
        published_at=now,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        key=key,
        actor=actor,
        action="ruleset.published",
        subject=f"{program.item}@{program.ruleset.version}",
        at=now,
        detail={"sha256": program.sha256, "effective_from": effective_from.isoformat()},
    )
    return row


def list_rulesets(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    rows = session.scalars(select(RulesetVersion).order_by(RulesetVersion.item, RulesetVersion.id)).all()
    items: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = items.setdefault(r.item, {"item": r.item, "active": None, "versions": []})
        entry["versions"].append(
            {
                "version": r.version,
                "sha256": r.sha256,
                "status": r.status,
                "effective_from": r.effective_from.isoformat(),
                "published_by": r.published_by,
                "published_at": r.published_at.isoformat(),
            }
        )
    for item, entry in items.items():
        try:
            entry["active"] = active_version(session, item=item, at=now).version
        except UnknownItemError:
            entry["active"] = None
    return list(items.values())


def publish_ruleset(
    services: Services,
    *,
    user: User,
    content: str,
    effective_from: datetime | None,
    now: datetime,
    golden: Callable[[Program], list[str]] | None = None,
) -> RulesetVersion:
    """Publish a new version. Refused unless it compiles and its item's golden cases all pass
    (`golden(program) -> list[str]` returns the failures; the default runs samples/<item> on the
    golden cases' own shared data, as `miaopi test` does)."""
    access.check_publish(user)
    try:
        program = build_program(content, source="upload")
    except RulesetError as exc:
        raise InvalidRequest(f"规则集无法编译：{exc}", problems=[e.to_dict() for e in exc.every]) from exc
    failures = (golden or _run_golden(services))(program)
    if failures:
        raise Conflict(
            f"规则集 {program.item}@{program.ruleset.version} 未通过样例案件测试"
            f"（{len(failures)} 项），不予发布",
            problems=[{"path": "golden", "message": f} for f in failures[:50]],
        )
    with writing(services) as session:
        dup = session.scalars(
            select(RulesetVersion).where(
                RulesetVersion.item == program.item, RulesetVersion.version == program.ruleset.version
            )
        ).first()
        if dup is not None:
            raise Conflict(f"版本 {program.item}@{program.ruleset.version} 已发布，请使用新的版本号")
        known_items = set(session.scalars(select(RulesetVersion.item).distinct()))
        if program.item not in known_items:
            access.check_new_item(user)
        when = effective_from or now
        if when.tzinfo is None:
            raise InvalidRequest(
                "生效时间须带时区", problems=[{"path": "effective_from", "message": "缺少时区"}]
            )
        row = _insert_version(
            session,
            key=services.audit_key.secret,
            program=program,
            content=content,
            effective_from=when,
            actor=user.id,
            now=now,
        )
    services.rulesets.programs[program.sha256] = program
    return row


def _run_golden(services: Services) -> Callable[[Program], list[str]]:
    def run(program: Program) -> list[str]:
        from service.golden import SharedDataError, golden_folders, run_golden_on_own_data

        samples, shared = golden_folders(
            program.item,
            ruleset_folder=services.settings.rulesets_dir / program.item,
            samples_dir=services.settings.samples_dir,
        )
        if not (samples / "expected.json").is_file():
            return [f"事项 {program.item} 没有样例案件（{samples}/expected.json）"]
        try:
            report = run_golden_on_own_data(program, samples, shared=shared)
        except SharedDataError as exc:
            return [f"样例案件的共享数据无法载入：{exc.original}"]
        return [f"{r.case_id}: {'；'.join(r.problems)}" for r in report.results if not r.ok]

    return run


def rollback_ruleset(services: Services, *, user: User, item: str, now: datetime) -> RulesetVersion:
    """Withdraw the version in force; the previous one takes over at once. An item never published is
    not found; one without a version in force has nothing to withdraw (a conflict)."""
    access.check_publish(user)
    with writing(services) as session:
        try:
            current = active_version(session, item=item, at=now)
        except UnknownItemError as exc:
            if session.scalars(select(RulesetVersion.id).where(RulesetVersion.item == item)).first() is None:
                raise NotFound(f"没有事项 {item}") from exc
            raise Conflict(f"事项 {item} 尚无生效的规则集版本，无法回滚") from exc
        previous = session.scalars(
            select(RulesetVersion).where(
                RulesetVersion.item == item,
                RulesetVersion.status == "published",
                RulesetVersion.effective_from <= now,
                RulesetVersion.id != current.id,
            )
        ).first()
        if previous is None:
            raise Conflict(f"事项 {item} 只有一个生效版本，无法回滚")
        current.status = "rolled_back"
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user.id,
            action="ruleset.rolled_back",
            subject=f"{item}@{current.version}",
            at=now,
        )
        session.flush()
        return active_version(session, item=item, at=now)
