"""Publishing refuses what `miaopi lint` refuses: a ruleset with type errors is a 422 whose problems
list every error with its path, line and suggestion, and nothing is published."""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_kit import DEED_TAX_VERSION, ROOT, Env, auth
from sqlalchemy import select

from store.records import RulesetVersion

CHANGES = (
    (f'version: "{DEED_TAX_VERSION}"', 'version: "2099.9.9"'),
    (
        'when: "form.declared_family_houses == family_houses"',
        "when: \"form.contract_signed_on >= '2024-12-01'\"",
    ),
    ("when: \"form.usage != 'residential'\"", "when: \"form.usage != 'residental'\""),
)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_ruleset_with_type_errors_is_refused_with_every_error_and_nothing_is_published(
    env: Env, client: TestClient
) -> None:
    text = (ROOT / "rulesets" / "deed-tax" / "ruleset.yaml").read_text(encoding="utf-8")
    for old, new in CHANGES:
        assert old in text, old
        text = text.replace(old, new, 1)
    r = client.post("/api/v1/rulesets", json={"content": text}, headers=auth("rule_author"))
    assert r.status_code == 422, r.text[:500]
    body = r.json()
    assert body["code"] == "invalid_request" and body["detail"].startswith("规则集无法编译：")
    assert "（另有 1 处错误）" in body["detail"]
    problems = body["problems"]
    assert [p["line"] for p in problems] == [
        _line(text, "form.usage != 'residental'"),
        _line(text, "form.contract_signed_on >= '2024-12-01'"),
    ]
    assert [p["path"] for p in problems] == ["tables.rate.rows.0.when", "conditions.3.when"]
    assert problems[0]["suggestion"] == "是否想写 'residential'？"
    assert problems[1]["suggestion"] == "是否想写 date('2024-12-01')？"
    assert all(p["code"] == "invalid_ruleset" for p in problems)
    with env.services.sessions() as session:
        versions = session.scalars(select(RulesetVersion.version).where(RulesetVersion.item == "deed-tax"))
        assert list(versions) == [DEED_TAX_VERSION]
