"""The third item, 应届毕业生人才引进落户 (graduate-hukou), through the CLI: its registries declared as
data (学历学位、户籍登记、违法犯罪记录) are named in Chinese by the guide and the pages, its reasons print
labels rather than codes, and its golden cases pass with full coverage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.presenters import cell, column_title
from miaopi.cli import app
from service.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples"
CASES = SAMPLES / "graduate-hukou" / "cases"
runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = f"sqlite:///{tmp_path_factory.mktemp('graduate') / 'shared.db'}"
    result = runner.invoke(app, ["data", "load", str(SAMPLES / "shared-data"), "--db", db])
    assert result.exit_code == 0, result.output
    for name in ("academic_records", "household_registrations", "criminal_records"):
        assert name in result.stdout  # the new registries' CSVs are loaded with the others
    return db


def decide(case_id: str, db: str) -> dict[str, object]:
    result = runner.invoke(app, ["decide", str(CASES / f"{case_id}.json"), "--db", db])
    assert result.exit_code == 0, result.output
    decision: dict[str, object] = json.loads(result.stdout)
    return decision


def messages(decision: dict[str, object]) -> str:
    reasons = decision["reasons"]
    assert isinstance(reasons, list)
    return "\n".join(str(r["message"]) for r in reasons)


def test_the_guide_names_the_new_registries_in_chinese() -> None:
    result = runner.invoke(app, ["guide", "graduate-hukou"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "# 应届毕业生人才引进落户 办事指南" in out
    for line in (
        "- 申请人申报层次的学历记录（学历学位信息库）",
        "- 申请人在本市在册的常住户口登记（户籍登记信息库）",
        "- 申请人的违法犯罪记录（违法犯罪记录信息库）",
        "- 接收单位为申请人缴纳社会保险的记录（社会保险参保缴费信息库）",
    ):
        assert line in out
    for name in ("academic_records", "household_registrations", "criminal_records"):
        assert name not in out
    assert "本科（bachelor）" in out  # the declared form's choices with their labels


def test_the_pages_title_the_new_registries_columns_and_label_their_codes() -> None:
    assert column_title("household_registrations", "status") == "户籍状态"
    assert cell("household_registrations", "status", "moved_out") == "已迁出"
    assert cell("academic_records", "study_mode", "part_time") == "非全日制"
    assert cell("criminal_records", "category", "criminal") == "刑事处罚"


@pytest.mark.parametrize(
    ("case_id", "outcome", "labels", "codes"),
    [
        ("gh-24-junior-college", "rejected", ["申报学历为专科（大专）"], ["junior_college"]),
        ("gh-23-part-time", "review", ["硕士研究生学历", "学习形式为非全日制"], ["master", "part_time"]),
        ("gh-32-employer-revoked", "review", ["登记状态为吊销"], ["revoked"]),
        ("gh-14-master-on-40th-birthday", "rejected", ["40 周岁，硕士研究生学历须未满 40 周岁"], ["master"]),
        ("gh-25-degree-not-on-record", "returned", ["没有申请人的硕士研究生学历记录"], ["master"]),
    ],
)
def test_a_decisions_reasons_print_labels_not_codes(
    loaded: str, case_id: str, outcome: str, labels: list[str], codes: list[str]
) -> None:
    decision = decide(case_id, loaded)
    assert decision["outcome"] == outcome
    text = messages(decision)
    for label in labels:
        assert label in text, text
    for code in codes:
        assert code not in text, text


def test_every_graduate_case_decides_as_expected_through_the_cli(loaded: str) -> None:
    expected = json.loads((SAMPLES / "graduate-hukou" / "expected.json").read_text(encoding="utf-8"))
    assert len(expected) >= 25
    for case_id, want in list(expected.items())[::3]:
        if "refused" in want:
            continue
        assert decide(case_id, loaded)["outcome"] == want["outcome"], case_id


def test_an_enterprise_applicant_is_refused_before_anything_is_decided(loaded: str) -> None:
    expected = json.loads((SAMPLES / "graduate-hukou" / "expected.json").read_text(encoding="utf-8"))
    assert expected["gh-37-enterprise-applicant"]["refused"] == ["applicant.kind"]
    result = runner.invoke(app, ["decide", str(CASES / "gh-37-enterprise-applicant.json"), "--db", loaded])
    assert result.exit_code == 2
    assert "applicant.kind" in result.stderr and "只受理个人申请" in result.stderr


def test_the_golden_cases_pass_with_full_coverage() -> None:
    result = runner.invoke(
        app, ["test", str(PROJECT_ROOT / "rulesets" / "graduate-hukou"), "--require-full-coverage"]
    )
    assert result.exit_code == 0, result.stdout[-2000:]
    assert "0 failed" in result.stdout and "coverage: 100%" in result.stdout


def test_a_refusal_is_expected_only_where_the_golden_case_says_so(tmp_path: Path) -> None:
    """`"refused": [paths]` passes only for a case refused with problems at those paths; a case expected
    to be decided fails when it is refused, and one expected to be refused fails when it is decided."""
    samples = tmp_path / "graduate-hukou"
    shutil.copytree(SAMPLES / "graduate-hukou", samples)
    expected = json.loads((samples / "expected.json").read_text(encoding="utf-8"))
    expected["gh-37-enterprise-applicant"] = {"title": "期望判定", "outcome": "review"}
    expected["gh-01-bachelor"] = {"title": "期望拒收", "refused": ["applicant.kind"]}
    expected["gh-02-master"] = {"title": "拒收的路径不对", "refused": ["form.degree"]}
    expected["gh-36-no-commitment"]["refused"] = ["applicant.kind"]
    (samples / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
    folder = str(PROJECT_ROOT / "rulesets" / "graduate-hukou")
    shared = str(SAMPLES / "shared-data")
    result = runner.invoke(app, ["test", folder, "--samples", str(samples), "--shared", shared])
    assert result.exit_code == 1
    assert f"{len(expected) - 4} passed, 4 failed" in result.stdout
    one = runner.invoke(
        app, ["test", folder, "--samples", str(samples), "--shared", shared, "--case", "gh-02-master"]
    )
    assert "form.degree" in one.stdout and "1 failed" in one.stdout


def test_the_case_page_shows_the_new_registries_titles_and_labels(tmp_path: Path) -> None:
    import re

    from fastapi.testclient import TestClient

    from api.app import create_app
    from miaopi.worker import run_worker
    from service.cases import submit_case
    from service.container import create_services
    from service.rulesets import seed_rulesets
    from service.settings import Settings
    from service.transactions import utcnow
    from service.users import add_user, subject_for
    from store.loader import load_directory
    from store.records import User

    password = "审批-密码-2026"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'miaopi.db'}",
        files_dir=tmp_path / "files",
        web_secret="tests-web-secret",
        post_check_rate=0.0,
    )
    services = create_services(settings)
    load_directory(services.engine, SAMPLES / "shared-data")
    assert "graduate-hukou@2026.1" in seed_rulesets(services, now=utcnow())
    add_user(
        services,
        user_id="talent",
        display_name="人才引进审批",
        role="approver",
        department="深圳市人力资源和社会保障局",
        password=password,
        now=utcnow(),
    )
    case_id = "gh-23-part-time"
    data = json.loads((CASES / f"{case_id}.json").read_text(encoding="utf-8"))
    add_user(
        services,
        user_id="graduate",
        display_name="申请人",
        role="applicant",
        department=None,
        password=None,
        subject=subject_for(services, subject_id=data["applicant"]["id_number"]),
        now=utcnow(),
    )
    with services.sessions() as session:
        applicant = session.get(User, "graduate")
    assert applicant is not None
    submit_case(services, user=applicant, data=data, uploads=[], idempotency_key=None, now=utcnow())
    assert run_worker(settings, idle_exit=True) == 1

    with TestClient(create_app(settings, services=services), follow_redirects=False) as client:
        login = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert token is not None
        signed = client.post(
            "/login",
            data={"user_id": "talent", "password": password, "csrf": token.group(1), "next": "/queue"},
        )
        assert signed.status_code == 303, signed.text
        page = client.get(f"/cases/{case_id}")
    services.engine.dispose()
    assert page.status_code == 200, page.text
    html = page.text
    records = re.search(
        r'<table class="grid records" data-registry="academic_records">(.*?)</table>', html, re.S
    )
    assert records is not None, "the education record the decision read is shown"
    headers = re.findall(r"<th scope=\"col\">([^<]*)</th>", records.group(1))
    assert headers[:6] == ["身份证号码", "姓名", "毕业院校", "学历层次", "学习形式", "毕业日期"]
    cells = re.findall(r"<td>([^<]*)</td>", records.group(1))
    assert "硕士研究生" in cells and "非全日制" in cells and "part_time" not in cells
    for title in ("<h3>学历学位信息库</h3>", "<h3>户籍登记信息库</h3>", "<h3>违法犯罪记录信息库</h3>"):
        assert title in html
    assert "学习形式为非全日制" in html and "申报的硕士研究生学历" in html
