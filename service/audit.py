"""The audit trail as the service offers it: checking the hash chain (auditors and admins)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service import access
from store import audit
from store.audit import ChainReport
from store.records import User

__all__ = ["ChainReport", "verify_chain"]


def verify_chain(session: Session, *, user: User) -> ChainReport:
    """Check the chain; names the first edited, deleted or reordered event."""
    access.check_audit(user)
    return audit.verify(session)
