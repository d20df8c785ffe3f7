"""Result documents from real decisions of both pilots, read back with pdfplumber."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.case import CHINA_TZ
from engine.decision import Decision, decide
from engine.evaluate import DurableEvaluator
from engine.program import Program, build_program
from service.cases import read_case_file, resolve_documents
from service.documents import DocumentReader
from service.masking import mask_text
from service.result_pdf import (
    CODE_ALPHABET,
    RenderedResult,
    ResultError,
    is_well_formed,
    new_verification_code,
    normalize_code,
    render_result,
    result_kind,
)
from service.rulesets import RulesetCatalogue as RulesetRepository
from service.settings import get_settings
from store.db import create_engine_for, create_schema
from store.loader import load_directory
from store.registry import SqlRegistry

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
ISSUED = datetime(2026, 11, 22, 10, 30, tzinfo=CHINA_TZ)
CASES = {
    "dt-01-only-home-small": "approved",
    "dt-17-half-up-rounding": "approved",
    "dt-22-name-mismatch": "review",
    "dt-29-declared-houses-wrong": "review",
    "dt-39-returned-despite-problems": "returned",
    "dt-47-contract-file-broken": "returned",
    "sp-01-general-grade1-clean": "approved",
    "sp-11-enterprise-not-found-no-licence": "returned",
    "sp-15-after-expiry": "rejected",
    "sp-39-missing-commitment": "returned",
    "sp-40-expired-and-no-commitment": "rejected",
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlRegistry]:
    engine = create_engine_for(f"sqlite:///{tmp_path_factory.mktemp('results') / 'registry.db'}")
    create_schema(engine)
    load_directory(engine, SAMPLES / "shared-data")
    yield SqlRegistry(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def repository() -> RulesetRepository:
    return RulesetRepository(ROOT / "rulesets")


def decide_sample(case_id: str, program: Program, registry: SqlRegistry) -> Decision:
    folder = "deed-tax" if case_id.startswith("dt-") else "safety-permit-renewal"
    path = SAMPLES / folder / "cases" / f"{case_id}.json"
    case, _ = read_case_file(path)
    with DocumentReader(get_settings().extract_options()) as reader:
        documents = resolve_documents(case, path.parent, program=program, reader=reader)
    return decide(
        program,
        case=case,
        registry=registry,
        evaluator=DurableEvaluator(),
        now=case.submitted_at,
        documents=documents,
    )


@pytest.fixture(scope="module")
def decisions(registry: SqlRegistry, repository: RulesetRepository) -> dict[str, Decision]:
    out = {}
    for case_id, outcome in CASES.items():
        program = repository.get("deed-tax" if case_id.startswith("dt-") else "safety-permit-renewal")
        decision = decide_sample(case_id, program, registry)
        assert decision.outcome == outcome, case_id
        # what the service stores and reads back
        out[case_id] = Decision.model_validate(decision.to_json_dict())
    return out


def render(
    decision: Decision, repository: RulesetRepository, *, name: str = "钟萍秀", **kw: Any
) -> RenderedResult:
    code = kw.pop("verification_code", None) or new_verification_code()
    args: dict[str, Any] = {
        "ruleset": repository.get(decision.item).ruleset,
        "decision": decision,
        "applicant_name": name,
        "verification_code": code,
        "verify_url": f"https://zwfw.example.gov.cn/verify/{code}",
        "issued_at": ISSUED,
    }
    args.update(kw)
    return render_result(**args)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def read_back(pdf: bytes) -> tuple[str, list[Any]]:
    """All text of the PDF (page text and table cells, whitespace removed) and its pages' images."""
    parts: list[str] = []
    images: list[Any] = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            assert (page.width, page.height) == pytest.approx((595.28, 841.89), abs=0.1)  # A4
            parts.append(page.extract_text() or "")
            for table in page.extract_tables():
                for row in table:
                    parts.extend(cell or "" for cell in row)
            images.extend(page.images)
    return squash("\n".join(parts)), images


def decode_qr(pdf: bytes) -> list[str]:
    """The text of every QR code image in the PDF: each image's area rendered and decoded."""
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    pdfium = pytest.importorskip("pypdfium2")
    found = []
    doc = pdfium.PdfDocument(pdf)
    try:
        with pdfplumber.open(io.BytesIO(pdf)) as plumb:
            for i, page in enumerate(plumb.pages):
                for image in page.images:
                    scale = 4
                    rendered = doc[i].render(scale=scale).to_pil().convert("L")
                    box = [
                        (image["x0"] - 12) * scale,
                        (image["top"] - 12) * scale,
                        (image["x1"] + 12) * scale,
                        (image["bottom"] + 12) * scale,
                    ]
                    crop = np.array(rendered.crop(tuple(int(b) for b in box)))
                    found.append(cv2.QRCodeDetector().detectAndDecode(crop)[0])
    finally:
        doc.close()
    return found


def assert_common(result: RenderedResult, decision: Decision, text: str, images: list[Any]) -> None:
    rs = result.grants
    assert squash(result.title) in text
    assert rs["verification_code"] in text
    assert squash(rs["item"]["name"]) in text
    assert rs["item"]["code"] in text
    assert squash(rs["item"]["department"]) in text
    assert decision.case_id and decision.case_id in text
    assert "2026年11月22日" in text
    assert images, "the QR code is embedded as an image"
    url = f"https://zwfw.example.gov.cn/verify/{rs['verification_code']}"
    assert url in text
    assert decode_qr(result.pdf) == [url]


# -- approvals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", ["dt-01-only-home-small", "dt-17-half-up-rounding"])
def test_deed_tax_approval_carries_the_computed_amounts(
    case_id: str, decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions[case_id]
    result = render(decision, repository)
    text, images = read_back(result.pdf)
    assert result.kind == "approval"
    assert result.title == "契税完税证明"
    assert result.pdf.startswith(b"%PDF")
    assert_common(result, decision, text, images)
    assert "钟萍秀" in text
    ruleset = repository.get("deed-tax").ruleset
    for name in ("tax_base", "tax_amount"):
        assert squash(ruleset.outputs[name].title) in text
        amount = f"{float(decision.outputs[name]):,.2f}"
        assert f"{amount}元" in text, (name, amount)
    assert "大写" in text
    for condition in decision.conditions:
        assert squash(condition.title) in text
    assert "告知承诺" in text  # the family-housing commitment
    assert result.grants["outputs"]["tax_amount"]["value"] == decision.outputs["tax_amount"]
    assert result.grants["result"] == "契税完税证明"
    assert result.grants["on_commitment"] is True


def test_half_up_amount_is_printed_as_decided(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions["dt-17-half-up-rounding"]
    text, _ = read_back(render(decision, repository).pdf)
    assert decision.outputs["tax_amount"].split(".")[1] in text


def test_permit_extension_approval_states_the_new_validity(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions["sp-01-general-grade1-clean"]
    result = render(decision, repository, name="四川蜀建建设工程有限公司")
    text, images = read_back(result.pdf)
    assert result.title == "建筑施工企业安全生产许可证（延期）"
    assert_common(result, decision, text, images)
    y, m, d = (int(x) for x in decision.outputs["new_valid_to"].split("-"))
    assert f"{y}年{m}月{d}日" in text
    assert "延期后有效期至" in text
    assert result.grants["valid_until"] == decision.outputs["new_valid_to"]
    for condition in decision.conditions:
        assert squash(condition.title) in text
    # exempt materials and why (免提交)
    for material in decision.materials:
        if material.status == "exempt":
            assert squash(material.reason or "") in text


def test_rendering_is_reproducible(decisions: dict[str, Decision], repository: RulesetRepository) -> None:
    code = new_verification_code()
    first = render(decisions["dt-01-only-home-small"], repository, verification_code=code)
    second = render(decisions["dt-01-only-home-small"], repository, verification_code=code)
    assert first.pdf == second.pdf
    assert first.sha256 == second.sha256


# -- 一次性告知单 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case_id",
    [
        "dt-39-returned-despite-problems",
        "dt-47-contract-file-broken",
        "sp-11-enterprise-not-found-no-licence",
        "sp-39-missing-commitment",
    ],
)
def test_returned_case_gets_every_material_and_reason_at_once(
    case_id: str, decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions[case_id]
    result = render(decision, repository)
    text, images = read_back(result.pdf)
    assert result.kind == "correction_notice"
    assert "一次性告知单" in text and "补正材料通知" in text
    assert_common(result, decision, text, images)
    assert decision.missing_materials
    for material in decision.missing_materials:
        assert squash(material.title) in text
        assert squash(mask_text(material.message)) in text
    for reason in decision.reasons:
        assert squash(mask_text(reason.message)) in text, reason.message
        if reason.basis:
            assert squash(reason.basis) in text
    assert result.grants["result"] is None
    assert result.grants["materials"] == [m.id for m in decision.missing_materials]


def test_broken_document_is_named_with_why(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    text, _ = read_back(render(decisions["dt-47-contract-file-broken"], repository).pdf)
    assert "无法读取" in text and "重新提交" in text


def test_id_numbers_in_reasons_are_masked(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions["dt-39-returned-despite-problems"]
    ids = re.findall(r"\d{17}[\dX]", " ".join(r.message for r in decision.reasons))
    assert ids, "the sample names the registered spouse"
    text, _ = read_back(render(decision, repository).pdf)
    for number in ids:
        assert number not in text
        assert number[:6] + "********" + number[-4:] in text


# -- 不予受理 / 不予许可 ---------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", ["sp-15-after-expiry", "sp-40-expired-and-no-commitment"])
def test_rejected_permit_gets_a_refusal_with_basis_and_remedies(
    case_id: str, decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    decision = decisions[case_id]
    result = render(decision, repository, name="四川蜀建建设工程有限公司")
    text, images = read_back(result.pdf)
    assert result.kind == "refusal_notice"
    assert result.title == "不予许可决定书"
    assert_common(result, decision, text, images)
    for reason in decision.reasons:
        assert squash(mask_text(reason.message)) in text
        assert reason.basis and squash(reason.basis) in text
    assert "行政复议" in text and "行政诉讼" in text
    assert "permit_not_expired" in result.grants["grounds"]


def test_refusal_of_a_non_licence_item_is_a_non_acceptance_notice(
    registry: SqlRegistry, repository: RulesetRepository
) -> None:
    # the deed-tax ruleset with one condition made an automatic refusal, decided by the engine
    text = (ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text(encoding="utf-8")
    marker = "  - id: family_houses_match\n"
    head, tail = text.split(marker, 1)
    tail = tail.replace("on_fail: review", "on_fail: reject", 1)
    program = build_program(head + marker + tail, source="deed-tax-reject.yaml")
    decision = decide_sample("dt-29-declared-houses-wrong", program, registry)
    assert decision.outcome == "rejected"
    result = render_result(
        ruleset=program.ruleset,
        decision=decision,
        applicant_name="钟萍秀",
        verification_code=(code := new_verification_code()),
        verify_url=f"https://zwfw.example.gov.cn/verify/{code}",
        issued_at=ISSUED,
    )
    assert result.title == "不予受理通知书"
    text_back, _ = read_back(result.pdf)
    assert "不予受理通知书" in text_back
    for reason in decision.reasons:
        assert squash(mask_text(reason.message)) in text_back


# -- bad inputs ------------------------------------------------------------------------------------


def test_review_decisions_get_no_document(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    assert result_kind("review") is None
    with pytest.raises(ResultError, match="转人工审核") as info:
        render(decisions["dt-22-name-mismatch"], repository)
    assert info.value.code == "result_not_renderable"


@pytest.mark.parametrize(
    ("case_id", "kind"),
    [
        ("dt-39-returned-despite-problems", "approval"),
        ("sp-15-after-expiry", "approval"),
        ("dt-01-only-home-small", "refusal_notice"),
        ("dt-01-only-home-small", "correction_notice"),
        ("dt-22-name-mismatch", "approval"),
    ],
)
def test_a_document_of_another_outcome_is_refused(
    case_id: str, kind: str, decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    with pytest.raises(ResultError, match="办件结果为") as info:
        render(decisions[case_id], repository, kind=kind)
    assert info.value.path == "decision.outcome"


def test_inconsistent_inputs_are_refused(
    decisions: dict[str, Decision], repository: RulesetRepository
) -> None:
    approved = decisions["dt-01-only-home-small"]
    with pytest.raises(ResultError) as info:
        render(approved, repository, ruleset=repository.get("safety-permit-renewal").ruleset)
    assert info.value.path == "ruleset.item.id"
    other_version = repository.get("deed-tax").ruleset.model_copy(update={"version": "1999.1"})
    with pytest.raises(ResultError) as info:
        render(approved, repository, ruleset=other_version)
    assert info.value.path == "ruleset.version"
    tampered = approved.model_copy(
        update={"conditions": [approved.conditions[0].model_copy(update={"status": "fail"})]}
    )
    with pytest.raises(ResultError, match="未通过"):
        render(tampered, repository)
    with pytest.raises(ResultError) as info:
        render(approved, repository, issued_at=datetime(2026, 11, 22, 10))
    assert info.value.path == "issued_at"
    for url in ("javascript:alert(1)", "https://a.example/ x", ""):
        with pytest.raises(ResultError) as info:
            render(approved, repository, verify_url=url)
        assert info.value.path == "verify_url"
    with pytest.raises(ResultError) as info:
        render(approved, repository, name="  ")
    assert info.value.path == "applicant_name"
    code = new_verification_code()
    typo = code[:-1] + next(c for c in CODE_ALPHABET if c != code[-1])
    with pytest.raises(ResultError, match="校验位") as info:
        render(approved, repository, verification_code=typo)
    assert info.value.path == "verification_code"


# -- verification codes ----------------------------------------------------------------------------


def test_codes_are_grouped_unique_and_well_formed() -> None:
    codes = {new_verification_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:200]:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
        assert is_well_formed(code)
        assert normalize_code(code) == code


def test_codes_as_typed_are_normalised() -> None:
    code = new_verification_code()
    typed = code.replace("-", " ").lower()
    assert normalize_code(typed) == code
    assert is_well_formed(code.replace("-", ""))
    zero = next(c for c in (new_verification_code() for _ in range(500)) if "0" in c[:-1])
    assert normalize_code(zero.replace("0", "O")) == zero
    for bad in ("", "ABCD", "U" * 16, "我" * 16, zero + "0"):
        assert not is_well_formed(bad)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_wrong_character_is_caught(data: st.DataObject) -> None:
    code = new_verification_code().replace("-", "")
    i = data.draw(st.integers(min_value=0, max_value=len(code) - 1))
    other = data.draw(st.sampled_from([c for c in CODE_ALPHABET if c != code[i]]))
    assert not is_well_formed(code[:i] + other + code[i + 1 :])


def test_most_swaps_of_neighbours_are_caught() -> None:
    caught = total = 0
    for _ in range(300):
        code = new_verification_code().replace("-", "")
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                total += 1
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                caught += not is_well_formed(swapped)
    assert caught / total > 0.95
