"""The rule author's loop (`miaopi test`): an item is one folder with its golden cases and their shared
data beside the ruleset; a failing case says what was expected, what came out and why; one case can be
run alone; a run that fails only for coverage says so; table rows are covered like conditions."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from miaopi.cli import app
from service.settings import PROJECT_ROOT, get_settings

SAMPLES = PROJECT_ROOT / "samples"
CASES = ("dt-01-only-home-small", "dt-04-spouse-house-large", "dt-22-name-mismatch")
"""Form-only deed-tax cases: an approval at 1 %, one at 2 %, a review for a name that does not match."""


def _text(output: str) -> str:
    return re.sub(r"\s+", " ", output)


@pytest.fixture
def item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """rulesets/deed-tax copied elsewhere with three golden cases and the shared data in its tests/;
    the samples folder of the settings is empty, so nothing can come from the checkout."""
    folder = tmp_path / "elsewhere" / "deed-tax"
    folder.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "rulesets" / "deed-tax" / "ruleset.yaml", folder / "ruleset.yaml")
    tests = folder / "tests"
    (tests / "cases").mkdir(parents=True)
    expected = json.loads((SAMPLES / "deed-tax" / "expected.json").read_text(encoding="utf-8"))
    for name in CASES:
        shutil.copy(SAMPLES / "deed-tax" / "cases" / f"{name}.json", tests / "cases")
    _write_expected(folder, {name: expected[name] for name in CASES})
    shutil.copytree(SAMPLES / "shared-data", tests / "shared-data")
    empty = tmp_path / "no-samples"
    empty.mkdir()
    monkeypatch.setenv("MIAOPI_SAMPLES_DIR", str(empty))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def _write_expected(folder: Path, expected: dict[str, Any]) -> None:
    (folder / "tests" / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False), encoding="utf-8"
    )


def _expected(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "tests" / "expected.json").read_text(encoding="utf-8"))
    return data


def test_an_item_folder_copied_anywhere_runs_its_own_golden_cases(item: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(item)])
    assert result.exit_code == 0, result.output
    out = _text(result.output)
    assert "3 passed, 0 failed" in out
    assert str(item / "tests") in out


def test_a_failing_case_shows_expected_and_actual_and_the_conditions_behind_it(item: Path) -> None:
    expected = _expected(item)
    expected["dt-22-name-mismatch"]["outcome"] = "approved"
    expected["dt-22-name-mismatch"]["failed"] = []
    _write_expected(item, expected)
    result = CliRunner().invoke(app, ["test", str(item)])
    assert result.exit_code == 1, result.output
    out = _text(result.output)
    assert "outcome: 期望 approved，实际 review" in out
    assert "failed: 期望 []，实际 ['applicant_name_matches']" in out
    # why: the condition that failed, with the values it compared
    why = next(line for line in result.output.splitlines() if "fail applicant_name_matches" in line)
    assert "=" in why, why
    assert "1 failed" in out


def test_one_case_can_be_run_alone_and_an_unknown_case_is_refused(item: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(item), "--case", "dt-04-spouse-house-large", "-v"])
    assert result.exit_code == 0, result.output
    out = _text(result.output)
    assert "1 passed, 0 failed" in out and "dt-01-only-home-small" not in out
    assert "pass applicant_registered" in out  # --verbose lists passing conditions too
    result = CliRunner().invoke(app, ["test", str(item), "--case", "dt-04-spouse-house-larg"])
    assert result.exit_code == 2
    assert "dt-04-spouse-house-large" in _text(result.output)  # the suggestion


def test_a_run_failing_only_for_coverage_says_so(item: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(item), "--require-full-coverage"])
    assert result.exit_code == 1, result.output
    out = _text(result.output)
    assert "3 passed, 0 failed" in out and "所有案例通过，但覆盖不全" in out
    assert "family_houses_match" in out.split("所有案例通过，但覆盖不全")[1]


def test_decision_table_rows_are_covered_like_conditions(item: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(item)])
    out = _text(result.output)
    # dt-01 and dt-22 hit row 2 (only home, ≤ 140 m²), dt-04 row 5 (second home, > 140 m²)
    rows = dict(re.findall(r"│ rate\s+│ (\d)\s+│ (\S+)\s+│", result.output))
    assert rows == {"1": "0", "2": "2", "3": "0", "4": "0", "5": "1", "6": "0"}, result.output
    assert "未被任何案例命中的决策表行：rate 第 1 行、rate 第 3 行、rate 第 4 行、rate 第 6 行" in out
