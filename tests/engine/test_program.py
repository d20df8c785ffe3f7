"""Building a program from ruleset text: errors that name file, line and path (with suggestions),
the checks on names, steps and conditions, the compiled durable_rules JSON, and the content hash."""

from __future__ import annotations

from typing import Any

import pytest
from engine_kit import pilot

from engine.backends.durable import MAX_CONDITIONS, NULL_TOKEN, NUMBER_SCALE
from engine.errors import RulesetError
from engine.program import Program, build_program
from engine.registries import REGISTRIES, parse_registry

BASE = """\
# 测试事项
ruleset: 1
version: "1.0"

item:
  id: test-item
  code: "T0001"
  name: 测试事项
  department: 测试局
  kind: 即办件
  time_limit_days: 1
  applicant_kind: person
  result: 测试结果
  basis:
    - 《测试条例》第一条

parameters:
  limit:
    value: 140
    title: 面积界限

fields:
  price_yuan: {type: money, title: 成交价格}
  area_m2: {type: decimal, title: 面积, nullable: true}
  spouse_id_number: {type: id_number, title: 配偶, nullable: true}
  signed_on: {type: date, title: 签订日期}
  usage:
    type: enum
    title: 用途
    choices: {residential: 住房, office: 办公}

materials:
  - id: contract
    title: 买卖合同
    document_kind: purchase_contract
    exempt_when: person.found
    exempt_reason: 已共享
  - id: promise
    title: 承诺书
    commitment: truthful

lookups:
  person:
    title: 申请人户籍
    registry: population
    match: {id_number: applicant.id_number}
    one: true

derived:
  person_status:
    title: 户籍状态
    expr: "if(person.found, person.status, 'not_found')"

conditions:
  - id: registered
    title: 申请人户籍正常
    when: "person_status == 'normal'"
    on_fail: review
    basis: 《测试条例》第二条
  - id: price_positive
    title: 价格为正
    when: "form.price_yuan > 0"
    on_fail: return
    basis: 《测试条例》第三条
    message: 价格 {form.price_yuan} 不为正

outputs:
  tax: {title: 税额, expr: "round(form.price_yuan * 0.01, 2)", type: money}
"""


def build(text: str = BASE) -> Program:
    return build_program(text, source="rulesets/test-item/ruleset.yaml")


def error_of(text: str) -> RulesetError:
    with pytest.raises(RulesetError) as info:
        build(text)
    return info.value


def line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def replaced(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_base_ruleset_builds() -> None:
    program = build()
    assert [c.spec.id for c in program.conditions] == ["registered", "price_positive"]
    assert [s.name for s in program.steps] == ["person", "person_status"]


# --------------------------------------------------------------------------- errors: file, line, path


def test_misspelt_field_in_an_expression_names_line_path_and_suggestion() -> None:
    text = replaced("form.price_yuan > 0", "form.prise_yuan > 0")
    err = error_of(text)
    assert err.source == "rulesets/test-item/ruleset.yaml"
    assert err.line == line_of(text, "form.prise_yuan > 0")
    assert err.path == "conditions.1.when"
    assert err.suggestion is not None and "'price_yuan'" in err.suggestion
    assert str(err).startswith(f"rulesets/test-item/ruleset.yaml:{err.line}: conditions.1.when: ")
    assert "prise_yuan" in str(err) and "price_yuan" in str(err)


WHEN = 'when: "form.price_yuan > 0"'
DERIVED = "expr: \"if(person.found, person.status, 'not_found')\""
MATCH = "match: {id_number: applicant.id_number}"
MESSAGE = "message: 价格 {form.price_yuan} 不为正"
OUTPUT = 'expr: "round(form.price_yuan * 0.01, 2)"'


@pytest.mark.parametrize(
    ("old", "new", "path", "suggested"),
    [
        (DERIVED, 'expr: "persn.status"', "derived.person_status.expr", "person"),
        (DERIVED, 'expr: "person.stauts"', "derived.person_status.expr", "status"),
        (MATCH, "match: {id_number: applicant.id_nmber}", "lookups.person.match.id_number", "id_number"),
        ("exempt_when: person.found", "exempt_when: person.fund", "materials.0.exempt_when", "found"),
        (WHEN, 'when: "form.price_yuan > params.limt"', "conditions.1.when", "limit"),
        (WHEN, 'when: "form.price_yuan > case.submited_on"', "conditions.1.when", "submitted_on"),
        (WHEN, 'when: "documents.purchase_contrat.found"', "conditions.1.when", "purchase_contract"),
        (MESSAGE, "message: 价格 {form.price_yaun} 不为正", "conditions.1.message", "price_yuan"),
        (OUTPUT, 'expr: "rnd(form.price_yuan * 0.01, 2)"', "outputs.tax.expr", "round"),
    ],
)
def test_misspelt_names_everywhere(old: str, new: str, path: str, suggested: str) -> None:
    text = replaced(old, new)
    err = error_of(text)
    assert err.path == path
    assert err.line == line_of(text, new.split(": ", 1)[-1][:20])
    assert err.suggestion is not None and repr(suggested) in err.suggestion


def test_unknown_registry_is_suggested() -> None:
    text = replaced("registry: population", "registry: populaton")
    err = error_of(text)
    assert err.path == "lookups.person.registry"
    assert err.line == line_of(text, "registry: populaton")
    assert err.suggestion is not None and "'population'" in err.suggestion


def test_an_undeclared_registry_says_how_to_declare_it() -> None:
    text = replaced("registry: population", "registry: education_records")
    err = error_of(text)
    assert err.path == "lookups.person.registry"
    assert "未知的共享数据库 'education_records'" in err.message
    assert "registries/" in err.message and "education_records.yaml" in err.message


def test_a_registry_declared_in_the_catalogue_can_be_looked_up() -> None:
    declaration = "\n".join(
        [
            "name: education_records",
            "title: 学历学位信息库",
            "columns:",
            "  id_number: {type: id_number, title: 身份证号码}",
            "  degree: {type: enum, title: 学历, labels: {bachelor: 本科}}",
            "key: [id_number]",
        ]
    )
    REGISTRIES.add(parse_registry(declaration, source="education_records.yaml"))
    text = replaced("registry: population", "registry: education_records")
    with pytest.raises(RulesetError) as info:  # now the look-up's registry is known, its columns checked
        build_program(text, source="t.yaml")
    assert "education_records 没有列" in info.value.message


def test_unknown_registry_column_in_match_is_suggested() -> None:
    text = replaced("match: {id_number: applicant.id_number}", "match: {id_numbr: applicant.id_number}")
    err = error_of(text)
    assert err.path == "lookups.person.match.id_numbr"
    assert err.line == line_of(text, "id_numbr")
    assert err.suggestion is not None and "'id_number'" in err.suggestion


def test_misspelt_optional_top_level_key_is_suggested() -> None:
    text = replaced("outputs:", "outptus:")
    err = error_of(text)
    assert err.path == "outptus"
    assert err.line in (line_of(text, "outptus:"), line_of(text, "outptus:") + 1)  # see the xfail below
    assert err.suggestion is not None and "'outputs'" in err.suggestion


def test_misspelt_key_of_a_sub_model_is_suggested() -> None:
    text = replaced("  department: 测试局", "  department: 测试局\n  fes: 不收费")
    err = error_of(text)
    assert err.path == "item.fes"
    assert err.line == line_of(text, "fes:")
    assert err.suggestion is not None and "'fees'" in err.suggestion


@pytest.mark.parametrize(
    ("old", "new", "suggested"),
    [
        ("conditions:", "condtions:", "conditions"),
        ("  department: 测试局", "  departement: 测试局", "department"),
    ],
)
def test_misspelt_required_key_is_suggested(old: str, new: str, suggested: str) -> None:
    text = replaced(old, new)
    err = error_of(text)
    assert err.line == line_of(text, new.strip())
    assert err.suggestion is not None and repr(suggested) in err.suggestion


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("outputs:", "outptus:", "outptus:"),
        (DERIVED, 'expr: "person_status"', "  person_status:"),
    ],
)
def test_errors_about_a_key_with_a_block_value_name_the_key_line(old: str, new: str, needle: str) -> None:
    text = replaced(old, new)
    assert error_of(text).line == line_of(text, needle)


@pytest.mark.parametrize(
    ("old", "new", "suggested"),
    [
        ("    message: 价格", "    mesage: 价格", "message"),  # in a list (conditions)
        ("    one: true", "    onne: true", "one"),  # in a mapping (lookups)
        ("    exempt_reason: 已共享", "    exempt_reson: 已共享", "exempt_reason"),
    ],
)
def test_misspelt_key_inside_a_list_or_mapping_is_suggested(old: str, new: str, suggested: str) -> None:
    err = error_of(replaced(old, new))
    assert err.line == line_of(replaced(old, new), new.strip().split(":")[0])
    assert err.suggestion is not None and repr(suggested) in err.suggestion


def test_duplicate_yaml_key_names_its_line() -> None:
    text = replaced('  code: "T0001"\n', '  code: "T0001"\n  code: "T0002"\n')
    err = error_of(text)
    assert err.path == "item.code"
    assert err.line == line_of(text, 'code: "T0002"')


def test_yaml_syntax_error_names_its_line() -> None:
    text = replaced("  name: 测试事项\n", "  name: [测试事项\n")
    err = error_of(text)
    assert err.source == "rulesets/test-item/ruleset.yaml"
    assert err.line is not None and err.line >= line_of(text, "name: [测试事项")


def test_expression_syntax_error_names_its_line() -> None:
    text = replaced('when: "form.price_yuan > 0"', 'when: "form.price_yuan > > 0"')
    err = error_of(text)
    assert err.path == "conditions.1.when"
    assert err.line == line_of(text, "> > 0")


# --------------------------------------------------------------------------- steps

CYCLE = """\
derived:
  a_value:
    title: 甲
    expr: "b_value + 1"
  b_value:
    title: 乙
    expr: "c_value + 1"
  c_value:
    title: 丙
    expr: "a_value + 1"
  person_status:
"""


def test_cycle_between_derived_values_is_refused() -> None:
    text = replaced("derived:\n  person_status:\n", CYCLE)
    err = error_of(text)
    assert "循环依赖" in err.message
    assert "a_value → b_value → c_value → a_value" in err.message
    assert err.path == "deriveds.a_value" or (err.path or "").endswith("a_value")


def test_derived_value_referring_to_itself_is_refused() -> None:
    err = error_of(replaced(DERIVED, 'expr: "person_status"'))
    assert "自身" in err.message
    assert err.path == "derived.person_status"


def test_steps_run_in_dependency_order_whatever_the_file_order() -> None:
    text = replaced(
        "derived:\n  person_status:\n",
        'derived:\n  late:\n    title: 后\n    expr: "person_status"\n  person_status:\n',
    )
    names = [s.name for s in build(text).steps]
    assert names.index("person") < names.index("person_status") < names.index("late")


def test_reserved_and_duplicate_step_names_are_refused() -> None:
    err = error_of(
        replaced(
            "derived:\n  person_status:\n",
            "derived:\n  form:\n    title: x\n    expr: '1'\n  person_status:\n",
        )
    )
    assert "保留字" in err.message
    err = error_of(
        replaced(
            "derived:\n  person_status:\n",
            "derived:\n  person:\n    title: x\n    expr: '1'\n  person_status:\n",
        )
    )
    assert "已在" in err.message


# --------------------------------------------------------------------------- wording and conditions


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("    title: 买卖合同", "    title: 买卖合同及其他材料", "materials.0.title"),
        ("    title: 承诺书", "    title: 承诺书等材料", "materials.1.title"),
        ("    title: 价格为正", "    title: 价格为正且提交相关材料", "conditions.1.title"),
        (
            "    message: 价格 {form.price_yuan} 不为正",
            "    message: 价格不为正，请补充其它材料",
            "conditions.1.message",
        ),
    ],
)
def test_catch_all_wording_is_refused(old: str, new: str, path: str) -> None:
    text = replaced(old, new)
    err = error_of(text)
    assert "兜底" in err.message
    assert err.path == path
    assert err.line == line_of(text, new.strip())


@pytest.mark.parametrize(
    "when",
    [
        "form.price_yuan * 0.01 > 100",
        "form.price_yuan + 1 > 2",
        "count(x in [1, 2] where x > form.price_yuan) > 1",
        "round(form.price_yuan, 0) == 1",
        "add_months(form.signed_on, 1) > form.signed_on",
    ],
)
def test_conditions_with_computation_are_refused_with_the_hint_to_use_derived(when: str) -> None:
    text = replaced('when: "form.price_yuan > 0"', f'when: "{when}"')
    err = error_of(text)
    assert "derived" in err.message
    assert err.path == "conditions.1.when"
    assert err.line == line_of(text, when)


def test_condition_in_list_must_be_literals() -> None:
    err = error_of(replaced('when: "form.price_yuan > 0"', 'when: "form.usage in [form.usage]"'))
    assert "常量列表" in err.message
    err = error_of(replaced('when: "form.price_yuan > 0"', 'when: "form.usage in []"'))
    assert "非空" in err.message


def test_constant_calls_are_folded_in_conditions() -> None:
    program = build(replaced('when: "form.price_yuan > 0"', "when: \"form.signed_on < date('2024-02-29')\""))
    leaf = program.conditions[1].when_pass
    assert leaf == {"$lt": {program.keys["form.signed_on"]: 738945}}  # date(2024, 2, 29).toordinal()


def test_invalid_constant_in_a_condition_is_refused() -> None:
    err = error_of(replaced('when: "form.price_yuan > 0"', "when: \"form.signed_on < date('2024-02-30')\""))
    assert err.path == "conditions.1.when"


def test_literal_too_large_for_durable_rules_is_a_ruleset_error() -> None:
    text = replaced('when: "form.price_yuan > 0"', 'when: "form.price_yuan < 1000000000000000"')
    err = error_of(text)
    assert err.path == "conditions.1.when"


def test_too_many_conditions_are_refused() -> None:
    extra = "".join(
        f'  - {{id: c{i}, title: 条件{i}, when: "form.price_yuan > {i}", on_fail: review, basis: b}}\n'
        for i in range(MAX_CONDITIONS)
    )
    err = error_of(replaced("\noutputs:", extra + "\noutputs:"))
    assert err.path == "conditions"
    assert "条件过多" in err.message


# --------------------------------------------------------------------------- compiled durable_rules JSON


def compile_when(when: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    program = build(replaced('when: "form.price_yuan > 0"', f'when: "{when}"'))
    cc = program.conditions[1]
    return cc.when_pass, cc.when_fail, program.keys


def test_numbers_reach_durable_as_scaled_integers() -> None:
    when_pass, when_fail, keys = compile_when("form.price_yuan > 1234.5")
    k = keys["form.price_yuan"]
    assert when_pass == {"$gt": {k: 12345 * NUMBER_SCALE // 10}}
    assert when_fail == {"$lte": {k: 12345 * NUMBER_SCALE // 10}}


def test_literal_on_the_left_is_flipped() -> None:
    when_pass, _, keys = compile_when("1 < form.price_yuan")
    assert when_pass == {"$gt": {keys["form.price_yuan"]: NUMBER_SCALE}}


def test_path_against_path_is_guarded_by_existence() -> None:
    when_pass, when_fail, keys = compile_when("form.spouse_id_number == person.id_number")
    a, b = keys["form.spouse_id_number"], keys["person.id_number"]
    assert when_pass == {"$and": [{"$ex": {b: 1}}, {a: {"$m": b}}]}
    assert when_fail == {"$and": [{"$ex": {b: 1}}, {"$neq": {a: {"$m": b}}}]}


def test_null_is_a_token() -> None:
    when_pass, when_fail, keys = compile_when("form.area_m2 == null")
    assert when_pass == {keys["form.area_m2"]: NULL_TOKEN}
    assert when_fail == {"$neq": {keys["form.area_m2"]: NULL_TOKEN}}


def test_negation_is_pushed_down_to_the_comparisons() -> None:
    when_pass, when_fail, keys = compile_when("not (form.price_yuan > 1 and form.usage == 'office')")
    p, u = keys["form.price_yuan"], keys["form.usage"]
    assert when_pass == {"$or": [{"$lte": {p: NUMBER_SCALE}}, {"$neq": {u: "office"}}]}
    assert when_fail == {"$and": [{"$gt": {p: NUMBER_SCALE}}, {u: "office"}]}


def test_membership_compiles_to_or_and_its_negation_to_and() -> None:
    when_pass, when_fail, keys = compile_when("form.usage in ['residential', 'office']")
    u = keys["form.usage"]
    assert when_pass == {"$or": [{u: "residential"}, {u: "office"}]}
    assert when_fail == {"$and": [{"$neq": {u: "residential"}}, {"$neq": {u: "office"}}]}
    when_pass, when_fail, _ = compile_when("form.usage not in ['office']")
    assert when_pass == {"$and": [{"$neq": {u: "office"}}]}
    assert when_fail == {"$or": [{u: "office"}]}


def test_truth_of_a_path() -> None:
    when_pass, when_fail, keys = compile_when("not person.found")
    assert when_pass == {keys["person.found"]: False}
    assert when_fail == {keys["person.found"]: True}


def test_rules_have_a_fast_path_a_rule_per_failure_and_an_unknown_rule() -> None:
    program = build()
    rules = program.durable_rules
    assert set(rules) == {"ok", "f0", "f1", "u"}
    for rule in rules.values():
        first = rule["all"][0]["m"]["$and"][0]
        assert first == {"_t": "c"}  # the marker keeps durable_rules' own state facts out
    assert {"_u": 1} in rules["u"]["all"][0]["m"]["$and"]


@pytest.mark.parametrize("item", ["deed-tax", "safety-permit-renewal", "graduate-hukou"])
def test_pilot_rulesets_build(item: str) -> None:
    program = pilot(item)
    assert program.item == item
    assert set(program.durable_rules) == {"ok", "u", *(f"f{i}" for i in range(len(program.conditions)))}
    assert program.sha256[:16] in program.durable_name


# --------------------------------------------------------------------------- content hash

REFORMATTED = """\
ruleset: 1
version: '1.0'
item: {applicant_kind: person, basis: [《测试条例》第一条], code: T0001, department: 测试局,
  id: test-item, kind: 即办件, name: 测试事项, result: 测试结果, time_limit_days: 1}
fields:
  price_yuan:
    title: 成交价格
    type: money
  area_m2: {nullable: true, title: 面积, type: decimal}
  spouse_id_number: {nullable: true, type: id_number, title: 配偶}
  signed_on: {type: date, title: 签订日期}
  usage: {type: enum, title: 用途, choices: {residential: 住房, office: 办公}}
parameters: {limit: {title: 面积界限, value: 140}}
outputs:
  tax:
    type: money
    title: 税额
    expr: round(form.price_yuan * 0.01, 2)
conditions:
- {id: registered, title: 申请人户籍正常, when: person_status == 'normal', on_fail: review,
   basis: 《测试条例》第二条}
- id: price_positive
  basis: 《测试条例》第三条
  title: 价格为正
  message: 价格 {form.price_yuan} 不为正
  when: form.price_yuan > 0
  on_fail: return
derived:
  person_status: {title: 户籍状态, expr: "if(person.found, person.status, 'not_found')"}
lookups:
  person: {one: true, registry: population, title: 申请人户籍, match: {id_number: applicant.id_number}}
materials:
- {id: contract, title: 买卖合同, document_kind: purchase_contract, exempt_when: person.found,
   exempt_reason: 已共享}
- id: promise     # a comment
  title: 承诺书
  commitment: truthful
"""


def test_sha256_is_stable_under_reformatting() -> None:
    assert build(REFORMATTED).sha256 == build().sha256


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    value: 140", "    value: 141"),
        ('version: "1.0"', 'version: "1.1"'),
        ("    title: 价格为正", "    title: 价格大于零"),
        ('when: "form.price_yuan > 0"', 'when: "form.price_yuan >= 0"'),
        ("    on_fail: return", "    on_fail: review"),
        ("    one: true", "    one: true\n    if_several: unknown"),
    ],
)
def test_sha256_changes_with_any_value(old: str, new: str) -> None:
    changed = build(replaced(old, new))
    base = build()
    assert changed.sha256 != base.sha256
    assert changed.durable_name != base.durable_name


def test_durable_name_contains_item_version_and_hash() -> None:
    program = build()
    assert program.durable_name == f"test-item-1_0-{program.sha256[:16]}"
    assert len(program.sha256) == 64 and int(program.sha256, 16) >= 0
