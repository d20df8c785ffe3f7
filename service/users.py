"""Users: adding one, API tokens and password hashing, the user of a token or a sign-in name."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, InvalidRequest
from service.transactions import SYSTEM
from store import audit
from store.records import ROLES, User

if TYPE_CHECKING:
    from service.container import Services

__all__ = ["ROLES", "User", "add_user", "check_password", "hash_password", "hash_token", "user_by_token"]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_hex, _digest = stored.split("$")
    return secrets.compare_digest(hash_password(password, salt=bytes.fromhex(salt_hex)), stored)


def add_user(
    services: Services,
    *,
    user_id: str,
    display_name: str,
    role: str,
    department: str | None,
    password: str | None,
    token: str | None = None,
    now: datetime,
) -> tuple[User, str]:
    """Create a user; returns the user and their API token (shown once; only its hash is stored)."""
    if role not in ROLES:
        raise InvalidRequest(f"未知角色 {role!r}（可选：{'、'.join(ROLES)}）")
    if role == "approver" and not department:
        raise InvalidRequest("审批人员必须属于一个部门")
    token = token or secrets.token_urlsafe(24)
    user = User(
        id=user_id,
        display_name=display_name,
        role=role,
        department=department,
        token_sha256=hash_token(token),
        password_hash=hash_password(password) if password else None,
        created_at=now,
    )
    try:
        with services.sessions.begin() as session:
            session.add(user)
            session.flush()
            audit.append(
                session,
                actor=SYSTEM,
                action="user.created",
                subject=user_id,
                at=now,
                detail={"role": role, "department": department},
            )
    except IntegrityError:
        raise Conflict(f"用户 {user_id} 已存在") from None
    return user, token


def user_by_token(session: Session, token: str) -> User | None:
    return session.scalars(select(User).where(User.token_sha256 == hash_token(token))).first()


def user_by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)
