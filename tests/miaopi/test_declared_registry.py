"""A registry and an item added without a programmer: from a temporary folder, with no Python file
changed, a new registry declaration (education_records), its CSV and a new item folder using it
(tests/miaopi/declared_item/graduate-settlement: the ruleset, its registries/ and its golden cases)
go through `miaopi data load`, `lint`, `test`, `decide` and `data show` as separate processes, on
SQLite and PostgreSQL; the decision cites the registry by its declared title and prints its codes as
their labels, and the approver's case page shows the registry's column titles and labels."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.registries import REGISTRIES
from service.settings import Settings

DECLARED = Path(__file__).resolve().parent / "declared_item"
ITEM = "graduate-settlement"
MIAOPI = Path(sys.executable).with_name("miaopi")
DEPARTMENT = "成都市公安局"
PASSWORD = "审批-密码-2026"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def rulesets(tmp_path: Path) -> Path:
    """A rulesets root holding the item folder, copied as a department would copy it."""
    root = tmp_path / "rulesets"
    shutil.copytree(DECLARED / ITEM, root / ITEM)
    return root


@pytest.fixture
def data(tmp_path: Path, rulesets: Path) -> Path:
    """The education department's data folder: the CSV with its declaration beside it."""
    folder = tmp_path / "education-data"
    folder.mkdir()
    shutil.copy(rulesets / ITEM / "tests" / "shared-data" / "education_records.csv", folder)
    shutil.copy(rulesets / ITEM / "registries" / "education_records.yaml", folder)
    return folder


def miaopi(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `miaopi` command in a process of its own, with only the given MIAOPI_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MIAOPI_")}
    return subprocess.run(
        [str(MIAOPI), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, "COLUMNS": "200", **env},
        timeout=300,
        check=False,
    )


def condition(decision: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in decision["conditions"] if c["id"] == cid)


def test_a_declared_registry_and_its_item_work_through_the_cli(
    db_url: str, tmp_path: Path, rulesets: Path, data: Path
) -> None:
    item = rulesets / ITEM
    # undeclared, the CSV is refused with the way to declare it
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(data / "education_records.csv", bare)
    refused = miaopi("data", "load", bare, "--db", db_url, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "education_records.csv" in refused.stderr and "education_records.yaml" in refused.stderr

    # declared beside the CSV: its table is created and the rows loaded
    loaded = miaopi("data", "load", data, "--db", db_url, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert re.search(r"education_records\s*│\s*4\s*│\s*4\s*│", loaded.stdout), loaded.stdout

    # the item folder brings its registry: lint and the golden cases pass wherever the folder is
    linted = miaopi("lint", item, cwd=tmp_path)
    assert linted.returncode == 0, linted.stderr
    assert "graduate-settlement 2026.1" in linted.stdout
    tested = miaopi("test", item, "--require-full-coverage", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed, 0 failed" in tested.stdout
    assert "coverage: 100% of 2 conditions" in tested.stdout

    # without its registries/ the item fails lint, saying where to declare the registry
    alone = tmp_path / "alone" / ITEM
    shutil.copytree(item, alone, ignore=shutil.ignore_patterns("registries"))
    unlinted = miaopi("lint", alone, cwd=tmp_path)
    assert unlinted.returncode == 1
    assert "未知的共享数据库 'education_records'" in unlinted.stderr and "registries/" in unlinted.stderr

    # decided against the loaded database, the item found through MIAOPI_RULESETS_DIR
    settings = {"MIAOPI_RULESETS_DIR": str(rulesets)}
    cases = item / "tests" / "cases"
    approved = miaopi(
        "decide", cases / "gs-01-full-time-master.json", "--db", db_url, cwd=tmp_path, **settings
    )
    assert approved.returncode == 0, approved.stderr
    decision = json.loads(approved.stdout)
    assert decision["outcome"] == "approved" and decision["reasons"] == []
    assert decision["outputs"] == {"transfer_valid_to": "2027-02-20"}
    source = condition(decision, "graduated_recently")["sources"]["education.graduated_on"]
    assert source["kind"] == "registry" and source["registry"] == "education_records"
    assert source["title"] == "学历学位信息库"
    assert source["keys"] == [{"id_number": "510107200203140211", "degree": "master"}]

    rejected = miaopi("decide", cases / "gs-02-part-time.json", "--db", db_url, cwd=tmp_path, **settings)
    assert rejected.returncode == 0, rejected.stderr
    decision = json.loads(rejected.stdout)
    assert decision["outcome"] == "rejected"
    assert [r["message"] for r in decision["reasons"]] == [
        "申报学历在学历学位信息库中的学习形式为“非全日制”，不属于全日制普通高等教育学历"
    ]
    assert condition(decision, "full_time_graduate")["values"] == {"study_mode": "part_time"}

    # the operator's list view: column titles, labels, personal columns masked
    shown = miaopi("data", "show", "education_records", "--db", db_url, cwd=tmp_path, **settings)
    assert shown.returncode == 0, shown.stderr
    for text in (
        "学历学位信息库",
        "共 4 行",
        "毕业院校",
        "学习形式",
        "非全日制",
        "硕士研究生",
        "510107********0211",
    ):
        assert text in shown.stdout, text
    assert "510107200203140211" not in shown.stdout and "李明" not in shown.stdout

    listed = miaopi("data", "registries", cwd=tmp_path, **settings)
    assert listed.returncode == 0, listed.stderr
    assert "education_records" in listed.stdout and "学历学位信息库" in listed.stdout


def sign_in(client: TestClient, user_id: str) -> None:
    page = client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    r = client.post(
        "/login", data={"user_id": user_id, "password": PASSWORD, "csrf": token.group(1), "next": "/queue"}
    )
    assert r.status_code == 303, r.text


def test_the_case_page_shows_the_declared_titles_and_labels(
    db_url: str, tmp_path: Path, rulesets: Path
) -> None:
    from api.app import create_app
    from miaopi.worker import run_worker
    from service.cases import submit_case
    from service.container import create_services
    from service.rulesets import seed_rulesets
    from service.transactions import utcnow
    from service.users import add_user, subject_for
    from store.loader import load_directory
    from store.records import User

    settings = Settings(
        database_url=db_url,
        rulesets_dir=rulesets,
        files_dir=tmp_path / "files",
        web_secret="tests-web-secret",
        post_check_rate=0.0,
    )
    services = create_services(settings)  # the item's registries/ declared, their table created
    assert REGISTRIES["education_records"].title == "学历学位信息库"
    load_directory(services.engine, rulesets / ITEM / "tests" / "shared-data")
    assert seed_rulesets(services, now=utcnow()) == ["graduate-settlement@2026.1"]
    add_user(
        services,
        user_id="police",
        display_name="户籍审批",
        role="approver",
        department=DEPARTMENT,
        password=PASSWORD,
        now=utcnow(),
    )
    case_id = "gs-03-graduated-long-ago"
    data = json.loads((rulesets / ITEM / "tests" / "cases" / f"{case_id}.json").read_text(encoding="utf-8"))
    add_user(  # the citizen's own account, bound to the case's applicant
        services,
        user_id="citizen",
        display_name="申请人",
        role="applicant",
        department=None,
        password=None,
        subject=subject_for(services, subject_id=data["applicant"]["id_number"]),
        now=utcnow(),
    )
    with services.sessions() as session:
        applicant = session.get(User, "citizen")
    assert applicant is not None
    submit_case(services, user=applicant, data=data, uploads=[], idempotency_key=None, now=utcnow())
    assert run_worker(settings, idle_exit=True) == 1

    with TestClient(create_app(settings, services=services), follow_redirects=False) as client:
        sign_in(client, "police")
        page = client.get(f"/cases/{case_id}")
    services.engine.dispose()
    assert page.status_code == 200, page.text
    html = page.text
    records = re.search(
        r'<table class="grid records" data-registry="education_records">(.*?)</table>', html, re.S
    )
    assert records is not None, "the education record the decision read is shown"
    headers = re.findall(r"<th scope=\"col\">([^<]*)</th>", records.group(1))
    assert headers == ["身份证号码", "姓名", "毕业院校", "学历层次", "毕业日期", "学习形式"]
    cells = re.findall(r"<td>([^<]*)</td>", records.group(1))
    assert cells == ["510107199911300460", "赵强", "电子科技大学", "本科", "2022-06-30", "全日制"]
    assert "<h3>学历学位信息库</h3>" in html
    # a condition's coded value, read through a derived value, shown as its label
    assert "<dt><code>study_mode</code></dt><dd>全日制</dd>" in html
    assert "毕业日期为 2022-06-30，早于可申请的最早毕业日期 2024-11-20" in html


def test_the_settings_folder_and_the_item_folders_declare_registries(tmp_path: Path, rulesets: Path) -> None:
    from engine.errors import RulesetError
    from service.registries import load_registries, registry_folders

    declaration = (rulesets / ITEM / "registries" / "education_records.yaml").read_text(encoding="utf-8")
    extra = tmp_path / "declarations"
    extra.mkdir()
    (extra / "training_records.yaml").write_text(
        declaration.replace("name: education_records", "name: training_records"), encoding="utf-8"
    )
    settings = Settings(rulesets_dir=rulesets, registries_dir=extra)
    assert registry_folders(settings) == [extra, rulesets / ITEM / "registries"]
    assert [r.name for r in load_registries(settings)] == ["training_records", "education_records"]
    assert load_registries(settings) == []  # read again: nothing new
    assert REGISTRIES["training_records"].source == str(extra / "training_records.yaml")

    (extra / "education_records.yaml").write_text(
        declaration.replace("title: 学历学位信息库", "title: 学历信息库"), encoding="utf-8"
    )
    with pytest.raises(RulesetError) as info:
        load_registries(settings)
    message = info.value.message
    assert "同名的库只能有一种声明" in message and "名称 学历学位信息库 ≠ 学历信息库" in message
    assert str(rulesets / ITEM / "registries" / "education_records.yaml") in message  # the known one
    assert info.value.source == str(extra / "education_records.yaml")  # the one refused


def test_a_broken_declaration_beside_the_data_ends_the_load_naming_file_and_line(
    tmp_path: Path, data: Path
) -> None:
    from typer.testing import CliRunner

    from miaopi.cli import app

    path = data / "education_records.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("type: date", "type: datum"), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "load", str(data), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    line = next(
        i for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "datum" in text
    )
    assert f"education_records.yaml:{line}: columns.graduated_on.type: 未知的列类型 'datum'" in result.stderr
    assert "'date'" in result.stderr  # the suggestion


def test_replay_worker_processes_are_given_the_declared_registries(
    rulesets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`miaopi diff --processes N` replays in spawned processes, which start with the built-ins only."""
    import service.impact as impact
    from engine.errors import RulesetError
    from engine.program import build_program
    from service.registries import add_folder

    [registry] = add_folder(rulesets / ITEM / "registries")
    text = (rulesets / ITEM / "ruleset.yaml").read_text(encoding="utf-8")
    fresh = {name: r for name, r in REGISTRIES.snapshot().items() if name in REGISTRIES.builtin_names}
    REGISTRIES.restore(fresh)  # what a freshly spawned process knows
    with pytest.raises(RulesetError, match="未知的共享数据库 'education_records'"):
        build_program(text, source="candidate.yaml")
    monkeypatch.setattr(impact, "_worker_program", None)  # put back after the test
    monkeypatch.setattr(impact, "_worker_evaluator", None)
    impact._start_worker(text, "candidate.yaml", [registry])
    assert impact._worker_program is not None and impact._worker_program.item == ITEM
