"""Users: adding one, API tokens and password hashing, the user of a token or a sign-in name."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.identifiers import credit_code_problem, id_number_problem
from service.errors import Conflict, InvalidRequest, NotFound
from service.masking import mask_id
from service.transactions import SYSTEM, utcnow
from store import audit
from store.records import ROLES, User

if TYPE_CHECKING:
    from service.container import Services

__all__ = [
    "ROLES",
    "Subject",
    "User",
    "add_user",
    "bind_subject",
    "check_password",
    "hash_password",
    "hash_token",
    "subject_for",
    "user_by_token",
]


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


@dataclass(frozen=True)
class Subject:
    """Whom an applicant account acts for: a person (`subject_id` their ID number), or an enterprise
    (`subject_id` its unified social credit code) through a person, its registered 法定代表人
    (`acting_as` legal_representative) or a person it authorised (`agent`)."""

    kind: str
    subject_id: str
    acting_id_number: str | None = None
    acting_as: str | None = None


def subject_for(
    services: Services, *, subject_id: str, acting_id: str | None = None, agent: bool = False
) -> Subject:
    """Check a subject to bind: the ID number's or credit code's checksum, and for an enterprise the
    acting person, held to the 法定代表人 of the enterprise registry unless they act as an agent."""
    subject_id = subject_id.strip().upper()
    if id_number_problem(subject_id) is None:
        if acting_id is not None or agent:
            raise InvalidRequest(
                "个人申请人本人办理，不填写经办人",
                problems=[{"path": "acting_id", "message": "个人申请人不设经办人"}],
            )
        return Subject(kind="person", subject_id=subject_id)
    if credit_code_problem(subject_id) is not None:
        raise InvalidRequest(
            f"申请主体 {subject_id} 既不是有效的身份证号码（{id_number_problem(subject_id)}），"
            f"也不是有效的统一社会信用代码（{credit_code_problem(subject_id)}）",
            problems=[{"path": "subject_id", "message": "身份证号码或统一社会信用代码无效"}],
        )
    if acting_id is None:
        raise InvalidRequest(
            "企业账号须填写经办人（法定代表人或受托人）的身份证号码",
            problems=[{"path": "acting_id", "message": "缺少经办人身份证号码"}],
        )
    acting_id = acting_id.strip().upper()
    problem = id_number_problem(acting_id)
    if problem is not None:
        raise InvalidRequest(
            f"经办人身份证号码无效：{problem}", problems=[{"path": "acting_id", "message": problem}]
        )
    with services.registry.reading():
        rows = services.registry.find("enterprises", {"credit_code": [subject_id]})
    if rows and rows[0].get("legal_rep_id_number") == acting_id:
        return Subject("enterprise", subject_id, acting_id, "legal_representative")
    if agent:
        return Subject("enterprise", subject_id, acting_id, "agent")
    why = (
        "不是该企业在市场主体登记信息库中登记的法定代表人"
        if rows
        else "无法核对：市场主体登记信息库中没有该企业"
    )
    raise InvalidRequest(
        f"经办人 {mask_id(acting_id)} {why}；由企业授权的经办人办理的，请注明受托办理（agent）",
        problems=[{"path": "acting_id", "message": why}],
    )


def _bind(user: User, subject: Subject | None) -> None:
    user.subject_kind = subject.kind if subject else None
    user.subject_id = subject.subject_id if subject else None
    user.acting_id_number = subject.acting_id_number if subject else None
    user.acting_as = subject.acting_as if subject else None


def _subject_detail(subject: Subject | None) -> dict[str, str | None]:
    """What the audit trail records of a binding (the ID numbers masked)."""
    if subject is None:
        return {}
    return {
        "subject_kind": subject.kind,
        "subject_id": subject.subject_id if subject.kind == "enterprise" else mask_id(subject.subject_id),
        "acting_id_number": mask_id(subject.acting_id_number) if subject.acting_id_number else None,
        "acting_as": subject.acting_as,
    }


def bind_subject(services: Services, *, user_id: str, subject: Subject, now: datetime) -> User:
    """Bind an applicant account to its subject (replacing the one it had)."""
    with services.sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"用户 {user_id} 不存在")
        if user.role != "applicant":
            raise InvalidRequest(f"只有申请人账号绑定申请主体（{user_id} 的角色为 {user.role}）")
        _bind(user, subject)
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=SYSTEM,
            action="user.subject_bound",
            subject=user_id,
            at=now,
            detail=_subject_detail(subject),
        )
        session.flush()
        session.expunge(user)
    return user


def add_user(
    services: Services,
    *,
    user_id: str,
    display_name: str,
    role: str,
    department: str | None,
    password: str | None,
    token: str | None = None,
    subject: Subject | None = None,
    now: datetime,
) -> tuple[User, str]:
    """Create a user; returns the user and their API token (shown once; only its hash is stored). An
    applicant is bound to its `subject` (see subject_for); an applicant without one cannot submit."""
    if role not in ROLES:
        raise InvalidRequest(f"未知角色 {role!r}（可选：{'、'.join(ROLES)}）")
    if role == "approver" and not department:
        raise InvalidRequest("审批人员必须属于一个部门")
    if subject is not None and role != "applicant":
        raise InvalidRequest("只有申请人账号绑定申请主体")
    token = token or secrets.token_urlsafe(24)
    user = User(
        id=user_id,
        display_name=display_name,
        role=role,
        department=department,
        token_sha256=hash_token(token),
        password_hash=hash_password(password) if password else None,
        created_at=now,
        token_expires_at=now + timedelta(days=services.settings.token_days),
    )
    _bind(user, subject)
    try:
        with services.sessions.begin() as session:
            session.add(user)
            session.flush()
            audit.append(
                session,
                key=services.audit_key.secret,
                actor=SYSTEM,
                action="user.created",
                subject=user_id,
                at=now,
                detail={"role": role, "department": department, **_subject_detail(subject)},
            )
    except IntegrityError:
        raise Conflict(f"用户 {user_id} 已存在") from None
    return user, token


def user_by_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The user of an API token that has neither expired nor been revoked."""
    user = session.scalars(select(User).where(User.token_sha256 == hash_token(token))).first()
    if user is None or user.token_expires_at is None:
        return user
    return user if user.token_expires_at > (now or utcnow()) else None


def end_sessions(services: Services, *, user_id: str, now: datetime, reason: str = "signed_out") -> None:
    """Every page session of the user signed in until now ends (sign-out ends them everywhere)."""
    with services.sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None:
            return
        user.sessions_valid_after = now
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=user_id,
            action=f"user.{reason}",
            subject=user_id,
            at=now,
        )


def revoke_user(services: Services, *, user_id: str, now: datetime) -> None:
    """The user's API token stops working at once and their page sessions end."""
    with services.sessions.begin() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"用户 {user_id} 不存在")
        user.token_sha256 = hash_token(secrets.token_urlsafe(32))  # a token nobody holds
        user.token_expires_at = now
        user.sessions_valid_after = now
        audit.append(
            session,
            key=services.audit_key.secret,
            actor=SYSTEM,
            action="user.revoked",
            subject=user_id,
            at=now,
        )


class SignInThrottle:
    """Wrong passwords per account and per address within a window: past the limit, sign-in is refused
    (even with the right password) until the window has passed. Kept in the API process's memory."""

    def __init__(self, *, failures: int, pause_s: float) -> None:
        self.limits = {"account": failures, "address": failures * 4}
        self.pause_s = pause_s
        self._failed: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failed.get(key, []) if t > now - self.pause_s]
        if times:
            self._failed[key] = times
        else:
            self._failed.pop(key, None)
        return times

    def retry_after(self, *, account: str, address: str, now: float) -> int | None:
        """Seconds until sign-in is allowed again, or None when it is allowed now."""
        waits = []
        for kind, value in (("account", account), ("address", address)):
            times = self._recent((kind, value), now)
            if len(times) >= self.limits[kind]:
                waits.append(times[-self.limits[kind]] + self.pause_s - now)
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, *, account: str, address: str, now: float) -> None:
        if len(self._failed) > 100_000:
            self._failed.clear()  # bounded memory under a flood of distinct names
        for key in (("account", account), ("address", address)):
            self._failed.setdefault(key, []).append(now)

    def succeeded(self, *, account: str) -> None:
        self._failed.pop(("account", account), None)


def user_by_id(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)
