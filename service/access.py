"""Every role rule of the service in one place: who may submit, pre-check, see a case, list, claim and
decide tasks, publish rulesets and read the audit trail. The use cases, the JSON API and the pages all
ask here.

Roles: applicant (own cases only), approver (own department), rule_author, auditor, admin. A case or
task the user may not see is reported as not found (its existence is not leaked).
"""

from __future__ import annotations

from typing import Literal, Protocol

from service.errors import Forbidden, NotFound
from store.records import CaseRow, TaskRow, User

SUBMITTERS = ("applicant", "admin")
PRE_CHECKERS = ("applicant", "rule_author", "admin")
PUBLISHERS = ("rule_author", "admin")
TASK_READERS = ("approver", "auditor", "admin")
DECIDERS = ("approver", "admin")
"""Who claims, releases and decides tasks."""
STAFF = ("approver", "admin", "auditor")
"""Who may use the approvers' pages."""
AUDITORS = ("auditor", "admin")


def require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"角色 {user.role} 无权执行此操作（需要：{'、'.join(roles)}）")


def check_submit(user: User) -> None:
    require(user, *SUBMITTERS)
    _check_bound(user)


def check_pre_check(user: User) -> None:
    if user.role not in PRE_CHECKERS:
        raise Forbidden("该角色不能使用预审")
    _check_bound(user)


def _check_bound(user: User) -> None:
    if user.role == "applicant" and (user.subject_kind is None or user.subject_id is None):
        raise Forbidden(
            "该申请人账号尚未绑定申请主体（本人身份证号码或企业统一社会信用代码），不能提交或预审"
        )


_SUBJECT_FIELD = {"person": "id_number", "enterprise": "credit_code"}
_KIND_NAME = {"person": "个人", "enterprise": "企业"}


def check_case_subject(user: User, applicant: object) -> None:
    """An applicant submits and pre-checks only cases whose `applicant` is the subject their account is
    bound to (same kind, same ID number or credit code); staff who submit (admin) act for anyone.

    Checked on the case as sent, before it is validated: a case whose applicant is not an object with a
    kind is refused by validation (422) and never decided; any other is held to the account here. The
    answer names the field, never whose the other identity is."""
    if user.role != "applicant":
        return
    _check_bound(user)
    if not isinstance(applicant, dict) or not isinstance(applicant.get("kind"), str):
        return
    kind = applicant["kind"]
    field = _SUBJECT_FIELD.get(kind)
    if field is None:
        return  # an unknown kind: refused by validation
    bound = _KIND_NAME.get(user.subject_kind or "", user.subject_kind)
    if kind != user.subject_kind:
        raise Forbidden(
            f"本账号绑定的申请主体为{bound}，不能以{_KIND_NAME[kind]}申请人的名义提交或预审",
            problems=[{"path": f"applicant.{field}", "message": "与本账号绑定的申请主体不一致"}],
        )
    if applicant.get(field) != user.subject_id:
        what = "身份证号码" if kind == "person" else "统一社会信用代码"
        raise Forbidden(
            f"案件申请人的{what}与本账号绑定的申请主体不一致：申请人只能为本人（或本企业）提交或预审",
            problems=[{"path": f"applicant.{field}", "message": "与本账号绑定的申请主体不一致"}],
        )


def check_publish(user: User) -> None:
    require(user, *PUBLISHERS)


def check_new_item(user: User) -> None:
    """A ruleset of an item not published before."""
    if user.role != "admin":
        raise Forbidden("新增事项须由管理员发布")


def check_audit(user: User) -> None:
    if user.role not in AUDITORS:
        raise Forbidden("仅审计人员和管理员可校验审计链")


# -- cases -----------------------------------------------------------------------------------------
def can_see(user: User, row: CaseRow) -> bool:
    """Applicants their own cases, approvers their department's, auditors and admins all."""
    if user.role in ("auditor", "admin"):
        return True
    if user.role == "applicant":
        return row.submitted_by == user.id
    if user.role == "approver":
        return row.department == user.department
    return False


def check_case(user: User, row: CaseRow | None, case_id: str) -> CaseRow:
    if row is None or not can_see(user, row):
        raise NotFound(f"没有编号为 {case_id} 的案件")
    return row


CaseScope = tuple[Literal["all", "submitted_by", "department"], str | None]


def case_scope(user: User) -> CaseScope:
    """Which cases a list shows the user: all, those they submitted, or their department's."""
    if user.role == "applicant":
        return ("submitted_by", user.id)
    if user.role == "approver":
        return ("department", user.department)
    if user.role not in ("auditor", "admin"):
        raise Forbidden("该角色无权查看案件")
    return ("all", None)


# -- tasks -----------------------------------------------------------------------------------------
def task_department(user: User, department: str | None) -> str | None:
    """The department whose tasks a list shows: an approver's own (asking for another is refused)."""
    if user.role == "approver":
        if department is not None and department != user.department:
            raise Forbidden("只能查看本部门的任务")
        return user.department
    return department


def queue_department(user: User) -> str | None:
    """The department of the user's queue counts (None: all departments)."""
    return user.department if user.role == "approver" else None


def can_see_task(user: User, task: TaskRow | None) -> bool:
    return task is not None and not (user.role == "approver" and task.department != user.department)


def check_task(user: User, task: TaskRow | None, task_id: int) -> TaskRow:
    """A task the user may act on (claim, release, decide)."""
    require(user, *DECIDERS)
    if task is None or not can_see_task(user, task):
        raise NotFound(f"没有编号为 {task_id} 的任务")
    return task


def may_decide(user: User) -> bool:
    return user.role in DECIDERS


class _Claimable(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def claimed_by(self) -> str | None: ...


def may_claim(user: User, task: _Claimable) -> bool:
    """Open, or claimed by another (taken over when idle: AB岗)."""
    return may_decide(user) and (
        task.status == "open" or (task.status == "claimed" and task.claimed_by != user.id)
    )


def sees_full_decision(user: User) -> bool:
    """Staff and rule authors read decisions in full (values, sources, registry rows); an applicant
    reads the applicant's view of service/disclosure.py."""
    return user.role != "applicant"


def is_staff(user: User) -> bool:
    return user.role in STAFF
