"""Impact analysis (`miaopi diff`): a candidate version replayed on the recorded facts of past decisions
shows exactly the cases whose outcome, outputs or conditions it would change, and nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from service_kit import ROOT, SAMPLES, Env, decide_all, make_env, sample, submit
from typer.testing import CliRunner

from miaopi.cli import app
from service.errors import InvalidRequest
from service.impact import INVALID, impact
from service.settings import Settings

RULESET = ROOT / "rulesets" / "deed-tax" / "ruleset.yaml"
FORM_ONLY = sorted(
    p.stem
    for p in (SAMPLES / "deed-tax" / "cases").glob("dt-*.json")
    if not json.loads(p.read_text(encoding="utf-8")).get("documents")
)
"""The deed-tax sample cases decided from their form and the registries alone (no scans to read)."""


def _decide_samples(env: Env) -> dict[str, str]:
    for name in FORM_ONLY:
        submit(env, name)
    decide_all(env)
    with env.services.sessions() as session:
        from sqlalchemy import select

        from store.records import DecisionRow

        return dict(session.execute(select(DecisionRow.case_id, DecisionRow.outcome)).all())


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, dict[str, str]]]:
    root = tmp_path_factory.mktemp("impact")
    env = make_env(Settings(database_url=f"sqlite:///{root / 'miaopi.db'}", files_dir=root / "files"))
    outcomes = _decide_samples(env)
    yield env, outcomes
    env.services.engine.dispose()


def _candidate(**changes: str) -> str:
    text = RULESET.read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _run(env: Env, text: str, **kw: Any) -> Any:
    return impact(env.services, item="deed-tax", candidate_text=text, candidate_source="candidate.yaml", **kw)


def test_the_version_in_force_as_candidate_changes_nothing(decided: tuple[Env, dict[str, str]]) -> None:
    env, outcomes = decided
    report = _run(env, RULESET.read_text(encoding="utf-8"))
    assert report.decisions == report.compared == len(outcomes) == len(FORM_ONLY)
    assert report.changed == 0 and report.outputs == {} and report.conditions == {}
    assert {old: c.count for (old, new), c in report.outcomes.items() if old == new} == {
        o: list(outcomes.values()).count(o) for o in set(outcomes.values())
    }


def test_a_lower_relief_area_changes_the_tax_of_exactly_the_cases_between_the_limits(
    decided: tuple[Env, dict[str, str]],
) -> None:
    """The relief limit 140 m² → 120 m²: the homes of more than 120 and at most 140 m² pay the higher
    rate (their tax is computed whatever the outcome); nothing else changes, and no outcome."""
    env, _ = decided
    report = _run(env, _candidate(**{"    value: 140\n": "    value: 120\n"}))
    between = {
        name
        for name in FORM_ONLY
        if sample(name)["form"]["usage"] == "residential"
        and Decimal("120") < Decimal(str(sample(name)["form"]["area_m2"])) <= Decimal("140")
    }
    assert len(between) > 3, "the sample set has homes between 120 and 140 m²"
    assert report.changed == 0
    assert set(report.outputs) == {"tax_rate", "tax_amount"}
    assert report.outputs["tax_amount"].cell.count == len(between)
    assert set(report.outputs["tax_amount"].cell.cases) == between
    change = report.outputs["tax_amount"]
    assert change.numeric and change.after > change.before  # a money output is summed
    assert not report.outputs["tax_rate"].numeric  # a rate is not summed
    for case_id, before, after in change.examples:
        assert Decimal(after) > Decimal(before), case_id


def test_a_new_required_form_field_shows_every_case_as_refused_by_the_form(
    decided: tuple[Env, dict[str, str]],
) -> None:
    env, outcomes = decided
    text = _candidate(**{"fields:\n": "fields:\n  buyer_phone: {type: string, title: 购房人联系电话}\n"})
    report = _run(env, text)
    assert report.compared == len(outcomes)
    assert {new for (_old, new) in report.outcomes} == {INVALID}
    assert report.changed == len(outcomes)


def test_processes_give_the_same_report_as_one(decided: tuple[Env, dict[str, str]]) -> None:
    env, _ = decided
    text = _candidate(**{"    value: 140\n": "    value: 120\n"})
    one = _run(env, text, batch=5).to_json_dict()
    two = _run(env, text, batch=5, processes=2).to_json_dict()
    one.pop("elapsed_s"), two.pop("elapsed_s")
    assert one == two


def test_a_candidate_of_another_item_is_refused(decided: tuple[Env, dict[str, str]]) -> None:
    env, _ = decided
    text = (ROOT / "rulesets" / "safety-permit-renewal" / "ruleset.yaml").read_text(encoding="utf-8")
    with pytest.raises(InvalidRequest, match="safety-permit-renewal"):
        _run(env, text)


def test_cli_diff_prints_the_changes_and_refuses_bad_input(
    decided: tuple[Env, dict[str, str]], tmp_path: Path
) -> None:
    env, _ = decided
    db = env.settings.database_url
    folder = tmp_path / "deed-tax"
    folder.mkdir()
    (folder / "ruleset.yaml").write_text(_candidate(**{"    value: 140\n": "    value: 120\n"}), "utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["diff", "deed-tax", "--candidate", str(folder), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome_changed"] == 0
    assert {o["output"] for o in report["outputs"]} == {"tax_rate", "tax_amount"}
    assert next(o for o in report["outputs"] if o["output"] == "tax_amount")["title"] == "应纳税额（元）"
    result = runner.invoke(app, ["diff", "deed-tax", "--candidate", str(folder), "--db", db])
    assert result.exit_code == 0 and "应纳税额（元）" in result.stdout and "结论改变 0 件" in result.stdout
    # another item's name, a missing folder, a broken candidate, a bad date: exit 2, saying why
    for args, message in (
        (["diff", "safety-permit-renewal", "--candidate", str(folder)], "不是 'safety-permit-renewal'"),
        (["diff", "deed-tax", "--candidate", str(tmp_path / "nowhere")], "找不到候选规则集文件"),
        (["diff", "deed-tax", "--candidate", str(folder), "--since", "2026-13-01"], "--since"),
    ):
        result = runner.invoke(app, [*args, "--db", db])
        assert result.exit_code == 2, (args, result.output)
        assert message in re.sub(r"\s+", " ", result.output), result.output
    (folder / "ruleset.yaml").write_text("ruleset: 1\nversion: [\n", "utf-8")
    result = runner.invoke(app, ["diff", "deed-tax", "--candidate", str(folder), "--db", db])
    assert result.exit_code == 2, result.output


def test_impact_reads_the_recorded_facts_on_every_backend(env: Env) -> None:
    """`env` (tests/service/conftest.py): SQLite and PostgreSQL."""
    outcomes = _decide_samples(env)
    report = _run(env, _candidate(**{"    value: 140\n": "    value: 120\n"}))
    assert report.decisions == report.compared == len(outcomes)
    assert report.outputs["tax_amount"].cell.count > 0


def test_a_candidate_asking_the_registries_something_new_is_not_comparable_and_says_which(
    decided: tuple[Env, dict[str, str]],
) -> None:
    """The recorded facts hold only the questions the recorded version asked; a candidate asking
    another one is not guessed at, and the reason names the registry, not the person."""
    env, outcomes = decided
    report = _run(env, _candidate(**{"status: \"'married'\"}": "status: \"'divorced'\"}"}))
    assert report.compared == 0 and report.not_comparable.count == len(outcomes)
    assert dict(report.not_comparable_reasons) == {"需要记录之外的共享数据：marriage": len(outcomes)}
    assert not re.search(r"\d{17}[\dX]", json.dumps(report.to_json_dict(), ensure_ascii=False))


def test_the_publish_endpoints_dry_run_reports_the_impact_and_writes_nothing(
    decided: tuple[Env, dict[str, str]],
) -> None:
    from fastapi.testclient import TestClient
    from service_kit import auth
    from sqlalchemy import func, select

    from api.app import create_app
    from store.records import AuditEvent, RulesetVersion

    env, outcomes = decided
    content = _candidate(**{"    value: 140\n": "    value: 120\n"})

    def counts() -> tuple[int, int]:
        with env.services.sessions() as session:
            return (
                int(session.scalar(select(func.count()).select_from(RulesetVersion)) or 0),
                int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            )

    before = counts()
    with TestClient(create_app(env.settings, services=env.services)) as client:
        r = client.post("/api/v1/rulesets/impact", json={"content": content}, headers=auth("rule_author"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["item"] == "deed-tax" and body["decisions"] == len(outcomes)
        assert {o["output"] for o in body["outputs"]} == {"tax_rate", "tax_amount"}
        r = client.post(
            "/api/v1/rulesets/impact", json={"content": content, "limit": 3}, headers=auth("rule_author")
        )
        assert r.status_code == 200 and r.json()["decisions"] == 3
        r = client.post("/api/v1/rulesets/impact", json={"content": content}, headers=auth("applicant"))
        assert r.status_code == 403
        r = client.post(
            "/api/v1/rulesets/impact", json={"content": "ruleset: 1\nversion: [\n"}, headers=auth("admin")
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert counts() == before  # nothing published, nothing audited
