"""The wiring: what the use cases need, built once per process (API, worker, engine process or CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.audit import AuditKey, load_key
from service.rulesets import RulesetCatalogue
from service.settings import Settings
from store.blobs import BlobStore
from store.registry import SqlRegistry


@dataclass
class Services:
    """What the use cases need, wired once per process (API, worker or CLI)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    registry: SqlRegistry = field(init=False)
    """The shared registries (one per process: it keeps its prepared statements)."""
    rulesets: RulesetCatalogue = field(init=False)
    """The published rulesets and their compiled programs (seeded from the ruleset folders)."""
    audit_key: AuditKey = field(init=False, repr=False)
    """The key signing the audit trail's head and checkpoints (settings.audit_key, or generated)."""

    def __post_init__(self) -> None:
        self.audit_key = load_key(self.settings)
        self.registry = SqlRegistry(self.engine)
        self.rulesets = RulesetCatalogue(
            self.settings.rulesets_dir, sessions=self.sessions, cache_s=self.settings.ruleset_cache_s
        )


def create_services(settings: Settings, *, migrate: bool = True) -> Services:
    """The services of one process: the registry declarations of the settings added to the
    catalogue (service/registries.py), the database migrated (with the declared registries' tables)
    unless `migrate` is false."""
    from service.registries import load_registries
    from store.db import create_engine_for, session_factory
    from store.migrate import upgrade

    load_registries(settings)
    engine = create_engine_for(settings.database_url)
    if migrate:
        upgrade(engine)
    files = Path(settings.files_dir)
    files.mkdir(parents=True, exist_ok=True)
    return Services(
        settings=settings, engine=engine, sessions=session_factory(engine), blobs=BlobStore(files)
    )
