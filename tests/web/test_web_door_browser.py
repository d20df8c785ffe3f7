"""The applicant's door end to end in headless Chromium (Debian's package) against a real uvicorn server
with a worker beside it: sign in, apply with the form prefilled and get the answer of a 即办件 in seconds
with the result to download, a returned case corrected and resubmitted then approved, and a review
followed to its end.

Set MIAOPI_WEB_SCREENSHOTS=DIR to keep screenshots of the pages visited."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from web_kit import CHROMIUM, PASSWORD, SAMPLES, WebEnv, build_env, free_port, require_chromium

from miaopi.worker import run_worker
from service.review import claim_task, decide_task
from service.transactions import utcnow
from service.users import add_user, subject_for
from store.records import RatingRow, TaskRow, User

SHOTS = os.environ.get("MIAOPI_WEB_SCREENSHOTS")
CONTRACT = SAMPLES / "documents" / "purchase_contract" / "pc-23-dt-34.pdf"
APPLICANTS = {
    "wang": ("王成帆", "510122198209032792"),
    "yu": ("余娜雪", "510106199509110988"),
    "ding": ("丁艳", "510112198702105008"),
}


@pytest.fixture(scope="module")
def door(web_root: Path) -> Iterator[tuple[str, WebEnv]]:
    """The app under uvicorn and a worker deciding what is submitted, both in threads."""
    import uvicorn

    from api.app import create_app

    require_chromium()
    env = build_env(web_root, cases=[])
    for user_id, (name, subject) in APPLICANTS.items():
        add_user(
            env.services,
            user_id=user_id,
            display_name=name,
            role="applicant",
            department=None,
            password=PASSWORD,
            subject=subject_for(env.services, subject_id=subject),
            now=utcnow(),
        )
    port = free_port()
    config = uvicorn.Config(
        create_app(env.settings, services=env.services), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    stopping = threading.Event()
    worker = threading.Thread(target=run_worker, args=(env.settings,), kwargs={"stop": stopping.is_set})
    thread.start()
    worker.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        stopping.set()
        worker.join(30)
        srv.should_exit = True
        thread.join(10)
        env.services.engine.dispose()


@pytest.fixture(scope="module")
def browser(door: tuple[str, WebEnv]) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, door: tuple[str, WebEnv]) -> Iterator[Page]:
    base, _env = door
    context = browser.new_context(
        base_url=base, viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(20_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"door-{name}.png"), full_page=True)


def sign_in(page: Page, user_id: str) -> None:
    page.goto("/my")
    expect(page).to_have_url(re.compile(r"/login/applicant\?next=/my$"))
    expect(page.get_by_role("heading", name="申请人登录")).to_be_visible()
    page.get_by_label("账号").fill(user_id)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/my$"))
    expect(page.get_by_role("heading", name="我的办件")).to_be_visible()


def fill_deed_tax(page: Page, **values: str) -> None:
    form = {
        "house_address": "成都市双流区白河路1024号5栋1单元1001号",
        "area_m2": "118.56",
        "price_yuan": "2135000.00",
        "contract_signed_on": "2026-10-20",
        "contract_filing_no": "WQ20261010003",
        "declared_family_houses": "1",
        **values,
    }
    for name, value in form.items():
        page.locator(f'[name="{name}"]').fill(value)
    page.locator('select[name="usage"]').select_option("residential")
    page.get_by_label(re.compile("本人承诺")).check()


def test_sign_in_apply_with_prefill_and_download_the_instant_result(page: Page) -> None:
    sign_in(page, "wang")
    page.get_by_role("link", name="契税申报（个人购买住房）").first.click()
    expect(page.get_by_role("heading", name=re.compile("在线申请"))).to_be_visible()
    expect(page.locator("#applicant-name")).to_contain_text("王成帆")
    expect(page.locator("#applicant-name")).to_contain_text("已自动填写")
    expect(page.locator("#field-spouse_id_number")).to_contain_text("已自动填写")
    expect(page.locator("#field-spouse_id_number")).to_contain_text("510102********0380")
    shot(page, "apply")
    fill_deed_tax(page)
    started = time.monotonic()
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("heading", name="契税申报（个人购买住房）")).to_be_visible()
    expect(page.locator("#case-state")).to_have_text("已办结（准予办理）")
    assert time.monotonic() - started < 20  # an answer in seconds: the page refreshed itself
    expect(page.locator("#timeline")).to_contain_text("受理")
    expect(page.locator("#timeline")).to_contain_text("系统审查完成：准予办理")
    expect(page.locator("#timeline")).to_contain_text("北京时间")
    shot(page, "approved")
    with page.expect_download() as info:
        page.locator("#results a.download").first.click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    path = download.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF")


def test_a_returned_case_corrected_and_resubmitted_then_approved(page: Page) -> None:
    sign_in(page, "yu")
    page.goto("/my/apply/deed-tax")
    fill_deed_tax(
        page,
        house_address="成都市成华区府青路二段1166号10栋1单元2004号",
        area_m2="108.00",
        price_yuan="1950000.00",
        contract_signed_on="2026-10-17",
        contract_filing_no="",
        declared_family_houses="0",
    )
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#case-state")).to_have_text("退回补正")
    expect(page.locator("#return-notice")).to_contain_text("一次性告知单")
    case_id = page.url.rsplit("/", 1)[1]
    shot(page, "returned")
    page.get_by_role("link", name="补正后重新提交").click()
    expect(page.get_by_role("heading", name=re.compile("补正后重新提交"))).to_be_visible()
    expect(page.locator('[name="house_address"]')).to_have_value(
        "成都市成华区府青路二段1166号10栋1单元2004号"
    )
    page.locator('[name="file.purchase_contract"]').set_input_files(str(CONTRACT))
    page.get_by_role("button", name="提交补正").click()
    expect(page).to_have_url(re.compile(rf"/my/cases/{case_id}"))  # the same case, not a new one
    expect(page.locator("#case-state")).to_have_text("已办结（准予办理）")
    expect(page.locator("#timeline")).to_contain_text("已提交补正")
    expect(page.locator("#results")).to_contain_text("准予文书")
    shot(page, "corrected")


def test_a_review_followed_to_its_end(page: Page, door: tuple[str, WebEnv]) -> None:
    _base, env = door
    sign_in(page, "ding")
    page.goto("/my/apply/deed-tax")
    fill_deed_tax(
        page,
        house_address="成都市郫都区望丛中路59号7栋1单元2802号",
        area_m2="95.00",
        price_yuan="1700000.00",
        contract_signed_on="2026-09-14",
        contract_filing_no="WQ20260910029",
        declared_family_houses="0",
    )
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#case-state")).to_have_text("人工审核中")
    expect(page.locator("#review-due")).to_contain_text("前办结")
    expect(page.locator("#timeline")).to_contain_text("转人工审核，承诺于")
    case_id = page.url.rsplit("/", 1)[1]
    shot(page, "review")
    with env.services.sessions() as session:
        approver = session.get(User, "tax")
        task_id = session.scalars(select(TaskRow.id).where(TaskRow.case_id == case_id)).one()
        assert approver is not None
        session.expunge(approver)
    claim_task(env.services, user=approver, task_id=task_id, now=utcnow())
    expect(page.locator("#timeline")).not_to_contain_text("审核人员正在审核")
    page.reload()
    expect(page.locator("#timeline")).to_contain_text("审核人员正在审核")
    decide_task(
        env.services,
        user=approver,
        task_id=task_id,
        outcome="approve",
        comment="家庭住房套数经核实",
        now=utcnow(),
    )
    page.reload()
    expect(page.locator("#case-state")).to_have_text("已办结（准予办理）")
    expect(page.locator("#timeline")).to_contain_text("人工审核完成：准予办理")
    expect(page.locator("#results")).to_contain_text("准予文书")
    shot(page, "reviewed")


def test_a_finished_case_rated_on_its_progress_page(page: Page, door: tuple[str, WebEnv]) -> None:
    _base, env = door
    sign_in(page, "wang")
    page.goto("/my/apply/deed-tax")
    fill_deed_tax(page)
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#case-state")).to_have_text("已办结（准予办理）")
    case_id = page.url.rsplit("/", 1)[1]
    rating = page.locator("#rating-slot")
    expect(rating.get_by_role("heading", name="好差评")).to_be_visible()
    rating.get_by_label("满意", exact=True).check()
    rating.get_by_label(re.compile("评价内容")).fill("网上申报，几秒就办好了")
    shot(page, "rating")
    rating.get_by_role("button", name="提交评价").click()
    expect(page).to_have_url(re.compile(rf"/my/cases/{case_id}\?msg=rated$"))
    expect(page.locator("#rating-given")).to_have_text(re.compile(r"^您已评价：满意（"))
    expect(page.locator("#rating-comment")).to_have_text("评价内容：网上申报，几秒就办好了")
    expect(page.locator("#rating-form")).to_have_count(0)
    page.reload()  # the rating stays: no form again
    expect(page.locator("#rating-given")).to_contain_text("您已评价：满意")
    expect(page.locator("#rating-form")).to_have_count(0)
    shot(page, "rated")
    with env.services.sessions() as session:
        score = session.scalars(select(RatingRow.score).where(RatingRow.case_id == case_id)).one()
    assert score == 4
