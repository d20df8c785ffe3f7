"""What every use case that writes shares: the clock, the system actor, the write transaction and the
compare-and-set update.

Functions take keyword-only arguments and the caller's clock (`now`); each one that changes state does
so in one transaction together with its audit event, so a crash leaves either all of it or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

from store.db import SQLITE_BEGIN

if TYPE_CHECKING:
    from service.container import Services

SYSTEM = "system"


def changed(session: Session, statement: Any) -> int:
    """Run an UPDATE and return how many rows it changed (the compare-and-set outcome)."""
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return int(result.rowcount)


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def writing(services: Services) -> Iterator[Session]:
    """A transaction that reads, then writes on what it read (compare-and-set). On SQLite it begins
    IMMEDIATE, taking the write lock first: a deferred transaction whose snapshot went stale when another
    writer committed fails at once with "database is locked" instead of waiting for its turn."""
    bind = services.engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    with services.sessions(bind=bind) as session, session.begin():
        yield session
