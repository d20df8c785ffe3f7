"""End to end in headless Chromium (Debian's package) against a real uvicorn server: sign in, the
queue with its counts, the case page with its conditions and the scanned contract's fields outlined,
claim, decide, download the result document and verify it; and the pages' refusals.

Set MIAOPI_WEB_SCREENSHOTS=DIR to keep screenshots of the pages visited."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_kit import APPROVED, CHROMIUM, OTHER_DEPARTMENT, OVERDUE, PASSWORD, WITH_CONTRACT, WebEnv

SHOTS = os.environ.get("MIAOPI_WEB_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser(server: tuple[str, WebEnv]) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, server: tuple[str, WebEnv]) -> Iterator[Page]:
    base, _env = server
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Page, user_id: str, password: str = PASSWORD) -> None:
    page.goto("/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
    page.get_by_label("用户名").fill(user_id)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_wrong_password_is_refused_in_chinese(page: Page) -> None:
    sign_in(page, "tax", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    expect(page.get_by_label("用户名")).to_have_value("tax")
    shot(page, "login-error")


def test_review_claim_decide_and_verify(page: Page, server: tuple[str, WebEnv]) -> None:
    sign_in(page, "tax")
    expect(page).to_have_url(re.compile(r"/queue$"))
    expect(page.get_by_role("heading", name=re.compile("人工审核队列"))).to_be_visible()
    counts = {c: page.locator(f'a[data-card="{c}"] .count').inner_text() for c in ("red", "yellow", "green")}
    assert int(counts["red"]) == 1
    assert sum(int(v) for v in counts.values()) == 2
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(OVERDUE)  # the red card first
    expect(rows.first).to_contain_text("红牌")
    expect(rows.first).to_contain_text("已超期")
    expect(page.locator("table.queue")).not_to_contain_text(OTHER_DEPARTMENT)
    shot(page, "queue")

    page.get_by_role("link", name="红牌").click()
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    page.goto("/post-checks")
    expect(page.locator("table.queue")).to_contain_text(APPROVED)

    page.goto("/queue")
    page.get_by_role("link", name=WITH_CONTRACT).click()
    expect(page.get_by_role("heading", name=re.compile("契税"))).to_be_visible()
    expect(page.locator("#case-outcome")).to_have_text("转人工审核")
    failing = page.locator("#cond-deal_price_matches")
    expect(failing).to_contain_text("未通过")
    expect(failing).to_contain_text("1980000.00")
    expect(page.locator("table.conditions tbody tr")).to_have_count(10)
    expect(page.locator("ol.reasons")).to_contain_text("合同价格 1980000.00 元")
    expect(page.locator('table.records[data-registry="population"]')).to_contain_text("510106199509110988")

    # the scanned contract with the price outlined as a field to check
    image = page.locator(".document img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    price = page.locator('.overlay .box.flagged[data-field="price_yuan"] rect')
    expect(price).to_have_count(1)
    img_box, rect = image.bounding_box(), price.bounding_box()
    assert img_box is not None and rect is not None
    assert img_box["x"] <= rect["x"] < rect["x"] + rect["width"] <= img_box["x"] + img_box["width"] + 1
    assert img_box["y"] <= rect["y"] < rect["y"] + rect["height"] <= img_box["y"] + img_box["height"] + 1
    assert rect["width"] > 20 and rect["height"] > 5
    expect(page.locator(".overlay .box:not(.flagged)").first).to_be_attached()
    expect(page.locator("tr.field-flagged")).to_contain_text("成交总价")
    if SHOTS:
        page.locator(".document").first.screenshot(path=str(Path(SHOTS) / "document.png"))
    shot(page, "case")

    page.get_by_role("button", name="认领任务").click()
    expect(page.get_by_role("status")).to_contain_text("已认领任务")
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#page-error")).to_contain_text("请选择处理结果")
    page.get_by_role("radio", name=re.compile("准予办理")).check()
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#page-error")).to_contain_text("审批意见为必填项")
    shot(page, "decide-error")
    page.get_by_role("radio", name=re.compile("准予办理")).check()
    page.get_by_label(re.compile("审批意见")).fill("经核实，合同价格以网签合同为准，差额系装修款，准予办理")
    page.get_by_role("button", name="提交决定").click()
    expect(page.get_by_role("status")).to_contain_text("已作出决定")
    expect(page.locator("#case-outcome")).to_have_text("准予（人工审核通过）")  # by an approver: not 秒批
    shot(page, "decided")

    with page.expect_download() as info:
        page.get_by_role("link", name="下载 PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")

    page.get_by_role("link", name="核验", exact=True).click()
    expect(page.locator(".verdict")).to_contain_text("真实有效")
    expect(page.locator("main")).to_contain_text(WITH_CONTRACT)
    shot(page, "verify")


def test_other_department_and_verify_form(page: Page) -> None:
    sign_in(page, "tax")
    response = page.goto(f"/cases/{OTHER_DEPARTMENT}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text(f"没有编号为 {OTHER_DEPARTMENT} 的案件")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("status")).to_contain_text("已退出登录")
    page.goto("/verify")
    page.get_by_label(re.compile("核验码")).fill("ABCD-EFGH-JKLM-NPQR")
    page.get_by_role("button", name="核验").click()
    expect(page.locator(".verdict")).to_contain_text("未通过核验")
