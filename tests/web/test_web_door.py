"""The applicant's door in the pages, through FastAPI's TestClient: applicant sign-in, the public service
guide (HTML and JSON, following a publication), applying with prefill, a returned case corrected and
decided again on the same case, and the access rules of every new route (another subject's case,
progress, correction, result or prefill is never reached)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_kit import PASSWORD, SAMPLES, WebEnv, build_env

from api.app import create_app
from engine.case import parse_case
from engine.errors import CaseError
from miaopi.worker import run_worker
from service.cases import case_view
from service.identity import Assertion
from service.replay import replay
from service.rulesets import load_program, publish_ruleset
from service.settings import PROJECT_ROOT
from service.stats import stats
from service.transactions import utcnow
from service.users import Subject, add_user, subject_for
from store.records import (
    AuditEvent,
    CaseDocument,
    CaseRow,
    DecisionRow,
    RatingRow,
    ResultRow,
    TaskRow,
    User,
)

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
WANG = "510122198209032792"
"""王成帆: married (婚姻登记), his spouse's house on record; dt-03 approves him at once."""
SPOUSE = "510102198410210380"
YU = "510106199509110988"
"""余娜雪: no 网签备案; without the contract she is returned, with it (a text PDF) approved."""
CONTRACT = SAMPLES / "documents" / "purchase_contract" / "pc-23-dt-34.pdf"
BROKEN = SAMPLES / "deed-tax" / "cases" / "broken-contract-dt-47.pdf"
"""A contract that cannot be read: the material is missing, the case returned."""
ENTERPRISE = "91510100MA6E4KXP1J"
ENTERPRISE_REP = "510120197907272761"

WANG_FORM = {
    "house_address": "成都市双流区白河路1024号5栋1单元1001号",
    "area_m2": "118.56",
    "price_yuan": "2135000.00",
    "usage": "residential",
    "contract_signed_on": "2026-10-20",
    "contract_filing_no": "WQ20261010003",
    "declared_family_houses": "1",
}
YU_FORM = {
    "house_address": "成都市成华区府青路二段1166号10栋1单元2004号",
    "area_m2": "108.00",
    "price_yuan": "1950000.00",
    "usage": "residential",
    "contract_signed_on": "2026-10-17",
    "contract_filing_no": "",
    "spouse_id_number": "",
    "declared_family_houses": "0",
}


@pytest.fixture(scope="module")
def env(web_root: Path) -> WebEnv:
    env = build_env(web_root, cases=[])
    now = utcnow()
    for user_id, name, subject, acting in (
        ("wang", "王成帆", WANG, None),
        ("yu", "余娜雪", YU, None),
        ("tiancheng", "成都天诚建设集团有限公司", ENTERPRISE, ENTERPRISE_REP),
        ("shuan", "四川蜀安建设集团有限公司", "91510108MA68NRE11H", "510120197904210485"),
    ):
        add_user(
            env.services,
            user_id=user_id,
            display_name=name,
            role="applicant",
            department=None,
            password=PASSWORD,
            subject=subject_for(env.services, subject_id=subject, acting_id=acting),
            now=now,
        )
    add_user(
        env.services,
        user_id="root",
        display_name="管理员",
        role="admin",
        department=None,
        password=PASSWORD,
        now=now,
    )
    add_user(
        env.services,
        user_id="unbound",
        display_name="未绑定",
        role="applicant",
        department=None,
        password=PASSWORD,
        now=now,
    )
    return env


@pytest.fixture
def client(env: WebEnv) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings, services=env.services), follow_redirects=False) as c:
        yield c


def applicant_sign_in(client: TestClient, user_id: str) -> str:
    page = client.get("/login/applicant")
    assert page.status_code == 200 and "申请人登录" in page.text
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        "/login/applicant",
        data={"user_id": user_id, "password": PASSWORD, "csrf": token.group(1), "next": "/my"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/my", r.text
    mine = client.get("/my")
    assert mine.status_code == 200
    found = CSRF.search(mine.text)
    assert found is not None
    return found.group(1)


def _apply(client: TestClient, item: str, form: dict[str, str], **extra: object) -> tuple[int, str, str]:
    page = client.get(f"/my/apply/{item}")
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text)
    assert token is not None
    data = {"csrf": token.group(1), **form}
    r = client.post(f"/my/apply/{item}", data=data, **extra)  # type: ignore[arg-type]
    return r.status_code, r.headers.get("location", ""), r.text


def _decide(env: WebEnv) -> None:
    run_worker(env.settings, idle_exit=True)


# -- sign-in and the two doors ---------------------------------------------------------------------------
def test_applicants_land_on_their_own_pages_and_never_on_the_staff_pages(client: TestClient) -> None:
    assert client.get("/my").headers["location"] == "/login/applicant?next=/my"
    assert client.get("/").headers["location"] == "/guide"
    applicant_sign_in(client, "wang")
    assert client.get("/").headers["location"] == "/my"
    for path in ("/queue", "/post-checks", "/cases/anything", "/results/X.pdf"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "本页面供审批工作人员使用" in r.text


def test_staff_sign_in_refuses_applicants_and_the_applicant_door_refuses_staff(client: TestClient) -> None:
    page = client.get("/login/applicant")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post("/login/applicant", data={"user_id": "tax", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 403 and "工作人员请从审批工作台登录" in r.text
    r = client.post("/login/applicant", data={"user_id": "wang", "password": "wrong", "csrf": token.group(1)})
    assert r.status_code == 401 and "账号或密码错误" in r.text
    r = client.post(
        "/login/applicant", data={"user_id": "unbound", "password": PASSWORD, "csrf": token.group(1)}
    )
    assert r.status_code == 403 and "尚未绑定申请主体" in r.text
    staff = client.get("/login")
    token = CSRF.search(staff.text)
    assert token is not None
    r = client.post("/login", data={"user_id": "wang", "password": PASSWORD, "csrf": token.group(1)})
    assert r.status_code == 403 and "/login/applicant" in r.text


def test_staff_cannot_use_the_applicant_pages(client: TestClient) -> None:
    staff = client.get("/login")
    token = CSRF.search(staff.text)
    assert token is not None
    r = client.post(
        "/login", data={"user_id": "tax", "password": PASSWORD, "csrf": token.group(1), "next": "/queue"}
    )
    assert r.status_code == 303
    for path in ("/my", "/my/apply/deed-tax", "/my/cases/x", "/my/cases/x/correct", "/my/results/X.pdf"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "本页面供申请人使用" in r.text


# -- the public service guide ----------------------------------------------------------------------------
def test_the_guide_is_public_and_follows_publication(env: WebEnv, client: TestClient) -> None:
    r = client.get("/guide")
    assert r.status_code == 200
    assert "契税申报（个人购买住房）" in r.text and "建筑施工企业安全生产许可证延续" in r.text
    page = client.get("/guide/deed-tax")
    assert page.status_code == 200
    for words in ("设定依据", "办理条件", "免提交", "即办件", "不收费", "咨询方式", "1 个工作日"):
        assert words in page.text, words
    doc = client.get("/api/v1/guide/deed-tax").json()
    assert doc["kind"] == "即办件" and doc["instant"] is True and doc["fees"] == "不收费"
    assert any(m["exempt_reason"] for m in doc["materials"])
    listed = {e["item"] for e in client.get("/api/v1/guide").json()}
    assert listed == {"deed-tax", "graduate-hukou", "safety-permit-renewal"}
    assert client.get("/api/v1/guide/no-such-item").status_code == 404
    assert client.get("/guide/no-such-item").status_code == 404
    # a new version is published: the guide says so at once
    content = (PROJECT_ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text("utf-8")
    changed = content.replace('version: "2024.16.4"', 'version: "2024.16.9"').replace(
        "fees: 不收费", "fees: 不收费（新版本）"
    )
    assert changed != content
    with env.services.sessions() as session:
        admin = session.get(User, "root")
        assert admin is not None
        session.expunge(admin)
    publish_ruleset(
        env.services, user=admin, content=changed, effective_from=None, now=utcnow(), golden=lambda _p: []
    )
    doc = client.get("/api/v1/guide/deed-tax").json()
    assert doc["version"] == "2024.16.9" and doc["fees"] == "不收费（新版本）"
    page = client.get("/guide/deed-tax")
    assert "不收费（新版本）" in page.text and "2024.16.9" in page.text


# -- applying --------------------------------------------------------------------------------------------
def test_apply_with_prefill_and_instant_approval(env: WebEnv, client: TestClient) -> None:
    applicant_sign_in(client, "wang")
    page = client.get("/my/apply/deed-tax")
    assert page.status_code == 200
    assert "已自动填写" in page.text and "王成帆" in page.text
    assert SPOUSE not in page.text  # the spouse's number is the spouse's: shown masked only
    assert "510102********0380" in page.text
    case_id = _wang_applies(client)
    location = f"/my/cases/{case_id}"
    pending = client.get(location)
    assert "审查中" in pending.text and 'http-equiv="refresh"' in pending.text
    _decide(env)
    done = client.get(location)
    assert "已办结（准予办理）" in done.text and "受理" in done.text and "办结" in done.text
    assert "北京时间" in done.text and 'http-equiv="refresh"' not in done.text
    assert 'id="rating-slot"' in done.text
    with env.services.sessions() as session:
        row = session.get(CaseRow, case_id)
        assert row is not None and row.payload["form"]["spouse_id_number"] == SPOUSE  # kept on the server
        code = session.scalars(select(ResultRow.code).where(ResultRow.case_id == case_id)).one()
    pdf = client.get(f"/my/results/{code}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_form_reports_the_same_problems_as_the_api(client: TestClient) -> None:
    applicant_sign_in(client, "wang")
    bad = {
        **WANG_FORM,
        "area_m2": "很大",
        "price_yuan": "",
        "contract_signed_on": "2026/10/20",
        "spouse_id_number": "",
        "keep.spouse_id_number": "1",
    }
    status, _location, text = _apply(client, "deed-tax", bad)
    assert status == 422
    assert SPOUSE not in text and "510102********0380" in text  # the kept number stays masked
    assert "很大" in text  # what was typed is kept
    data = {
        "item": "deed-tax",
        "submitted_at": "2026-11-20T10:00:00+08:00",
        "applicant": {"kind": "person", "name": "王成帆", "id_number": WANG},
        "form": {
            "house_address": WANG_FORM["house_address"],
            "area_m2": "很大",
            "usage": "residential",
            "contract_signed_on": "2026/10/20",
            "contract_filing_no": "WQ20261010003",
            "spouse_id_number": SPOUSE,
            "declared_family_houses": 1,
        },
    }
    ruleset = load_program(PROJECT_ROOT / "rulesets" / "deed-tax").ruleset
    with pytest.raises(CaseError) as refused:
        parse_case(data, ruleset=ruleset)
    assert refused.value.problems  # type: ignore[attr-defined]
    for problem in refused.value.problems:  # type: ignore[attr-defined]
        assert problem["message"] in html.unescape(text)


def test_an_applicant_applies_only_for_their_own_kind_of_subject(client: TestClient) -> None:
    applicant_sign_in(client, "wang")
    r = client.get("/my/apply/safety-permit-renewal")
    assert r.status_code == 403 and "只受理企业申请" in r.text
    client.cookies.clear()
    applicant_sign_in(client, "tiancheng")
    page = client.get("/my/apply/safety-permit-renewal")
    assert page.status_code == 200
    assert "成都天诚建设集团有限公司" in page.text and "已自动填写" in page.text
    assert client.get("/my/apply/deed-tax").status_code == 403


def test_an_enterprise_applies_with_its_registered_details_and_a_list_of_staff(
    env: WebEnv, client: TestClient
) -> None:
    sample = json.loads(
        (SAMPLES / "safety-permit-renewal" / "cases" / "sp-01-general-grade1-clean.json").read_text("utf-8")
    )
    applicant_sign_in(client, "shuan")
    page = client.get("/my/apply/safety-permit-renewal")
    assert "四川蜀安建设集团有限公司" in page.text and "已自动填写" in page.text
    form = {k: v for k, v in sample["form"].items() if k not in ("staff", "enterprise_name")}
    for i, person in enumerate(sample["form"]["staff"]):
        form.update({f"staff.{i}.{k}": v for k, v in person.items()})
    form["keep.enterprise_name"] = "1"
    form["commitment"] = "safety_production_commitment"
    status, location, text = _apply(client, "safety-permit-renewal", form)
    assert status == 303, text
    _decide(env)
    with env.services.sessions() as session:
        row = session.get(CaseRow, location.rsplit("/", 1)[1])
        assert row is not None
        assert row.payload["applicant"] == sample["applicant"]
        assert row.payload["form"] == sample["form"]  # the golden case's form, row by row
        assert row.status == "decided"  # (its outcome depends on the day: the months of insurance)


# -- correcting a returned case on the same case ---------------------------------------------------------
def test_a_returned_case_is_corrected_and_decided_again_on_the_same_case(
    env: WebEnv, client: TestClient
) -> None:
    applicant_sign_in(client, "yu")
    status, location, text = _apply(
        client,
        "deed-tax",
        {**YU_FORM, "commitment": "family_housing_truthful"},
        files={"file.purchase_contract": ("合同.pdf", BROKEN.read_bytes(), "application/pdf")},
    )
    assert status == 303, text
    case_id = location.rsplit("/", 1)[1]
    _decide(env)
    returned = client.get(location)
    assert "退回补正" in returned.text and "一次性告知单" in returned.text
    assert f"/my/cases/{case_id}/correct" in returned.text
    form = client.get(f"/my/cases/{case_id}/correct")
    assert form.status_code == 200 and "一次性告知" in form.text
    token = CSRF.search(form.text)
    assert token is not None
    r = client.post(
        f"/my/cases/{case_id}/correct",
        data={"csrf": token.group(1), **YU_FORM, "commitment": "family_housing_truthful"},
        files={"file.purchase_contract": ("合同.pdf", CONTRACT.read_bytes(), "application/pdf")},
    )
    assert r.status_code == 303, r.text
    assert "审查中" in client.get(f"/my/cases/{case_id}").text
    _decide(env)
    done = client.get(f"/my/cases/{case_id}")
    assert "已办结（准予办理）" in done.text and "补正" in done.text
    with env.services.sessions() as session:
        rows = session.scalars(
            select(DecisionRow).where(DecisionRow.case_id == case_id).order_by(DecisionRow.round)
        ).all()
        assert [(d.round, d.outcome) for d in rows] == [(1, "returned"), (2, "approved")]
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.subject == case_id).order_by(AuditEvent.seq)
        ).all()
        resubmitted = [e for e in events if e.action == "case.resubmitted"]
        assert len(resubmitted) == 1 and resubmitted[0].actor == "yu"
        assert resubmitted[0].detail["round"] == 2
        assert [r["ref"] for r in resubmitted[0].detail["replaced"]] == ["purchase_contract.pdf"]
        docs = session.scalars(select(CaseDocument).where(CaseDocument.case_id == case_id)).all()
        assert [(d.ref, d.sha256) for d in docs] == [
            ("purchase_contract.pdf", hashlib.sha256(CONTRACT.read_bytes()).hexdigest())
        ]
        assert session.scalars(select(CaseRow.round).where(CaseRow.id == case_id)).one() == 2
        # the JSON view says which round it shows; the figures count the case once, by its last round
        view = case_view(
            session, user=session.get(User, "yu"), row=session.get(CaseRow, case_id), now=utcnow()
        )
        assert (view.round, view.decision_round, view.outcome) == (2, 2, "approved")
        assert [(t.kind, t.round) for t in view.tasks if t.kind == "review"] in ([], [("review", 1)])
        cases_decided = len(set(session.scalars(select(DecisionRow.case_id)).all()))
        assert sum(stats(session, now=utcnow())["cases_by_outcome"].values()) == cases_decided
    for round_ in (1, 2):
        assert replay(env.services, case_id=case_id, now=utcnow(), round=round_)["reproduced"] is True
    # decided, it cannot be corrected again
    assert client.get(f"/my/cases/{case_id}/correct").status_code == 303


# -- another subject's case is never reached -------------------------------------------------------------
def test_another_applicants_case_progress_correction_and_result_are_not_found(
    env: WebEnv, client: TestClient
) -> None:
    applicant_sign_in(client, "wang")
    _status, location, _text = _apply(
        client,
        "deed-tax",
        {
            **WANG_FORM,
            "spouse_id_number": "",
            "keep.spouse_id_number": "1",
            "commitment": "family_housing_truthful",
        },
    )
    case_id = location.rsplit("/", 1)[1]
    _decide(env)
    with env.services.sessions() as session:
        code = session.scalars(select(ResultRow.code).where(ResultRow.case_id == case_id)).one()
    client.cookies.clear()
    csrf = applicant_sign_in(client, "yu")
    assert case_id not in client.get("/my").text
    for path in (f"/my/cases/{case_id}", f"/my/cases/{case_id}/correct", f"/my/results/{code}.pdf"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "王成帆" not in r.text and WANG not in r.text
    r = client.post(f"/my/cases/{case_id}/correct", data={"csrf": csrf, **YU_FORM})
    assert r.status_code == 404
    # the form posted is always for the account's own subject: its prefill is never another's
    page = client.get("/my/apply/deed-tax")
    assert "王成帆" not in page.text and WANG not in page.text and "余娜雪" in page.text


def test_forms_without_the_session_token_are_refused(client: TestClient) -> None:
    applicant_sign_in(client, "wang")
    r = client.post("/my/apply/deed-tax", data={**WANG_FORM, "csrf": "forged"})
    assert r.status_code == 403 and "页面已过期" in r.text


# -- 好差评 on the progress page ------------------------------------------------------------------------
def staff_sign_in(client: TestClient, user_id: str) -> str:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        "/login", data={"user_id": user_id, "password": PASSWORD, "csrf": token.group(1), "next": "/queue"}
    )
    assert r.status_code == 303, r.text
    found = CSRF.search(client.get("/queue").text)
    assert found is not None
    return found.group(1)


def _wang_applies(client: TestClient) -> str:
    status, location, text = _apply(
        client,
        "deed-tax",
        {
            **WANG_FORM,
            "spouse_id_number": "",
            "keep.spouse_id_number": "1",
            "commitment": "family_housing_truthful",
        },
    )
    assert status == 303, text
    return location.rsplit("/", 1)[1]


def _rating_section(text: str) -> str:
    found = re.search(r'<section class="panel" id="rating-slot".*?</section>', text, re.S)
    return found.group(0) if found else ""


def test_the_applicant_rates_an_ended_case_once_on_the_progress_page(env: WebEnv, client: TestClient) -> None:
    csrf = applicant_sign_in(client, "wang")
    case_id = _wang_applies(client)
    # not ended yet (queued, not decided): no form, and a post is refused with the reason
    pending = client.get(f"/my/cases/{case_id}")
    assert "审查中" in pending.text and 'id="rating-form"' not in pending.text
    assert 'id="rating-slot"' not in pending.text
    early = client.post(f"/my/cases/{case_id}/rating", data={"csrf": csrf, "level": "satisfied"})
    assert early.status_code == 409 and "办结后方可评价" in early.text
    _decide(env)
    page = client.get(f"/my/cases/{case_id}")
    form = _rating_section(page.text)
    assert 'id="rating-form"' in form and f'action="/my/cases/{case_id}/rating"' in form
    for label in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        assert f"> {label}</label>" in form, label
    assert 'maxlength="500"' in form and f'value="{csrf}"' in form
    # the same checks as the API, with the same messages; what was typed is kept
    none = client.post(f"/my/cases/{case_id}/rating", data={"csrf": csrf, "comment": "很快"})
    assert none.status_code == 422 and "请选择评价等级" in none.text and ">很快</textarea>" in none.text
    long = client.post(
        f"/my/cases/{case_id}/rating", data={"csrf": csrf, "level": "satisfied", "comment": "好" * 501}
    )
    assert long.status_code == 422 and "评价内容过长（不超过 500 字）" in long.text
    forged = client.post(f"/my/cases/{case_id}/rating", data={"csrf": "forged", "level": "satisfied"})
    assert forged.status_code == 403 and "页面已过期" in forged.text
    r = client.post(
        f"/my/cases/{case_id}/rating",
        data={"csrf": csrf, "level": "very_satisfied", "comment": "  网上办理，一次都没跑  "},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/my/cases/{case_id}?msg=rated"
    done = _rating_section(client.get(r.headers["location"]).text)
    assert "您已评价：<strong>非常满意</strong>" in done and "网上办理，一次都没跑" in done
    assert 'id="rating-form"' not in done and "感谢您的评价" in done
    again = client.post(f"/my/cases/{case_id}/rating", data={"csrf": csrf, "level": "dissatisfied"})
    assert again.status_code == 409 and "该案件已评价，每件案件只能评价一次" in again.text
    assert "您已评价：<strong>非常满意</strong>" in again.text
    with env.services.sessions() as session:
        rating = session.scalars(select(RatingRow).where(RatingRow.case_id == case_id)).one()
        assert (rating.score, rating.comment, rating.rated_by) == (5, "网上办理，一次都没跑", "wang")
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.subject == case_id, AuditEvent.action == "case.rated")
        ).all()
        assert len(events) == 1 and events[0].actor == "wang"
    # another applicant neither sees nor rates it
    client.cookies.clear()
    other = applicant_sign_in(client, "yu")
    assert client.get(f"/my/cases/{case_id}").status_code == 404
    r = client.post(f"/my/cases/{case_id}/rating", data={"csrf": other, "level": "very_dissatisfied"})
    assert r.status_code == 404 and "网上办理" not in r.text
    with env.services.sessions() as session:
        assert session.scalars(select(RatingRow.score).where(RatingRow.case_id == case_id)).all() == [5]


def test_a_bad_rating_opens_a_follow_up_the_department_closes_on_its_page(
    env: WebEnv, client: TestClient
) -> None:
    csrf = applicant_sign_in(client, "wang")
    case_id = _wang_applies(client)
    _decide(env)
    comment = f"窗口让我跑了两趟，我是王成帆，电话 13812345678，身份证 {WANG}"
    r = client.post(
        f"/my/cases/{case_id}/rating", data={"csrf": csrf, "level": "very_dissatisfied", "comment": comment}
    )
    assert r.status_code == 303, r.text
    shown = _rating_section(client.get(f"/my/cases/{case_id}").text)
    assert "您已评价：<strong>非常不满意</strong>" in shown and "回访" in shown
    # the applicant cannot reach the staff pages
    assert client.get("/follow-ups").status_code == 403
    assert client.get("/ratings").status_code == 403
    with env.services.sessions() as session:
        task = session.scalars(
            select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.kind == "follow_up")
        ).one()
        task_id = task.id
    # another department's approver does not see it
    client.cookies.clear()
    build = staff_sign_in(client, "build")
    assert case_id not in client.get("/follow-ups").text
    r = client.post(f"/follow-ups/{task_id}/close", data={"csrf": build, "comment": "已回访"})
    assert r.status_code == 404 and "没有编号为" in r.text
    # the department's approver sees it, masked, and closes it with a note
    client.cookies.clear()
    csrf = staff_sign_in(client, "tax")
    page = client.get("/follow-ups")
    assert page.status_code == 200 and "差评回访整改" in page.text
    row = re.search(rf'<tr[^>]*data-task="{task_id}".*?</tr>', page.text, re.S)
    assert row is not None
    line = row.group(0)
    assert case_id in line and "契税申报（个人购买住房）" in line and "非常不满意" in line
    assert "窗口让我跑了两趟" in line and "王*帆" in line and "138****5678" in line
    assert "510122********2792" in line
    assert "王成帆" not in line and "13812345678" not in line and WANG not in line
    assert "回访处理情况" in line and f'action="/follow-ups/{task_id}/close"' in line
    empty = client.post(f"/follow-ups/{task_id}/close", data={"csrf": csrf, "comment": "  "})
    assert empty.status_code == 422 and "请填写回访处理情况" in empty.text
    r = client.post(
        f"/follow-ups/{task_id}/close", data={"csrf": csrf, "comment": "已电话回访申请人并致歉，窗口已整改"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/follow-ups?msg=closed"
    after = client.get(r.headers["location"])
    assert "回访任务已办结" in after.text and f'data-task="{task_id}"' not in after.text
    history = client.get("/follow-ups?done=1")
    assert f'data-task="{task_id}"' in history.text and "已电话回访申请人并致歉" in history.text
    again = client.post(f"/follow-ups/{task_id}/close", data={"csrf": csrf, "comment": "再次办结"})
    assert again.status_code == 409 and "该回访任务已办结" in again.text
    with env.services.sessions() as session:
        done = session.get(TaskRow, task_id)
        assert done is not None and (done.status, done.outcome, done.decided_by) == ("done", "closed", "tax")
        actions = [
            e.action
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.subject == case_id).order_by(AuditEvent.seq)
            )
        ]
    assert actions[-4:] == ["task.opened.follow_up", "case.rated", "task.claimed", "task.decided.follow_up"]
    # the summary counts the case's department and item
    summary = client.get("/ratings")
    assert summary.status_code == 200
    with env.services.sessions() as session:
        scores = session.scalars(select(RatingRow.score).where(RatingRow.item == "deed-tax")).all()
    assert 1 in scores
    row = re.search(r"<tr>\s*<td>契税申报（个人购买住房）</td>.*?</tr>", summary.text, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(0))
    bad = sum(1 for x in scores if x <= 2)
    assert cells[1:6] == [
        "国家税务总局成都市税务局",
        str(len(scores)),
        f"{(len(scores) - bad) / len(scores) * 100:.1f}%",
        f"{bad / len(scores) * 100:.1f}%",
        f"{sum(scores) / len(scores):.2f}",
    ]
    assert cells[6:] == [str(scores.count(n)) for n in (5, 4, 3, 2, 1)]
    assert 'id="ratings-by-department"' in summary.text


# -- another identity provider plugged in ----------------------------------------------------------------
class _FakeProvider:
    """An identity service on the OpenID Connect pattern: its own sign-in page, then a callback with a
    code; the code says whom it vouches for."""

    name = "测试统一身份认证"

    def start(self, *, state: str, return_to: str) -> str | None:
        return f"https://idp.example/authorize?state={state}"

    def finish(self, services: object, credentials: dict[str, str]) -> Assertion | None:
        vouched = {"wang": Subject("person", WANG), "wrong-subject": Subject("person", YU)}
        code = credentials.get("code", "")
        if code not in vouched:
            return None
        account = "wang"
        return Assertion(account=account, subject=vouched[code])


def test_an_identity_provider_on_the_redirect_pattern_signs_applicants_in(env: WebEnv) -> None:
    app = create_app(env.settings, services=env.services, identity=_FakeProvider())
    with TestClient(app, follow_redirects=False) as client:

        def start() -> str:
            r = client.get("/login/applicant?next=/my/apply/deed-tax")
            assert r.status_code == 303 and r.headers["location"].startswith("https://idp.example/authorize")
            return r.headers["location"].split("state=", 1)[1]

        start()
        assert client.get("/login/applicant/callback?state=forged&code=wang").status_code == 403
        refused = client.get(f"/login/applicant/callback?state={start()}&code=wrong-subject")
        assert refused.status_code == 403 and "不一致" in refused.text
        state = start()
        assert client.get(f"/login/applicant/callback?state={state}&code=nobody").status_code == 401
        # a state is used once
        assert client.get(f"/login/applicant/callback?state={state}&code=wang").status_code == 403
        r = client.get(f"/login/applicant/callback?state={start()}&code=wang")
        assert r.status_code == 303 and r.headers["location"] == "/my/apply/deed-tax"
        assert client.get("/my").status_code == 200
