"""Who an applicant is: the identity service that signs applicants in, behind one small interface.

The province's unified identity service (统一身份认证) vouches for a person, or for a person acting for
an enterprise; 秒批 maps what it asserts to the applicant account bound to that subject
(service/users.py). `IdentityProvider` is that interface; `LocalIdentity` stands in for the real
service with the accounts' own passwords, checked here. A provider on OpenID Connect implements the
same two methods: `start` answers the address of its authorisation endpoint (the page redirects there
with a `state`), and `finish` exchanges the code it sends back for an `Assertion` (README, "Applicant
sign-in").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from service.errors import Forbidden, Unauthenticated
from service.users import Subject, check_password, hash_password, user_by_id
from store.records import User

if TYPE_CHECKING:
    from service.container import Services


@dataclass(frozen=True)
class Assertion:
    """What an identity provider vouches for: the account signed in, and the subject it acts for
    (None: the provider does not say, and the account's own binding is taken)."""

    account: str
    subject: Subject | None = None


class IdentityProvider(Protocol):
    """The identity service applicants sign in with."""

    name: str
    """Its name on the sign-in page (e.g. 天府通办统一身份认证)."""

    def start(self, *, state: str, return_to: str) -> str | None:
        """The address to send the browser to for signing in, or None when the provider takes the
        credentials on 秒批's own sign-in form (the local stand-in)."""
        ...

    def finish(self, services: Services, credentials: Mapping[str, str]) -> Assertion | None:
        """The assertion for what the browser brought back (a form's fields, or a callback's query
        parameters), or None when it does not sign anyone in."""
        ...


_DUMMY_HASH = hash_password("miaopi-identity-timing")


class LocalIdentity:
    """The local stand-in for the unified identity service: an applicant account's id and password."""

    name = "本地统一身份认证（测试环境）"

    def start(self, *, state: str, return_to: str) -> str | None:
        return None

    def finish(self, services: Services, credentials: Mapping[str, str]) -> Assertion | None:
        account = credentials.get("user_id", "").strip()
        with services.sessions() as session:
            user = user_by_id(session, account) if account else None
            stored = user.password_hash if user is not None else None
        ok = check_password(credentials.get("password", ""), stored or _DUMMY_HASH)
        if user is None or not ok:
            return None
        return Assertion(account=account)


def applicant_for(services: Services, assertion: Assertion) -> User:
    """The applicant account an assertion signs in: an applicant, bound to a subject, and to the one the
    provider vouches for when it names one."""
    with services.sessions() as session:
        user = user_by_id(session, assertion.account)
        if user is not None:
            session.expunge(user)
    if user is None:
        raise Unauthenticated("统一身份认证未能确认您的身份，请重新登录")
    if user.role != "applicant":
        raise Forbidden("工作人员请从审批工作台登录")
    if user.subject_kind is None or user.subject_id is None:
        raise Forbidden("该账号尚未绑定申请主体（本人身份证号码或企业统一社会信用代码），请先完成实名绑定")
    vouched = assertion.subject
    if vouched is not None and (vouched.kind, vouched.subject_id) != (user.subject_kind, user.subject_id):
        raise Forbidden("统一身份认证确认的申请主体与本账号绑定的不一致，请重新绑定")
    return user
