"""Trace tests on the pilot rulesets: they assert *why* a decision came out as it did — which
conditions fail or are unknown, the values used and where each came from — not only the outcome."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from engine_kit import CHINA_TZ, assert_invariants, comparable, make_credit_code, make_id, pilot
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from engine.case import Case, parse_case
from engine.decision import Decision, decide
from engine.errors import CaseError
from engine.evaluate import DurableEvaluator, ReferenceEvaluator
from engine.facts import DocumentFacts
from engine.identifiers import id_number_problem
from engine.labels import coded_labels
from engine.ports import InMemoryRegistry

SUBMITTED = "2026-11-21T10:00:00+08:00"
ON = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 10, 0, 1, tzinfo=CHINA_TZ)

# deed tax: the applicant's ID has a region code (510104) assigned after the year of birth
APPLICANT = "510104198502030224"
SPOUSE = make_id(date(1988, 6, 15), 34)
OTHER = make_id(date(1992, 12, 1), 45)
CHILD_18_TODAY = make_id(date(2008, 11, 21), 56)
CHILD_18_TOMORROW = make_id(date(2008, 11, 22), 67)
FILING = "WQ20261010001"
CERT_A = "川(2019)成都市不动产权第0158462号"
CERT_B = "川(2022)成都市不动产权第0182219号"


def person(id_number: str, name: str, birth: date, status: str = "normal") -> dict[str, Any]:
    return {"id_number": id_number, "name": name, "gender": "女", "birth_date": birth, "status": status}


def house(cert: str, owner: str, usage: str = "residential", status: str = "active") -> dict[str, Any]:
    return {
        "cert_no": cert,
        "owner_id_number": owner,
        "address": "成都市高新区交子大道894号",
        "area_m2": Decimal("89.90"),
        "usage": usage,
        "status": status,
        "registered_on": date(2019, 12, 14),
    }


def married(a: str, b: str, on: date = date(2015, 5, 20), status: str = "married") -> list[dict[str, Any]]:
    return [
        {"id_number": a, "spouse_id_number": b, "status": status, "registered_on": on},
        {"id_number": b, "spouse_id_number": a, "status": status, "registered_on": on},
    ]


def deed_registry(**extra: list[dict[str, Any]]) -> InMemoryRegistry:
    rows: dict[str, list[dict[str, Any]]] = {
        "population": [
            person(APPLICANT, "张伟", date(1985, 2, 3)),
            person(SPOUSE, "王芳", date(1988, 6, 15)),
        ],
        "contract_filings": [
            {
                "filing_no": FILING,
                "buyer_id_number": APPLICANT,
                "seller_name": "成都西岭置地有限公司",
                "address": "成都市天府新区麓山大道二段275号",
                "area_m2": Decimal("96.30"),
                "price_yuan": Decimal("1580000.00"),
                "signed_on": date(2026, 10, 8),
                "usage": "residential",
            }
        ],
    }
    for name, more in extra.items():
        rows[name] = [*rows.get(name, []), *more]
    return InMemoryRegistry(rows)


def deed_case(*, applicant: dict[str, Any] | None = None, **form: Any) -> Case:
    data = {
        "house_address": "成都市天府新区麓山大道二段275号",
        "area_m2": "96.30",
        "price_yuan": "1580000.00",
        "usage": "residential",
        "contract_signed_on": "2026-10-08",
        "contract_filing_no": FILING,
        "spouse_id_number": None,
        "declared_family_houses": 0,
    }
    documents = form.pop("documents", [])
    commitments = form.pop("commitments", ["family_housing_truthful"])
    data.update(form)
    return Case.model_validate(
        {
            "item": "deed-tax",
            "case_id": "dt-trace",
            "submitted_at": SUBMITTED,
            "applicant": applicant or {"kind": "person", "name": "张伟", "id_number": APPLICANT},
            "form": data,
            "documents": documents,
            "commitments": commitments,
        }
    )


def run(
    item: str, case: Case, registry: InMemoryRegistry, documents: dict[str, DocumentFacts] | None = None
) -> Decision:
    """Decide through durable_rules, check the reference agrees and the invariants hold."""
    program = pilot(item)
    durable = decide(
        program, case=case, registry=registry, evaluator=DurableEvaluator(), now=NOW, documents=documents
    )
    reference = decide(
        program, case=case, registry=registry, evaluator=ReferenceEvaluator(), now=NOW, documents=documents
    )
    assert comparable(durable) == comparable(reference)
    assert_invariants(durable, program)
    return durable


def by_status(decision: Decision, status: str) -> set[str]:
    return {c.id for c in decision.conditions if c.status == status}


def condition(decision: Decision, cid: str) -> Any:
    return next(c for c in decision.conditions if c.id == cid)


def reason(decision: Decision, cid: str) -> str:
    return next(r.message for r in decision.reasons if r.condition == cid)


# --------------------------------------------------------------------------- deed tax


def test_clean_first_home_is_approved_with_every_value_sourced() -> None:
    d = run("deed-tax", deed_case(), deed_registry())
    assert d.outcome == "approved"
    assert d.outputs["tax_rate"] == "0.01" and d.outputs["tax_amount"] == "15800.00"
    assert d.outputs["tax_base"] == "1580000.00" and d.outputs["family_houses"] == 0
    price = condition(d, "deal_price_matches")
    assert price.values == {"form.price_yuan": "1580000.00", "deal.price_yuan": "1580000.00"}
    assert price.sources["form.price_yuan"] == {"kind": "form", "field": "price_yuan"}
    deal = price.sources["deal.price_yuan"]
    assert deal["kind"] == "derived"
    assert deal["from"][0]["registry"] == "contract_filings"
    assert deal["from"][0]["keys"] == [{"filing_no": FILING, "buyer_id_number": APPLICANT}]
    assert {m.id: m.status for m in d.materials} == {
        "purchase_contract": "exempt",
        "family_housing_commitment": "supplied",
    }


def test_hidden_spouse_fails_with_both_ids_and_the_marriage_record() -> None:
    d = run("deed-tax", deed_case(), deed_registry(marriage=married(APPLICANT, SPOUSE)))
    assert d.outcome == "review"
    assert by_status(d, "fail") == {"spouse_matches_registry"}
    spouse = condition(d, "spouse_matches_registry")
    assert spouse.values == {"form.spouse_id_number": None, "registry_spouse": SPOUSE}
    assert spouse.sources["form.spouse_id_number"] == {"kind": "form", "field": "spouse_id_number"}
    marriage = spouse.sources["registry_spouse"]["from"][0]
    assert marriage["registry"] == "marriage"
    assert marriage["keys"] == [
        {"id_number": APPLICANT, "spouse_id_number": SPOUSE, "registered_on": "2015-05-20"}
    ]
    assert SPOUSE in reason(d, "spouse_matches_registry")


def test_hidden_spouse_with_a_house_also_fails_the_house_count_and_raises_the_rate() -> None:
    registry = deed_registry(marriage=married(APPLICANT, SPOUSE), real_estate=[house(CERT_A, SPOUSE)])
    d = run("deed-tax", deed_case(), registry)
    assert by_status(d, "fail") == {"spouse_matches_registry", "family_houses_match"}
    houses = condition(d, "family_houses_match")
    assert houses.values == {"form.declared_family_houses": "0", "family_houses": "1"}
    assert houses.sources["family_houses"]["from"][0]["keys"] == [
        {"cert_no": CERT_A, "owner_id_number": SPOUSE}
    ]
    assert "申报家庭住房 0 套，不动产登记查得 1 套" in reason(d, "family_houses_match")
    assert d.outputs["tax_rate"] == "0.01" and d.outputs["relief"] == "second_home"


def test_declared_spouse_differing_from_the_registry_shows_both_ids() -> None:
    d = run("deed-tax", deed_case(spouse_id_number=OTHER), deed_registry(marriage=married(APPLICANT, SPOUSE)))
    spouse = condition(d, "spouse_matches_registry")
    assert spouse.status == "fail"
    assert spouse.values == {"form.spouse_id_number": OTHER, "registry_spouse": SPOUSE}
    message = reason(d, "spouse_matches_registry")
    assert OTHER in message and SPOUSE in message


def test_divorced_spouse_is_not_a_spouse() -> None:
    registry = deed_registry(
        marriage=married(APPLICANT, SPOUSE, status="divorced"), real_estate=[house(CERT_A, SPOUSE)]
    )
    d = run("deed-tax", deed_case(), registry)
    assert d.outcome == "approved"
    assert condition(d, "spouse_matches_registry").values == {
        "form.spouse_id_number": None,
        "registry_spouse": None,
    }


def test_missing_population_record_fails_the_status_and_makes_the_name_unknown() -> None:
    registry = deed_registry()
    registry._rows["population"] = [r for r in registry._rows["population"] if r["id_number"] != APPLICANT]
    d = run("deed-tax", deed_case(), registry)
    assert d.outcome == "review"
    assert by_status(d, "fail") == {"applicant_registered"}
    assert "applicant_name_matches" in by_status(d, "unknown")
    name = condition(d, "applicant_name_matches")
    assert name.missing == ["person.name"]
    assert name.values == {"applicant.name": "张伟"}
    assert (
        name.sources["person.name"]["registry"] == "population" and name.sources["person.name"]["keys"] == []
    )
    assert "申请人户籍信息" in reason(d, "applicant_name_matches")  # the look-up by its title
    assert condition(d, "applicant_registered").values == {"person_status": "not_found"}


def test_a_registry_code_in_a_message_is_printed_as_its_declared_label() -> None:
    """ "状态：{person_status}" prints the population status's label, though person_status is a derived
    value: it passes person.status on. The condition's values keep the code."""
    registry = deed_registry()
    registry._rows["population"][0] = person(APPLICANT, "张伟", date(1985, 2, 3), status="deceased")
    d = run("deed-tax", deed_case(), registry)
    assert reason(d, "applicant_registered") == "申请人在人口基础信息库中无记录或状态异常（状态：死亡）"
    assert condition(d, "applicant_registered").values == {"person_status": "deceased"}
    registry._rows["population"] = registry._rows["population"][1:]
    missing = run("deed-tax", deed_case(), registry)  # a value that is no code is printed as it is
    assert reason(missing, "applicant_registered").endswith("（状态：not_found）")


def test_the_coded_values_are_followed_through_derived_values() -> None:
    coded = coded_labels(pilot("safety-permit-renewal").ruleset)
    assert dict(coded["permit.status"]) == {
        "valid": "有效",
        "suspended": "暂扣",
        "revoked": "吊销",
        "expired": "已过期",
    }
    assert coded["qualification_status"] == coded["permit.status"]  # through two nested if()s
    assert dict(coded["enterprise_status"])["revoked"] == "吊销"
    assert "staff_certs.status" in coded  # a list look-up: each element is labelled
    assert "fatal_accidents" not in coded and "apply_deadline" not in coded


def test_a_form_code_in_a_message_is_printed_as_the_label_of_its_choice() -> None:
    """ "申报用途 {form.usage}" printed the code (office); an enum field's choices are its labels. The
    contract's usage it is compared with (`form.usage == deal.usage`) has the same codes and labels.
    The condition's values keep the codes."""
    d = run("deed-tax", deed_case(usage="office"), deed_registry())
    assert reason(d, "deal_usage_matches") == "申报用途 办公，合同用途 住房"
    assert condition(d, "deal_usage_matches").values == {"form.usage": "office", "deal.usage": "residential"}


def test_the_form_fields_choices_are_the_labels_of_their_paths() -> None:
    deed = coded_labels(pilot("deed-tax").ruleset)
    assert dict(deed["form.usage"]) == {
        "residential": "住房",
        "office": "办公",
        "commercial": "商业",
        "other": "其他",
    }
    assert deed["deal.usage"] == deed["form.usage"]  # compared with == in deal_usage_matches
    assert "form.area_m2" not in deed and "deal.area_m2" not in deed  # numbers have no labels
    safety = coded_labels(pilot("safety-permit-renewal").ruleset)
    assert dict(safety["form.qualification_grade"])["grade_1"] == "一级"
    assert dict(safety["form.staff.role"])["principal"] == "主要负责人"  # a field of a list's elements
    graduate = coded_labels(pilot("graduate-hukou").ruleset)
    assert dict(graduate["form.degree"])["bachelor"] == "本科"
    assert dict(graduate["education.study_mode"])["part_time"] == "非全日制"  # a new registry's column


def test_two_population_records_for_one_id_make_dependent_conditions_unknown() -> None:
    registry = deed_registry(population=[person(APPLICANT, "张薇", date(1985, 2, 3))])
    d = run("deed-tax", deed_case(), registry)
    assert {"applicant_registered", "applicant_name_matches"} <= by_status(d, "unknown")
    assert condition(d, "applicant_registered").missing == ["person_status"]
    assert d.outcome == "review"


def test_no_filing_and_no_contract_returns_and_still_lists_every_failure_at_once() -> None:
    registry = deed_registry(marriage=married(APPLICANT, SPOUSE), real_estate=[house(CERT_A, SPOUSE)])
    d = run("deed-tax", deed_case(contract_filing_no=None), registry)
    assert d.outcome == "returned"
    assert [m.id for m in d.missing_materials] == ["purchase_contract"]
    assert by_status(d, "fail") == {"spouse_matches_registry", "family_houses_match"}
    unknown = by_status(d, "unknown")
    assert {"deal_area_matches", "deal_price_matches", "deal_usage_matches", "deal_buyer_matches"} <= unknown
    assert condition(d, "deal_price_matches").missing == ["deal.price_yuan"]
    cited = [r.condition for r in d.reasons]
    assert {"spouse_matches_registry", "family_houses_match", "material.purchase_contract"} <= set(cited)
    assert unknown <= set(cited)
    assert (
        next(r for r in d.reasons if r.condition == "material.purchase_contract").status == "missing_material"
    )


def test_missing_commitment_returns_even_when_everything_else_passes() -> None:
    d = run("deed-tax", deed_case(commitments=[]), deed_registry())
    assert d.outcome == "returned"
    assert [m.id for m in d.missing_materials] == ["family_housing_commitment"]
    assert not by_status(d, "fail") and not by_status(d, "unknown")
    assert [r.condition for r in d.reasons] == ["material.family_housing_commitment"]


def test_tax_is_rounded_half_up_to_the_fen() -> None:
    registry = deed_registry()
    registry._rows["contract_filings"][0].update(area_m2=Decimal("140.01"), price_yuan=Decimal("1866667.00"))
    d = run("deed-tax", deed_case(area_m2="140.01", price_yuan="1866667.00"), registry)
    assert d.outcome == "approved"
    assert d.outputs["tax_rate"] == "0.015"
    assert d.outputs["tax_base"] == "1866667.00"
    assert d.outputs["tax_amount"] == "28000.01"  # 28000.005, banker's rounding would give 28000.00


@pytest.mark.parametrize(("area", "rate"), [("140", "0.01"), ("140.00", "0.01"), ("140.01", "0.015")])
def test_the_140_square_metre_boundary(area: str, rate: str) -> None:
    registry = deed_registry()
    registry._rows["contract_filings"][0]["area_m2"] = Decimal(area)
    d = run("deed-tax", deed_case(area_m2=area), registry)
    assert d.outcome == "approved"
    assert d.outputs["tax_rate"] == rate


def test_area_compares_as_a_number_not_as_text() -> None:
    registry = deed_registry()
    registry._rows["contract_filings"][0]["area_m2"] = Decimal("120.5")
    d = run("deed-tax", deed_case(area_m2="120.50"), registry)
    assert condition(d, "deal_area_matches").status == "pass"


@pytest.mark.parametrize(
    ("child", "counted"),
    [(CHILD_18_TODAY, False), (CHILD_18_TOMORROW, True)],
)
def test_a_child_is_an_adult_from_the_18th_birthday(child: str, counted: bool) -> None:
    birth = date(2008, 11, 21) if child == CHILD_18_TODAY else date(2008, 11, 22)
    registry = deed_registry(
        population=[person(child, "张子涵", birth)],
        kinship=[{"parent_id_number": APPLICANT, "child_id_number": child}],
        real_estate=[house(CERT_B, child)],
    )
    d = run("deed-tax", deed_case(declared_family_houses=1 if counted else 0), registry)
    assert d.outcome == "approved"
    assert d.outputs["family_houses"] == (1 if counted else 0)
    keys = condition(d, "family_houses_match").sources["family_houses"]["from"][0]["keys"]
    assert keys == ([{"cert_no": CERT_B, "owner_id_number": child}] if counted else [])


def test_co_owned_house_counts_once_and_cancelled_or_commercial_not_at_all() -> None:
    registry = deed_registry(
        marriage=married(APPLICANT, SPOUSE),
        real_estate=[
            house(CERT_A, APPLICANT),
            house(CERT_A, SPOUSE),
            house(CERT_B, APPLICANT, status="cancelled"),
            house("川(2010)成都市不动产权第0000001号", SPOUSE, usage="commercial"),
        ],
    )
    d = run("deed-tax", deed_case(spouse_id_number=SPOUSE, declared_family_houses=1), registry)
    assert d.outcome == "approved"
    assert d.outputs["family_houses"] == 1
    assert d.outputs["tax_rate"] == "0.01" and d.outputs["relief"] == "second_home"


def contract(fields: dict[str, Any], locations: dict[str, dict[str, Any]] | None = None) -> DocumentFacts:
    return DocumentFacts(
        kind="purchase_contract",
        path="contract.pdf",
        fields=fields,
        locations=locations or {},
        pages=2,
        method="ocr",
    )


CONTRACT_FIELDS = {
    "buyer_names": ["张伟"],
    "buyer_id_numbers": [APPLICANT],
    "seller": "成都西岭置地有限公司",
    "house_address": "成都市天府新区麓山大道二段275号",
    "area_m2": "96.30",
    "price_yuan": "1580000.00",
    "usage": "residential",
    "signed_on": "2026-10-08",
}


def test_a_read_contract_stands_in_for_a_missing_filing() -> None:
    docs = [{"kind": "purchase_contract", "path": "contract.pdf"}]
    located = {
        "price_yuan": {"page": 2, "box": [100, 200, 300, 220], "confidence": 0.98, "raw": "1,580,000.00"}
    }
    d = run(
        "deed-tax",
        deed_case(contract_filing_no=None, documents=docs),
        deed_registry(),
        {"purchase_contract": contract(CONTRACT_FIELDS, located)},
    )
    assert d.outcome == "approved", [r.message for r in d.reasons]
    source = condition(d, "deal_price_matches").sources["deal.price_yuan"]
    assert source["from"][0]["kind"] == "document"
    assert source["from"][0]["path"] == "contract.pdf"


def test_a_contract_value_used_through_a_derived_record_cites_its_page() -> None:
    docs = [{"kind": "purchase_contract", "path": "contract.pdf"}]
    located = {
        "price_yuan": {"page": 2, "box": [100, 200, 300, 220], "confidence": 0.98, "raw": "1,580,000.00"}
    }
    d = run(
        "deed-tax",
        deed_case(contract_filing_no=None, documents=docs),
        deed_registry(),
        {"purchase_contract": contract(CONTRACT_FIELDS, located)},
    )
    source = condition(d, "deal_price_matches").sources["deal.price_yuan"]
    assert source["from"][0]["page"] == 2 and source["from"][0]["raw"] == "1,580,000.00"


def test_a_contract_field_read_with_low_confidence_is_unknown_and_says_where() -> None:
    docs = [{"kind": "purchase_contract", "path": "contract.pdf"}]
    located = {"price_yuan": {"page": 2, "box": [100, 200, 300, 220], "confidence": 0.5}}
    d = run(
        "deed-tax",
        deed_case(contract_filing_no=None, documents=docs),
        deed_registry(),
        {"purchase_contract": contract(CONTRACT_FIELDS, located)},
    )
    assert d.outcome == "review"
    assert by_status(d, "unknown") == {"deal_price_matches"}
    message = reason(d, "deal_price_matches")
    assert "0.50" in message and "0.90" in message and "第 2 页" in message


def test_an_unreadable_contract_is_returned_for_correction() -> None:
    docs = [{"kind": "purchase_contract", "path": "contract.pdf"}]
    unreadable = DocumentFacts(
        kind="purchase_contract", path="contract.pdf", error={"code": "corrupt", "message": "PDF 文件已损坏"}
    )
    d = run(
        "deed-tax",
        deed_case(contract_filing_no=None, documents=docs),
        deed_registry(),
        {"purchase_contract": unreadable},
    )
    assert d.outcome == "returned"
    assert [m.id for m in d.missing_materials] == ["purchase_contract"]
    assert "PDF 文件已损坏" in d.missing_materials[0].message
    assert {m.id: m.status for m in d.materials}["purchase_contract"] == "invalid"


# --------------------------------------------------------------------------- case validation


def test_form_problems_are_all_reported_at_once_with_their_paths() -> None:
    case = deed_case(
        area_m2="abc",
        price_yuan="1580000.001",
        usage="villa",
        spouse_id_number="510104198502030225",  # wrong check digit
        declared_family_houses="1",
        prise_yuan="1",
    )
    case.form.pop("contract_signed_on")
    with pytest.raises(CaseError) as info:
        decide(
            pilot("deed-tax"), case=case, registry=deed_registry(), evaluator=ReferenceEvaluator(), now=NOW
        )
    problems = {p["path"]: p["message"] for p in info.value.problems}  # type: ignore[attr-defined]
    assert set(problems) == {
        "form.area_m2",
        "form.price_yuan",
        "form.usage",
        "form.spouse_id_number",
        "form.declared_family_houses",
        "form.prise_yuan",
        "form.contract_signed_on",
    }
    assert "校验位" in problems["form.spouse_id_number"]
    assert "price_yuan" in problems["form.prise_yuan"]  # the suggestion
    assert "form.area_m2" in str(info.value)


def test_list_items_are_validated_with_their_index() -> None:
    case = safety_case(
        staff=[staff_member("principal", 0), {**staff_member("project_manager", 1), "role": "boss"}]
    )
    with pytest.raises(CaseError) as info:
        decide(
            pilot("safety-permit-renewal"),
            case=case,
            registry=safety_registry(),
            evaluator=ReferenceEvaluator(),
            now=NOW,
        )
    assert [p["path"] for p in info.value.problems] == ["form.staff.1.role"]  # type: ignore[attr-defined]


def test_case_structure_problems_are_all_reported_at_once() -> None:
    with pytest.raises(CaseError) as info:
        parse_case(
            {
                "item": "deed-tax",
                "submitted_at": "2026-11-21T10:00:00",  # no time zone
                "applicant": {"kind": "person", "name": "张伟", "id_number": "510104198502030225"},
                "form": {},
                "extra": 1,
            }
        )
    paths = {p["path"] for p in info.value.problems}  # type: ignore[attr-defined]
    assert paths == {"submitted_at", "applicant.id_number", "extra"}


def test_applicant_and_form_problems_are_reported_together() -> None:
    data = {
        "item": "deed-tax",
        "submitted_at": SUBMITTED,
        "applicant": {"kind": "person", "name": "张伟", "id_number": "510104198502030225"},
        "form": {**deed_case().form, "area_m2": "abc"},
    }
    paths: set[str] = set()
    try:
        case = parse_case(data, ruleset=pilot("deed-tax").ruleset)
        decide(
            pilot("deed-tax"), case=case, registry=deed_registry(), evaluator=ReferenceEvaluator(), now=NOW
        )
    except CaseError as exc:
        paths = {p["path"] for p in exc.problems}  # type: ignore[attr-defined]
    assert {"applicant.id_number", "form.area_m2"} <= paths


@pytest.mark.parametrize(
    "bad", ["510104198502030225", "51010419850203022", "5101041985020302241", "51010419850230022X"]
)
def test_invalid_id_numbers_are_refused(bad: str) -> None:
    assert id_number_problem(bad) is not None
    with pytest.raises(CaseError) as info:
        parse_case(
            {
                "item": "deed-tax",
                "submitted_at": SUBMITTED,
                "applicant": {"kind": "person", "name": "张伟", "id_number": bad},
                "form": {},
            }
        )
    assert [p["path"] for p in info.value.problems] == ["applicant.id_number"]  # type: ignore[attr-defined]


def test_id_with_a_region_code_assigned_after_the_birth_year_is_accepted() -> None:
    with pytest.raises(StdnumError):
        ric.validate(APPLICANT)  # stdnum's birth-place check refuses it ...
    assert id_number_problem(APPLICANT) is None  # ... but the ID is real: we accept it
    case = parse_case(
        {
            "item": "deed-tax",
            "submitted_at": SUBMITTED,
            "applicant": {"kind": "person", "name": "张伟", "id_number": APPLICANT},
            "form": {},
        }
    )
    assert case.applicant.id_number == APPLICANT
    assert id_number_problem("11010519491231002X") is None  # X check digit


class _Watched:
    """A registry that remembers which registries were queried."""

    def __init__(self, inner: InMemoryRegistry) -> None:
        self.inner = inner
        self.queried: list[str] = []

    def find(self, registry: str, match: Any) -> Any:
        self.queried.append(registry)
        return self.inner.find(registry, match)


AN_ENTERPRISE = {"kind": "enterprise", "name": "成都天诚建设集团有限公司", "credit_code": make_credit_code(1)}


def test_an_applicant_of_a_kind_the_item_does_not_serve_is_refused_when_parsed() -> None:
    """deed-tax serves persons (item.applicant_kind): an enterprise is refused with the field named,
    together with the other problems of the case (一次性告知)."""
    data = {
        "item": "deed-tax",
        "submitted_at": SUBMITTED,
        "applicant": AN_ENTERPRISE,
        "form": {**deed_case().form, "area_m2": "abc"},
    }
    Case.model_validate(data)  # a valid case of the contract...
    with pytest.raises(CaseError) as info:
        parse_case(data, ruleset=pilot("deed-tax").ruleset)  # ...that this item does not take
    problems = info.value.problems  # type: ignore[attr-defined]
    assert [p["path"] for p in problems] == ["applicant.kind", "form.area_m2"]
    assert problems[0]["message"] == (
        "本事项（契税申报（个人购买住房））只受理个人申请（applicant.kind 应为 person），"
        "申请人类型为企业（enterprise）"
    )


def test_an_applicant_of_a_kind_the_item_does_not_serve_is_never_decided() -> None:
    """However the case was made, `decide` refuses it before gathering anything: no registry query."""
    case = deed_case(applicant=AN_ENTERPRISE)
    registry = _Watched(deed_registry())
    with pytest.raises(CaseError) as info:
        decide(pilot("deed-tax"), case=case, registry=registry, evaluator=ReferenceEvaluator(), now=NOW)
    assert [p["path"] for p in info.value.problems] == ["applicant.kind"]  # type: ignore[attr-defined]
    assert registry.queried == []
    decide(pilot("deed-tax"), case=deed_case(), registry=registry, evaluator=ReferenceEvaluator(), now=NOW)
    assert "population" in registry.queried  # a person's case is looked up through the same registry
    person = {"kind": "person", "name": "张伟", "id_number": APPLICANT}
    with pytest.raises(CaseError) as info:
        decide(
            pilot("safety-permit-renewal"),
            case=Case.model_validate({**safety_case().model_dump(), "applicant": person}),
            registry=safety_registry(),
            evaluator=DurableEvaluator(),
            now=NOW,
        )
    assert "只受理企业申请（applicant.kind 应为 enterprise）" in str(info.value)


def test_submission_date_is_taken_in_china_time() -> None:
    case = Case.model_validate({**deed_case().model_dump(), "submitted_at": "2026-11-20T16:30:00+00:00"})
    assert case.submitted_on == date(2026, 11, 21)


# --------------------------------------------------------------------------- safety permit renewal

ENTERPRISE = make_credit_code(1)
PERMIT = "(川)JZ安许证字[2024]010231"
QUALIFICATION = "D251204417"
STAFF = [make_id(date(1970 + i, 1 + i, 10 + i), 100 + i) for i in range(6)]
ROLE_KIND = {"principal": "safety_a", "project_manager": "safety_b", "safety_officer": "safety_c"}


def staff_member(role: str, i: int) -> dict[str, Any]:
    return {"role": role, "name": f"人员{i}", "id_number": STAFF[i], "cert_no": f"川建安{i:03d}"}


def safety_case(documents: tuple[str, ...] = (), **form: Any) -> Case:
    data = {
        "enterprise_name": "成都天诚建设集团有限公司",
        "permit_no": PERMIT,
        "qualification_cert_no": QUALIFICATION,
        "qualification_category": "general_contracting",
        "qualification_grade": "grade_2",
        "staff": [
            staff_member("principal", 0),
            staff_member("project_manager", 1),
            *(staff_member("safety_officer", i) for i in (2, 3, 4)),
        ],
    }
    data.update(form)
    return Case.model_validate(
        {
            "item": "safety-permit-renewal",
            "submitted_at": SUBMITTED,
            "applicant": {"kind": "enterprise", "name": data["enterprise_name"], "credit_code": ENTERPRISE},
            "form": data,
            "documents": [{"kind": kind, "path": f"{kind}.pdf"} for kind in documents],
            "commitments": ["safety_production_commitment"],
        }
    )


def safety_registry(
    *, permit_expires: date = date(2027, 9, 30), **extra: list[dict[str, Any]]
) -> InMemoryRegistry:
    certificates = [
        {
            "cert_no": PERMIT,
            "kind": "safety_permit",
            "holder_id": ENTERPRISE,
            "holder_name": "成都天诚建设集团有限公司",
            "issued_on": date(2024, 10, 1),
            "expires_on": permit_expires,
            "status": "valid",
        },
        {
            "cert_no": QUALIFICATION,
            "kind": "construction_qualification",
            "holder_id": ENTERPRISE,
            "holder_name": "成都天诚建设集团有限公司",
            "issued_on": date(2023, 3, 5),
            "expires_on": date(2028, 3, 5),
            "status": "valid",
        },
    ]
    staff = safety_case().form["staff"]
    for member in staff:
        certificates.append(
            {
                "cert_no": member["cert_no"],
                "kind": ROLE_KIND[member["role"]],
                "holder_id": member["id_number"],
                "holder_name": member["name"],
                "issued_on": date(2025, 2, 7),
                "expires_on": date(2028, 2, 6),
                "status": "valid",
            }
        )
    insurance = [
        {"id_number": m["id_number"], "employer_credit_code": ENTERPRISE, "month": month}
        for m in staff
        for month in ("2026-08", "2026-09", "2026-10")
    ]
    rows: dict[str, list[dict[str, Any]]] = {
        "enterprises": [
            {
                "credit_code": ENTERPRISE,
                "name": "成都天诚建设集团有限公司",
                "legal_rep_id_number": STAFF[0],
                "status": "active",
                "registered_capital_yuan": Decimal("500000000.00"),
                "established_on": date(2011, 6, 12),
                "address": "成都市郫都区望丛中路26号",
            }
        ],
        "certificates": certificates,
        "social_insurance": insurance,
    }
    for name, more in extra.items():
        rows[name] = [*rows.get(name, []), *more]
    return InMemoryRegistry(rows)


def test_clean_renewal_is_approved() -> None:
    d = run("safety-permit-renewal", safety_case(), safety_registry())
    assert d.outcome == "approved", [r.message for r in d.reasons]
    assert d.outputs == {"new_valid_to": "2030-09-30", "required_safety_officers": 3}


def test_expired_permit_is_rejected_with_the_dates_and_the_certificate_record() -> None:
    d = run("safety-permit-renewal", safety_case(), safety_registry(permit_expires=date(2026, 11, 20)))
    assert d.outcome == "rejected"
    assert by_status(d, "fail") == {"permit_not_expired", "applied_in_time"}
    expired = condition(d, "permit_not_expired")
    assert expired.on_fail == "reject"
    assert expired.values == {"case.submitted_on": "2026-11-21", "permit.expires_on": "2026-11-20"}
    assert expired.sources["permit.expires_on"]["registry"] == "certificates"
    assert expired.sources["permit.expires_on"]["keys"] == [{"cert_no": PERMIT, "kind": "safety_permit"}]
    assert "2026-11-20" in reason(d, "permit_not_expired")


@pytest.mark.parametrize(
    ("expires", "in_time"),
    [(date(2027, 2, 21), True), (date(2027, 2, 20), False), (date(2026, 11, 21), False)],
)
def test_application_deadline_is_three_months_before_expiry(expires: date, in_time: bool) -> None:
    d = run("safety-permit-renewal", safety_case(), safety_registry(permit_expires=expires))
    assert condition(d, "applied_in_time").status == ("pass" if in_time else "fail")
    assert condition(d, "permit_not_expired").status == "pass"  # expiring today is not yet expired


def test_staff_insured_elsewhere_is_found_out() -> None:
    registry = safety_registry()
    registry._rows["social_insurance"] = [
        {**r, "employer_credit_code": make_credit_code(9)}
        if r["id_number"] == STAFF[3] and r["month"] == "2026-09"
        else r
        for r in registry._rows["social_insurance"]
    ]
    d = run("safety-permit-renewal", safety_case(), registry)
    assert by_status(d, "fail") == {"staff_insured_by_enterprise"}
    assert condition(d, "staff_insured_by_enterprise").values == {"uninsured_staff": "1"}


def test_unknown_never_approves_even_if_nothing_fails() -> None:
    registry = safety_registry()
    registry._rows["enterprises"].append({**registry._rows["enterprises"][0], "status": "revoked"})
    d = run("safety-permit-renewal", safety_case(documents=("business_licence",)), registry)
    assert not by_status(d, "fail")
    assert by_status(d, "unknown") == {"enterprise_active", "enterprise_name_matches"}
    assert d.outcome == "review"


def test_decided_at_keeps_the_offset_it_was_given() -> None:
    """The same instant in two time zones: each decision states the time as it was passed."""
    from datetime import UTC, timedelta, timezone

    from engine.decision import _isoformat

    utc = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    china = utc.astimezone(timezone(timedelta(hours=8)))
    assert utc == china
    assert _isoformat(utc) == "2026-11-22T02:00:00+00:00"
    assert _isoformat(china) == "2026-11-22T10:00:00+08:00"
    assert _isoformat(utc) == "2026-11-22T02:00:00+00:00"
