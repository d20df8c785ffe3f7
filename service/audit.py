"""The audit trail as the service offers it: the audit key, checking the chain (auditors and admins
through the API, operators at the command line), recording checkpoints (the worker, and cron through
`miaopi audit checkpoint`), and signing the head again after checking it.

The key signs the head and the checkpoints (store/audit.py). It comes from `MIAOPI_AUDIT_KEY`, kept
outside the database. When that is unset, a random key is generated once and kept in
`<files_dir>/audit.key`, and every start logs a warning: good for the demo and the tests, and still a
secret to someone who can only reach the database, but not to someone on the machine. A missing key
never means "unsigned": a key that differs from the one that signed makes verification fail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from service import access
from service.settings import Settings
from service.transactions import writing
from store import audit
from store.audit import ChainReport, CheckpointReport
from store.records import User

if TYPE_CHECKING:
    from service.container import Services

__all__ = [
    "AuditKey",
    "AuditKeyError",
    "ChainReport",
    "CheckpointReport",
    "checkpoint_path",
    "load_key",
    "record_checkpoint",
    "sign_head",
    "verify_chain",
    "verify_trail",
]

KEY_FILE = "audit.key"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
MIN_KEY_CHARS = 32

log = logging.getLogger("miaopi.audit")


class AuditKeyError(RuntimeError):
    """The generated key file exists but cannot be used."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)
    origin: str
    """`MIAOPI_AUDIT_KEY`, or the path of the generated key file."""
    generated: bool


def _create(path: Path) -> None:
    """Write a random key to `path` unless another process has just done so (theirs counts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # appears whole, or not at all
    finally:
        os.unlink(tmp)


def _read_or_create(path: Path) -> str:
    try:
        if not path.exists():
            _create(path)
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError(f"审计密钥文件 {path} 无法读取或创建：{exc}") from None
    if len(text) < MIN_KEY_CHARS:
        raise AuditKeyError(f"审计密钥文件 {path} 内容无效（不足 {MIN_KEY_CHARS} 个字符）")
    return text


def load_key(settings: Settings) -> AuditKey:
    """`MIAOPI_AUDIT_KEY`, or the key generated once in the files folder (with a warning)."""
    if settings.audit_key is not None:
        return AuditKey(settings.audit_key.encode("utf-8"), "MIAOPI_AUDIT_KEY", generated=False)
    path = Path(settings.files_dir) / KEY_FILE
    text = _read_or_create(path)
    log.warning(
        "MIAOPI_AUDIT_KEY is not set: the audit trail is signed with the key generated in %s, kept "
        "beside the data on this machine; a deployment sets MIAOPI_AUDIT_KEY",
        path,
    )
    return AuditKey(text.encode("ascii"), str(path), generated=True)


def checkpoint_path(settings: Settings) -> Path:
    return settings.audit_checkpoint_file or Path(settings.files_dir) / CHECKPOINT_FILE


@contextlib.contextmanager
def _snapshot(services: Services) -> Iterator[Session]:
    """A read-only session that sees one state of the database throughout (REPEATABLE READ on
    PostgreSQL; a SQLite read transaction is a snapshot already)."""
    bind = services.engine
    if bind.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="REPEATABLE READ")
    with services.sessions(bind=bind) as session, session.begin():
        yield session


def verify_trail(services: Services, *, checkpoint_file: Path | None = None) -> ChainReport:
    """Check the chain, the head's signature and every checkpoint of the table and of the checkpoint
    file (the configured one, or `checkpoint_file`, e.g. a copy kept off the machine)."""
    with _snapshot(services) as session:
        return audit.verify(
            session,
            key=services.audit_key.secret,
            checkpoint_file=checkpoint_file or checkpoint_path(services.settings),
        )


def verify_chain(services: Services, *, user: User) -> ChainReport:
    """Check the trail for an auditor or an admin; names the first event that cannot be trusted."""
    access.check_audit(user)
    return verify_trail(services)


def record_checkpoint(services: Services, *, now: datetime) -> CheckpointReport:
    """Record a checkpoint of the committed head, if it moved since the last one: the head's signature
    and the events since the last checkpoint are checked first; the line goes to the checkpoint file,
    then the row to the table. A problem is reported, and nothing recorded."""
    path = checkpoint_path(services.settings)
    with _snapshot(services) as session:
        report = audit.prepare_checkpoint(
            session, key=services.audit_key.secret, checkpoint_file=path, now=now
        )
    if report.checkpoint is not None:
        audit.append_checkpoint_file(path, report.checkpoint)
        with writing(services) as session:
            audit.record_checkpoint(session, report.checkpoint)
    return report


def sign_head(services: Services) -> ChainReport:
    """Sign the head with this key after checking the events and the checkpoints (everything but the
    head's own signature). For a trail written before signing existed, or after a wrong key was used."""
    with writing(services) as session:
        return audit.sign_head(
            session, key=services.audit_key.secret, checkpoint_file=checkpoint_path(services.settings)
        )
