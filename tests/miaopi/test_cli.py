"""The `miaopi` CLI against the contracts of docs/architecture.md, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from miaopi.cli import app
from service.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples"
CONFORMANCE = PROJECT_ROOT.parent / "shared" / "conformance" / "deed-tax"
runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def loaded(db_url: str) -> str:
    result = run("data", "load", str(SAMPLES / "shared-data"), "--db", db_url)
    assert result.exit_code == 0, result.output
    return db_url


def write_case(tmp_path: Path, data: Any, name: str = "case.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def sample(name: str) -> dict[str, Any]:
    path = next((SAMPLES / "deed-tax" / "cases").glob(f"{name}*.json"))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_decide_prints_the_decision_contract(loaded: str, tmp_path: Path) -> None:
    result = run("decide", str(write_case(tmp_path, sample("dt-01"))), "--db", loaded)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "approved"
    assert decision["reasons"] == []
    assert set(decision) >= {
        "case_id",
        "item",
        "ruleset",
        "outcome",
        "outputs",
        "conditions",
        "reasons",
        "missing_materials",
        "decided_at",
        "elapsed_ms",
    }
    assert set(decision["ruleset"]) == {"id", "version", "sha256"}
    assert len(decision["ruleset"]["sha256"]) == 64
    assert decision["outputs"]["tax_amount"].count(".") == 1
    assert len(decision["outputs"]["tax_amount"].split(".")[1]) == 2
    for cond in decision["conditions"]:
        assert cond["status"] == "pass"
        assert set(cond["values"]) <= set(cond["sources"])


def test_every_sample_decides_as_expected_through_the_cli(loaded: str) -> None:
    for item in ("deed-tax", "safety-permit-renewal"):
        expected = json.loads((SAMPLES / item / "expected.json").read_text(encoding="utf-8"))
        for case_id, want in list(expected.items())[::4]:
            result = run("decide", str(SAMPLES / item / "cases" / f"{case_id}.json"), "--db", loaded)
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["outcome"] == want["outcome"], case_id


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="shared conformance set not beside the project")
def test_conformance_set(db_url: str) -> None:
    assert run("data", "load", str(CONFORMANCE / "shared"), "--db", db_url).exit_code == 0
    expected = json.loads((CONFORMANCE / "expected.json").read_text(encoding="utf-8"))
    for case_id, want in expected.items():
        result = run("decide", str(CONFORMANCE / "cases" / f"{case_id}.json"), "--db", db_url)
        got = json.loads(result.stdout)
        assert got["outcome"] == want["outcome"], case_id
        for key in ("tax_rate", "tax_amount"):
            if key in want:
                assert got["outputs"][key] == want[key]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: "{not json", "JSON 格式错误"),
        (lambda c: {**c, "item": "deed-taxx"}, "deed-tax"),
        (lambda c: {**c, "form": {**c["form"], "area_m2": [1]}}, "form.area_m2"),
        (
            lambda c: {**c, "form": {**c["form"], "declared_family_houses": "1"}},
            "form.declared_family_houses",
        ),
        (
            lambda c: {**c, "applicant": {**c["applicant"], "id_number": "110101199003071235"}},
            "applicant.id_number",
        ),
        (
            lambda c: {**c, "form": {**c["form"], "spouse_id_number": "110101199003071235"}},
            "form.spouse_id_number",
        ),
        (lambda c: {**c, "form": {**c["form"], "price_yuan": "1,580,000"}}, "form.price_yuan"),
        (lambda c: {**c, "form": {**c["form"], "prise_yuan": "1"}}, "price_yuan"),
        (lambda c: {**c, "submitted_at": "2026-11-20T09:30:00"}, "submitted_at"),
        (
            lambda c: {**c, "documents": [{"kind": "purchase_contract", "path": "nowhere.pdf"}]},
            "documents.0.path",
        ),
    ],
)
def test_bad_input_exits_2_with_a_precise_message(
    loaded: str, tmp_path: Path, mutate: Any, needle: str
) -> None:
    path = write_case(tmp_path, mutate(sample("dt-01")))
    result = run("decide", str(path), "--db", loaded)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert needle in result.stderr


def test_decide_refuses_an_applicant_of_a_kind_the_item_does_not_serve_with_exit_2(
    loaded: str, tmp_path: Path
) -> None:
    enterprise = json.loads(
        (SAMPLES / "safety-permit-renewal" / "cases" / "sp-01-general-grade1-clean.json").read_text("utf-8")
    )["applicant"]
    path = write_case(tmp_path, {**sample("dt-01"), "applicant": enterprise})
    result = run("decide", str(path), "--db", loaded)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "applicant.kind: 本事项（契税申报（个人购买住房））只受理个人申请" in result.stderr
    assert "申请人类型为企业（enterprise）" in result.stderr


def test_decide_without_loaded_data_exits_3_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    result = run("decide", str(write_case(tmp_path, sample("dt-01"))), "--db", f"sqlite:///{db}")
    assert result.exit_code == 3
    assert "data load" in result.stderr
    assert not db.exists()


def test_data_load_is_idempotent(db_url: str) -> None:
    first = run("data", "load", str(SAMPLES / "shared-data"), "--db", db_url)
    second = run("data", "load", str(SAMPLES / "shared-data"), "--db", db_url)
    assert first.exit_code == second.exit_code == 0
    assert "inserted" in second.stdout
    # second run: nothing inserted, updated or deleted in any registry
    for line in second.stdout.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 6 and cells[0] in ("population", "certificates"):
            assert cells[2:5] == ["0", "0", "0"], line


def test_data_load_never_deletes_silently_and_dry_run_shows_the_difference(
    loaded: str, tmp_path: Path
) -> None:
    """A two-row certificates.csv loaded over the full registry used to delete every other row."""
    folder = tmp_path / "partial"
    folder.mkdir()
    lines = (SAMPLES / "shared-data" / "certificates.csv").read_text(encoding="utf-8").splitlines()
    (folder / "certificates.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")

    refused = run("data", "load", str(folder), "--db", loaded)
    assert refused.exit_code == 2
    assert "certificates.csv" in refused.stderr and "--force" in refused.stderr

    dry = run("data", "load", str(folder), "--db", loaded, "--dry-run", "--force")
    assert dry.exit_code == 0 and "试运行" in dry.stdout
    cells = next(
        [c.strip() for c in line.split("│") if c.strip()]
        for line in dry.stdout.splitlines()
        if "certificates" in line
    )
    assert cells[1:5] == ["2", "0", "0", str(len(lines) - 3)]  # rows, inserted, updated, deleted

    upsert = run("data", "load", str(folder), "--db", loaded, "--mode", "upsert")
    assert upsert.exit_code == 0
    again = run("data", "load", str(SAMPLES / "shared-data"), "--db", loaded, "--dry-run")
    assert again.exit_code == 0  # nothing was deleted by the dry run or the upsert
    for line in again.stdout.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 6 and cells[0] == "certificates":
            assert cells[2:5] == ["0", "0", "0"], line


def test_data_load_reports_file_line_and_column(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(SAMPLES / "shared-data", folder)
    lines = (folder / "population.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[3] = "1990/01/01"
    lines[3] = ",".join(cells)
    (folder / "population.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("data", "load", str(folder), "--db", db_url)
    assert result.exit_code == 2
    assert "population.csv" in result.stderr and "第4行" in result.stderr and "birth_date" in result.stderr
    # nothing of the load was committed
    decided = run(
        "decide", str(SAMPLES / "deed-tax" / "cases" / "dt-01-only-home-small.json"), "--db", db_url
    )
    assert decided.exit_code in (0, 3)
    if decided.exit_code == 0:
        assert json.loads(decided.stdout)["outcome"] != "approved"


def test_lint_accepts_the_pilots_and_refuses_catch_all_wording(tmp_path: Path) -> None:
    assert run("lint", str(PROJECT_ROOT / "rulesets")).exit_code == 0
    text = (PROJECT_ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "deed-tax"
    bad.mkdir()
    (bad / "ruleset.yaml").write_text(
        text.replace("title: 房屋买卖合同（网签合同）", "title: 房屋买卖合同等材料"), encoding="utf-8"
    )
    result = run("lint", str(bad))
    assert result.exit_code == 1
    assert "等材料" in result.stderr and "materials.0.title" in result.stderr


TYPED_ERRORS = (
    # (text in the deed-tax ruleset, its replacement, what the error says, what it suggests)
    (
        'when: "form.declared_family_houses == family_houses"',
        "when: \"form.contract_signed_on >= '2024-12-01'\"",
        "日期与文本不能比较：form.contract_signed_on >= '2024-12-01'",
        "是否想写 date('2024-12-01')？",
    ),
    (
        "    value: 18\n",
        '    value: "18"\n',
        "数字与文本不能比较：age(row.birth_date, case.submitted_on) < params.adult_age",
        "参数 adult_age 的值是文本 '18'",
    ),
    (
        "expr: \"if(person.found, person.status, 'not_found')\"",
        "expr: \"if(person.found, person.status, 'not_found') + 1\"",
        "文本不能做算术（+）",
        None,
    ),
    (
        "when: \"form.usage != 'residential'\"",
        "when: \"form.usage != 'residental'\"",
        "form.usage 的取值只有 commercial、office、other、residential，没有 'residental'",
        "是否想写 'residential'？",
    ),
    (
        "expr: count(distinct(houses.cert_no))",
        "expr: count(distinct(houses.cert_no), 1)",
        "函数 count 需要 1–1 个参数，实际 2 个",
        None,
    ),
    (
        'expr: "round(form.price_yuan * rate.tax_rate, 2)"',
        'expr: "round(form.house_address, 2)"',
        "函数 round 的第 1 个参数应为数字，form.house_address 是文本",
        None,
    ),
)


PILOT_TEXT = (PROJECT_ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text(encoding="utf-8")


def _bad_ruleset(tmp_path: Path, *changes: tuple[str, str]) -> tuple[Path, str]:
    """A copy of the deed-tax ruleset with `changes` made, in its own folder under tmp_path."""
    text = PILOT_TEXT
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    folder = tmp_path / "deed-tax"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(text, encoding="utf-8")
    return folder, text


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("old", "new", "message", "suggestion"), TYPED_ERRORS)
def test_lint_refuses_a_type_error_with_its_line_and_suggestion(
    tmp_path: Path, old: str, new: str, message: str, suggestion: str | None
) -> None:
    folder, text = _bad_ruleset(tmp_path, (old, new))
    result = run("lint", str(folder))
    assert result.exit_code == 1
    assert result.stdout == ""
    where = "age(row.birth_date" if "adult_age" in message else new.strip().splitlines()[0]
    assert f"ruleset.yaml:{_line(text, where)}: " in result.stderr
    assert message in result.stderr
    if suggestion is not None:
        assert suggestion in result.stderr


def test_lint_lists_every_type_error_of_a_ruleset_each_on_its_line(tmp_path: Path) -> None:
    # the type errors reported on the line of their replacement (the arity is a parse error, which
    # stops the file; the parameter's error is reported where the parameter is used)
    changes = [(old, new) for old, new, message, _ in TYPED_ERRORS if "个参数，实际" not in message]
    changes = [(old, new) for old, new in changes if "value:" not in old]
    folder, text = _bad_ruleset(tmp_path, *changes)
    result = run("lint", str(folder))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("✗ ")]
    assert len(lines) == len(changes)
    wanted = sorted(_line(text, new.strip()) for _, new in changes)
    assert [int(line.split("ruleset.yaml:")[1].split(":")[0]) for line in lines] == wanted


def test_lint_refuses_a_one_lookup_whose_key_is_not_unique(tmp_path: Path) -> None:
    old = next(
        f"    one: true\n{comment}\n    if_several: unknown\n"
        for comment in PILOT_TEXT.splitlines()
        if comment.strip().startswith("# 一份备案")
    )
    folder, text = _bad_ruleset(tmp_path, (old, "    one: true\n"))
    result = run("lint", str(folder))
    assert result.exit_code == 1
    line = _line(text, "match: {filing_no: form.contract_filing_no}") + 1
    assert f"ruleset.yaml:{line}: lookups.filing.one: one: true 的查询 filing 按 filing_no" in result.stderr
    assert "唯一键为 filing_no、buyer_id_number" in result.stderr
    assert "if_several: unknown" in result.stderr


def test_guide_is_generated_from_the_ruleset() -> None:
    result = run("guide", "safety-permit-renewal")
    assert result.exit_code == 0
    out = result.stdout
    for needle in (
        "事项编码",
        "承诺件",
        "不收费",
        "免于提交",
        "安全生产条件承诺书",
        "地方参数",
        "建质〔2008〕91号",
    ):
        assert needle in out
    assert "- 本企业持有的安全生产许可证（电子证照信息库）" in out  # the registry by its declared title
    assert run("guide", "no-such-item").exit_code == 2


def test_golden_cases_pass_with_full_coverage() -> None:
    for item in ("deed-tax", "safety-permit-renewal"):
        result = run("test", str(PROJECT_ROOT / "rulesets" / item), "--require-full-coverage")
        assert result.exit_code == 0, result.stdout[-2000:]
        assert "0 failed" in result.stdout and "coverage: 100%" in result.stdout


def test_golden_run_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    samples = tmp_path / "deed-tax"
    shutil.copytree(SAMPLES / "deed-tax", samples)
    expected = json.loads((samples / "expected.json").read_text(encoding="utf-8"))
    first = sorted(expected)[0]
    expected[first]["outcome"] = "rejected"
    (samples / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
    result = run(
        "test",
        str(PROJECT_ROOT / "rulesets" / "deed-tax"),
        "--samples",
        str(samples),
        "--shared",
        str(SAMPLES / "shared-data"),
    )
    assert result.exit_code == 1
    assert "1 failed" in result.stdout


def test_decide_refuses_a_deep_or_huge_case_file_with_exit_2(loaded: str, tmp_path: Path) -> None:
    """JSON nested 10,000 deep used to print a RecursionError traceback and exit 1."""
    data = sample("dt-01")
    text = json.dumps({**data, "form": {"extra": "__DEEP__"}})
    text = text.replace('"__DEEP__"', "[" * 10_000 + "]" * 10_000)
    deep = write_case(tmp_path, text, name="deep.json")
    result = run("decide", str(deep), "--db", loaded)
    assert result.exit_code == 2, result.output
    assert "嵌套" in result.stderr and "Traceback" not in result.output
    huge = write_case(tmp_path, json.dumps({**data, "form": {"extra": "a" * (5 * 2**20)}}), name="huge.json")
    result = run("decide", str(huge), "--db", loaded)
    assert result.exit_code == 2, result.output
    assert "上限" in result.stderr


def test_user_add_binds_an_applicant_to_its_subject(loaded: str) -> None:
    from sqlalchemy import create_engine, select

    from store.records import User

    ok = run("user", "add", "wang", "--name", "王成帆", "--role", "applicant",
             "--subject-id", "510122198209032792", "--db", loaded)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    firm = run("user", "add", "shuan", "--name", "蜀安", "--role", "applicant", "--subject-id",
               "91510108MA68NRE11H", "--acting-id", "510120197904210485", "--db", loaded)  # fmt: skip
    assert firm.exit_code == 0, firm.output
    bad = run("user", "add", "bad", "--name", "x", "--role", "applicant",
              "--subject-id", "510122198209032793", "--db", loaded)  # fmt: skip
    assert bad.exit_code == 2 and "既不是有效的身份证号码" in bad.output
    not_rep = run("user", "add", "clerk", "--name", "x", "--role", "applicant", "--subject-id",
                  "91510108MA68NRE11H", "--acting-id", "510104199105060117", "--db", loaded)  # fmt: skip
    assert not_rep.exit_code == 2 and "法定代表人" in not_rep.output
    engine = create_engine(loaded)
    with engine.connect() as conn:
        rows = {
            u.id: (u.subject_kind, u.subject_id, u.acting_id_number, u.acting_as)
            for u in conn.execute(select(User.__table__))
        }
    engine.dispose()
    assert rows == {
        "wang": ("person", "510122198209032792", None, None),
        "shuan": ("enterprise", "91510108MA68NRE11H", "510120197904210485", "legal_representative"),
    }


def test_user_bind_binds_an_existing_applicant_account(loaded: str) -> None:
    from sqlalchemy import create_engine, select

    from store.records import AuditEvent, User

    for user_id, role in (("li", "applicant"), ("firm", "applicant"), ("clerk", "auditor")):
        made = run("user", "add", user_id, "--name", user_id, "--role", role, "--db", loaded)
        assert made.exit_code == 0, made.output
    person = run("user", "bind", "li", "--subject-id", "510122198209032792", "--db", loaded)
    assert person.exit_code == 0, person.output
    assert "已将用户 li 绑定到个人申请主体" in person.stdout and "510122198209032792" not in person.stdout
    firm = run("user", "bind", "firm", "--subject-id", "91510108MA68NRE11H",
               "--acting-id", "510120197904210485", "--db", loaded)  # fmt: skip
    assert firm.exit_code == 0 and "由法定代表人办理" in firm.stdout, firm.output
    # bad input: exit 2 with the reason in Chinese and English, nothing changed
    cases = [
        (["li", "--subject-id", "510122198209032793"], "既不是有效的身份证号码"),
        (["firm", "--subject-id", "91510108MA68NRE11H", "--acting-id", "510104199105060117"], "法定代表人"),
        (["firm", "--subject-id", "91510108MA68NRE11H"], "须填写经办人"),
        (["firm", "--subject-id", "91510108MA68NRE11H", "--acting-id", "510104199105060117", "--as", "boss"],
         "--as must be"),
        (["li", "--subject-id", "510122198209032792", "--acting-id", "510120197904210485"], "不填写经办人"),
        (["nobody", "--subject-id", "510122198209032792"], "不存在"),
        (["clerk", "--subject-id", "510122198209032792"], "只有申请人账号绑定申请主体"),
    ]  # fmt: skip
    for args, reason in cases:
        bad = run("user", "bind", *args, "--db", loaded)
        assert bad.exit_code == 2, (args, bad.output)
        assert reason in bad.stderr, (args, bad.stderr)
        assert "cannot bind" in bad.stderr or "must be" in bad.stderr, bad.stderr  # and in English
        assert "Traceback" not in bad.output
    # an agent the enterprise authorised, who is not its registered 法定代表人
    agent = run("user", "bind", "firm", "--subject-id", "91510108MA68NRE11H",
                "--acting-id", "510104199105060117", "--as", "agent", "--db", loaded)  # fmt: skip
    assert agent.exit_code == 0 and "由经办人受托办理" in agent.stdout, agent.output
    engine = create_engine(loaded)
    with engine.connect() as conn:
        rows = {
            u.id: (u.subject_kind, u.subject_id, u.acting_id_number, u.acting_as)
            for u in conn.execute(select(User.__table__))
        }
        bound = list(
            conn.execute(select(AuditEvent.subject).where(AuditEvent.action == "user.subject_bound"))
        )
    engine.dispose()
    assert rows["li"] == ("person", "510122198209032792", None, None)
    assert rows["firm"] == ("enterprise", "91510108MA68NRE11H", "510104199105060117", "agent")
    assert rows["clerk"] == (None, None, None, None)
    assert [b.subject for b in bound] == ["li", "firm", "firm"]
