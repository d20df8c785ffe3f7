"""The web pages' access rules, the session cookie and CSRF protection, through FastAPI's TestClient
(no browser)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_kit import APPROVED, OTHER_DEPARTMENT, OVERDUE, PASSWORD, WebEnv, build_env

from api.app import create_app
from api.deps import SESSION_COOKIE, WebSession, new_session, read_session, sign_session
from store.records import ResultRow, TaskRow, User

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def env(web_root: Path) -> WebEnv:
    return build_env(web_root, cases=[OVERDUE, APPROVED, OTHER_DEPARTMENT])


@pytest.fixture
def client(env: WebEnv) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings, services=env.services), follow_redirects=False) as c:
        yield c


def sign_in(client: TestClient, user_id: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        "/login", data={"user_id": user_id, "password": password, "csrf": token.group(1), "next": "/queue"}
    )
    assert r.status_code == 303, r.text
    queue = client.get("/queue")
    assert queue.status_code == 200
    found = CSRF.search(queue.text)
    assert found is not None
    return found.group(1)


def task_of(env: WebEnv, case_id: str, kind: str = "review") -> TaskRow:
    with env.services.sessions() as session:
        task = session.scalars(select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.kind == kind)).one()
        session.expunge(task)
        return task


def test_pages_redirect_to_sign_in(client: TestClient) -> None:
    for path in ("/queue", "/post-checks", f"/cases/{OVERDUE}", "/results/X.pdf"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
    r = client.get("/queue?card=red")
    assert r.headers["location"] == "/login?next=/queue%3Fcard%3Dred"


def test_wrong_password_and_missing_form_token(client: TestClient) -> None:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post("/login", data={"user_id": "tax", "password": "wrong", "csrf": token.group(1)})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text
    assert SESSION_COOKIE not in r.cookies
    r = client.post("/login", data={"user_id": "nobody", "password": "x", "csrf": token.group(1)})
    assert r.status_code == 401
    client.cookies.clear()
    r = client.post("/login", data={"user_id": "tax", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403
    assert SESSION_COOKIE not in r.cookies


def test_cookie_flags_and_open_redirect(client: TestClient) -> None:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        "/login",
        data={"user_id": "tax", "password": PASSWORD, "csrf": token.group(1), "next": "//evil.example/x"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/queue"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie


def test_applicants_are_told_the_page_is_for_staff(client: TestClient) -> None:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post("/login", data={"user_id": "citizen", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 403
    assert "供审批工作人员使用" in r.text
    assert SESSION_COOKIE not in r.cookies


def test_applicant_with_a_session_sees_the_staff_notice(client: TestClient, env: WebEnv) -> None:
    key = hashlib.sha256(b"tests-web-secret").digest()
    with env.services.sessions() as session:
        user = session.get(User, "citizen")
        assert user is not None
        _ws, value = new_session(key, user, hours=1)
    client.cookies.set(SESSION_COOKIE, value)
    r = client.get("/queue")
    assert r.status_code == 403
    assert "供审批工作人员使用" in r.text


def test_queue_shows_own_department_masked_with_counts(client: TestClient) -> None:
    sign_in(client, "tax")
    r = client.get("/queue")
    assert OVERDUE in r.text
    assert OTHER_DEPARTMENT not in r.text
    assert "黄小帆" not in r.text  # the applicant's name is masked in the list
    assert "黄*帆" in r.text
    assert "红牌" in r.text
    assert re.search(r'data-card="red">.*?<strong class="count">1</strong>', r.text, re.S)
    assert "已超期" in r.text
    green = client.get("/queue?card=green")
    assert OVERDUE not in green.text
    post = client.get("/post-checks")
    assert APPROVED in post.text


def test_other_department_is_not_reachable(client: TestClient, env: WebEnv) -> None:
    csrf = sign_in(client, "tax")
    r = client.get(f"/cases/{OTHER_DEPARTMENT}")
    assert r.status_code == 404
    assert "没有编号为" in r.text
    other = task_of(env, OTHER_DEPARTMENT)
    r = client.post(f"/tasks/{other.id}/claim", data={"csrf": csrf})
    assert r.status_code == 404
    assert task_of(env, OTHER_DEPARTMENT).status == "open"
    with env.services.sessions() as session:
        code = session.scalars(select(ResultRow.code).where(ResultRow.case_id == APPROVED)).one()
    # the builder's own department can open it
    client.cookies.clear()
    sign_in(client, "build")
    assert client.get(f"/cases/{OTHER_DEPARTMENT}").status_code == 200
    assert client.get(f"/cases/{OVERDUE}").status_code == 404
    assert client.get(f"/results/{code}.pdf").status_code == 404


def test_forms_need_the_session_csrf_token(client: TestClient, env: WebEnv) -> None:
    csrf = sign_in(client, "tax")
    task = task_of(env, OVERDUE)
    r = client.post(f"/tasks/{task.id}/claim", data={})
    assert r.status_code == 403
    r = client.post(f"/tasks/{task.id}/claim", data={"csrf": "x" + csrf})
    assert r.status_code == 403
    assert "页面已过期" in r.text
    assert task_of(env, OVERDUE).status == "open"
    # a token of another session does not do either
    other = TestClient(client.app, follow_redirects=False)
    other_csrf = sign_in(other, "tax2")
    r = client.post(f"/tasks/{task.id}/claim", data={"csrf": other_csrf})
    assert r.status_code == 403
    assert task_of(env, OVERDUE).status == "open"


def test_claim_decide_and_errors_on_the_page(client: TestClient, env: WebEnv) -> None:
    csrf = sign_in(client, "tax")
    task = task_of(env, OVERDUE)
    r = client.post(f"/tasks/{task.id}/decide", data={"csrf": csrf, "outcome": "approve", "comment": "可"})
    assert r.status_code == 409
    assert "请先认领任务" in r.text
    r = client.post(f"/tasks/{task.id}/claim", data={"csrf": csrf})
    assert r.status_code == 303
    assert r.headers["location"] == f"/cases/{OVERDUE}?msg=claimed"
    # a second approver cannot take a fresh claim
    other = TestClient(client.app, follow_redirects=False)
    other_csrf = sign_in(other, "tax2")
    r = other.post(f"/tasks/{task.id}/claim", data={"csrf": other_csrf})
    assert r.status_code == 409
    assert "已由 tax 认领" in r.text
    r = client.post(f"/tasks/{task.id}/decide", data={"csrf": csrf, "outcome": "reject", "comment": "  "})
    assert r.status_code == 422
    assert "审批意见为必填项" in r.text
    r = client.post(f"/tasks/{task.id}/decide", data={"csrf": csrf, "comment": "理由"})
    assert r.status_code == 422
    assert "请选择处理结果" in r.text
    assert "理由" in r.text  # the comment typed is kept
    r = client.post(
        f"/tasks/{task.id}/decide", data={"csrf": csrf, "outcome": "reject", "comment": "姓名与户籍登记不符"}
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "不予受理/不予许可" in page.text
    assert "已作出决定" in page.text
    code = re.search(r'href="/results/([A-Z0-9-]+)\.pdf"', page.text)
    assert code is not None
    pdf = client.get(f"/results/{code.group(1)}.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert task_of(env, OVERDUE).status == "done"


def test_api_accepts_the_session_cookie_with_a_csrf_header(client: TestClient, env: WebEnv) -> None:
    csrf = sign_in(client, "tax2")
    r = client.get("/api/v1/tasks?kind=post_check")
    assert r.status_code == 200
    assert [t["case_id"] for t in r.json()["tasks"]] == [APPROVED]
    task = task_of(env, APPROVED, "post_check")
    r = client.post(f"/api/v1/tasks/{task.id}/claim")
    assert r.status_code == 403
    r = client.post(f"/api/v1/tasks/{task.id}/claim", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    r = client.post(f"/api/v1/tasks/{task.id}/release", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    # bearer tokens still work, without cookies or CSRF headers
    client.cookies.clear()
    r = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {env.tokens['tax']}"})
    assert r.status_code == 200


def test_session_cookie_is_signed_and_expires() -> None:
    key = b"k" * 32
    ws = WebSession(user_id="tax", expires=2_000_000_000, csrf="c", password="p")
    value = sign_session(key, ws)
    assert read_session(key, value, now=1_000_000_000) == ws
    assert read_session(key, value, now=2_000_000_001) is None
    assert read_session(b"x" * 32, value, now=1_000_000_000) is None
    _body, mac = value.split(".")
    forged = sign_session(b"x" * 32, WebSession("admin", 2_000_000_000, "c", "p")).split(".")[0]
    assert read_session(key, f"{forged}.{mac}", now=1_000_000_000) is None
    assert read_session(key, "garbage", now=0) is None
    assert read_session(key, "a.b", now=0) is None


def test_tampered_cookie_redirects_to_sign_in(client: TestClient) -> None:
    sign_in(client, "tax")
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/queue").status_code == 303


def test_sign_out_needs_the_token_and_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client, "tax")
    r = client.post("/logout", data={"csrf": "wrong"})
    assert r.status_code == 403
    r = client.post("/logout", data={"csrf": csrf})
    assert r.status_code == 303
    assert r.headers["location"] == "/login?msg=signed_out"
    assert client.get("/queue").status_code == 303


def test_verify_is_public(client: TestClient, env: WebEnv) -> None:
    with env.services.sessions() as session:
        code = session.scalars(select(ResultRow.code).where(ResultRow.case_id == APPROVED)).one()
    r = client.get(f"/verify/{code}")
    assert r.status_code == 200
    assert "真实有效" in r.text
    assert "契税完税证明" in r.text
    assert "家庭唯一住房优惠" in r.text  # coded outputs in their Chinese wording
    r = client.get(f"/verify?code={code.lower()}")
    assert r.status_code == 303
    assert client.get(r.headers["location"]).status_code == 200
    r = client.get("/verify/ABCD-EFGH-JKLM-NPQR")
    assert r.status_code == 404
    assert "未通过核验" in r.text
    assert client.get("/verify").status_code == 200


def test_post_check_revoke_withdraws_the_result(client: TestClient, env: WebEnv) -> None:
    csrf = sign_in(client, "tax")
    task = task_of(env, APPROVED, "post_check")
    page = client.get(f"/cases/{APPROVED}")
    assert "事后核查任务" in page.text
    assert client.post(f"/tasks/{task.id}/claim", data={"csrf": csrf}).status_code == 303
    page = client.get(f"/cases/{APPROVED}")
    assert "核查无误" in page.text and "撤销审批结果" in page.text
    r = client.post(
        f"/tasks/{task.id}/decide", data={"csrf": csrf, "outcome": "approve", "comment": "不适用"}
    )
    assert r.status_code == 422
    assert "处理结果只能是" in r.text
    r = client.post(
        f"/tasks/{task.id}/decide",
        data={"csrf": csrf, "outcome": "revoke", "comment": "核查发现配偶名下另有住房，承诺不实"},
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "已撤销" in page.text
    with env.services.sessions() as session:
        code = session.scalars(select(ResultRow.code).where(ResultRow.case_id == APPROVED)).one()
    verdict = client.get(f"/verify/{code}")
    assert "已被撤销" in verdict.text


def test_sign_out_ends_the_session_on_the_server_not_only_in_the_browser(
    client: TestClient, env: WebEnv
) -> None:
    """The old cookie used to open /queue for up to 8 hours after sign-out."""
    csrf = sign_in(client, "tax")
    old = client.cookies.get(SESSION_COOKIE)
    assert old
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    with TestClient(create_app(env.settings, services=env.services), follow_redirects=False) as other:
        other.cookies.set(SESSION_COOKIE, old)
        assert other.get("/queue").status_code == 303  # replayed elsewhere: signed out there too
    sign_in(client, "tax")  # a new sign-in works at once
    assert client.get("/queue").status_code == 200


def test_sign_in_is_paused_after_repeated_wrong_passwords(client: TestClient, env: WebEnv) -> None:
    """30 wrong passwords then a success used to go through in 1.4 s."""

    def attempt(password: str) -> int:
        page = client.get("/login")
        token = CSRF.search(page.text)
        assert token is not None
        data = {"user_id": "tax", "password": password, "csrf": token.group(1), "next": "/queue"}
        return client.post("/login", data=data).status_code

    assert [attempt("wrong") for _ in range(env.settings.sign_in_failures)] == [
        401
    ] * env.settings.sign_in_failures
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post("/login", data={"user_id": "tax", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 429  # even the right password, until the pause has passed
    assert int(r.headers["Retry-After"]) > 0 and "分钟后再试" in r.text


def test_api_tokens_expire_and_can_be_revoked(client: TestClient, env: WebEnv) -> None:
    from datetime import timedelta

    from service.transactions import utcnow
    from service.users import add_user, revoke_user

    now = utcnow()
    _user, token = add_user(
        env.services,
        user_id="short-lived",
        display_name="临时",
        role="auditor",
        department=None,
        password=None,
        now=now,
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/audit/verify", headers=headers).status_code == 200
    with env.services.sessions.begin() as session:
        user = session.get(User, "short-lived")
        assert user is not None and user.token_expires_at is not None
        assert user.token_expires_at > now + timedelta(days=env.settings.token_days - 1)
        user.token_expires_at = now - timedelta(seconds=1)
    client.app.state.token_cache = {}  # type: ignore[attr-defined]
    assert client.get("/api/v1/audit/verify", headers=headers).status_code == 401

    _user, token = add_user(
        env.services,
        user_id="revoked-one",
        display_name="吊销",
        role="auditor",
        department=None,
        password=None,
        now=now,
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/audit/verify", headers=headers).status_code == 200
    revoke_user(env.services, user_id="revoked-one", now=utcnow())
    client.app.state.token_cache = {}  # type: ignore[attr-defined]
    assert client.get("/api/v1/audit/verify", headers=headers).status_code == 401


def test_an_approval_by_a_person_is_not_labelled_as_instant() -> None:
    """A case an approver approved was shown as 准予（秒批通过）on its page."""
    from api.presenters import case_outcome

    assert case_outcome("approved", engine_outcome="approved") == "准予（秒批通过）"
    assert case_outcome("approved", engine_outcome="review") == "准予（人工审核通过）"
    assert case_outcome("rejected", engine_outcome="review") == "不予受理/不予许可"
    assert case_outcome(None, engine_outcome=None) == "尚未作出"
