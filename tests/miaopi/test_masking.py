"""Personal data is masked in logs and list views."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.registries import REGISTRIES
from service.cases import decide_case, read_case_file
from service.masking import mask_id, mask_name, mask_record, mask_text
from service.rulesets import RulesetCatalogue as RulesetRepository
from service.settings import PROJECT_ROOT
from store.loader import read_registry_file, registry_files


def test_mask_id_keeps_region_and_last_four() -> None:
    assert mask_id("510104199105060117") == "510104********0117"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("陈晓明", "陈*明"),
        ("欧阳娜娜", "欧**娜"),
        ("四川蜀安建设集团有限公司", "四川蜀安建设集团有限公司"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_text_masks_every_id_and_the_given_names() -> None:
    text = (
        "申请人姓名“陈晓明”与人口库不一致；合同买受人 510104199105060117 与申请人 51010419850203022X 不一致"
    )
    out = mask_text(text, names=["陈晓明"])
    assert "陈晓明" not in out and "510104199105060117" not in out and "51010419850203022X" not in out
    assert "陈*明" in out and "510104********0117" in out


def test_decision_log_line_masks_the_applicant(caplog: pytest.LogCaptureFixture) -> None:
    from engine.ports import InMemoryRegistry

    registry = InMemoryRegistry()
    for name, path in registry_files(PROJECT_ROOT / "samples" / "shared-data").items():
        for row in read_registry_file(REGISTRIES[name], path).values():
            registry.add(name, row)
    path = next(Path(PROJECT_ROOT / "samples" / "deed-tax" / "cases").glob("dt-22*.json"))
    case, _ = read_case_file(path)
    with caplog.at_level(logging.INFO, logger="miaopi"):
        decide_case(case, repository=RulesetRepository(PROJECT_ROOT / "rulesets"), registry=registry)
    assert caplog.records, "a decision is logged"
    assert case.applicant.id_number is not None
    assert case.applicant.id_number not in caplog.text
    assert case.applicant.name not in caplog.text
    assert mask_id(case.applicant.id_number) in caplog.text


def test_mask_record_masks_the_columns_declared_personal() -> None:
    row = {
        "id_number": "510104199105060117",
        "name": "陈晓明",
        "gender": "男",
        "birth_date": "1991-05-06",
        "status": "normal",
    }
    assert mask_record(REGISTRIES["population"], row) == {
        "id_number": "510104********0117",
        "name": "陈*明",
        "gender": "男",
        "birth_date": "***",
        "status": "normal",
    }
    enterprise = {"credit_code": "91510100MA6E4KXP1J", "name": "成都天诚建设集团有限公司", "status": "active"}
    assert mask_record(REGISTRIES["enterprises"], enterprise) == enterprise  # nothing personal
    assert mask_record(REGISTRIES["population"], {"name": None})["name"] is None


def test_data_show_lists_rows_with_titles_labels_and_personal_columns_masked(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from miaopi.cli import app

    db = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    loaded = runner.invoke(app, ["data", "load", str(PROJECT_ROOT / "samples" / "shared-data"), "--db", db])
    assert loaded.exit_code == 0, loaded.output
    shown = runner.invoke(app, ["data", "show", "population", "--limit", "5", "--db", db], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "人口基础信息库" in shown.stdout and "身份证号码" in shown.stdout and "状态" in shown.stdout
    assert "正常" in shown.stdout and "normal" not in shown.stdout
    population = PROJECT_ROOT / "samples" / "shared-data" / "population.csv"
    first = sorted(
        read_registry_file(REGISTRIES["population"], population).values(), key=lambda r: r["id_number"]
    )
    for row in first[:5]:
        assert row["id_number"] not in shown.stdout and mask_id(row["id_number"]) in shown.stdout
        assert mask_name(row["name"]) in shown.stdout
    unknown = runner.invoke(app, ["data", "show", "populaton", "--db", db])
    assert unknown.exit_code == 2 and "population" in unknown.stderr
