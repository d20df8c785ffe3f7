"""What an applicant reads of a decision (service/disclosure.py): the pre-check's answer and the case
view carry no ID number but the applicant's own, no certificate number of another owner and no rule
expression, while the approver's view of the same case (and a rule author's pre-check) still has them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_kit import Env, auth, bind, decide_all, sample

ID = re.compile(r"(?<![0-9A-Z])\d{17}[0-9X](?![0-9A-Z])")
EXPRESSION_TEXT = ("form.", "person.", "if(", '"expr"', '"sources"', '"values"', "marriage.")


def _registry_values(decision: dict[str, Any], registry: str, column: str) -> set[str]:
    """Values of a column in the registry rows a full decision cites."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "registry" and node.get("registry") == registry:
                found.update(str(k[column]) for k in node.get("keys") or () if column in k)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(decision["conditions"])
    return found


@pytest.mark.parametrize("name", ["dt-03-spouse-house-small", "dt-05-minor-child-house"])
def test_an_applicant_reads_no_one_elses_data(env: Env, client: TestClient, name: str) -> None:
    data = sample(name)
    own = data["applicant"]["id_number"]
    bind(env, "applicant", data)
    precheck = client.post("/api/v1/decide", json=data, headers=auth("applicant"))
    full_precheck = client.post("/api/v1/decide", json=data, headers=auth("rule_author"))
    assert precheck.status_code == full_precheck.status_code == 200, precheck.text
    r = client.post("/api/v1/cases", json=data, headers=auth("applicant"))
    assert r.status_code == 202, r.text
    decide_all(env)
    mine = client.get(f"/api/v1/cases/{data['case_id']}", headers=auth("applicant"))
    staff = client.get(f"/api/v1/cases/{data['case_id']}", headers=auth("approver"))
    assert mine.status_code == staff.status_code == 200

    full = staff.json()["decision"]
    others = set(ID.findall(json.dumps(full, ensure_ascii=False))) - {own}
    certificates = _registry_values(full, "real_estate", "cert_no")
    owners = _registry_values(full, "real_estate", "owner_id_number")
    assert others and certificates and owners - {own}, "the sample cites other people's records"
    assert not owners & {own}, "the family's houses are not the applicant's own"

    for answer in (precheck.text, json.dumps(mine.json()["decision"], ensure_ascii=False)):
        assert set(ID.findall(answer)) == {own}  # the applicant's own ID number only
        for cert in certificates:
            assert cert not in answer
        for fragment in EXPRESSION_TEXT:
            assert fragment not in answer, fragment
    for answer in (full_precheck.text, json.dumps(full, ensure_ascii=False)):
        assert others <= set(ID.findall(answer))
        assert all(cert in answer for cert in certificates)
        assert "if(" in answer and "form." in answer

    shown = mine.json()["decision"]
    assert shown["view"] == "applicant"
    assert shown["outcome"] == full["outcome"] and shown["outputs"] == full["outputs"]
    assert shown["applicant"] == {**data["applicant"], "credit_code": None}
    assert [c["id"] for c in shown["conditions"]] == [c["id"] for c in full["conditions"]]
    # registry rows are summarised as counts
    houses = next(s for s in shown["registries"] if s["registry"] == "real_estate")
    assert houses["records"] >= len(certificates)
    assert "keys" not in json.dumps(shown)


def test_reasons_are_plain_chinese_with_other_people_masked(env: Env, client: TestClient) -> None:
    """A spouse declared wrong: the reason names both ID numbers, the applicant sees them masked."""
    data = sample("dt-27-wrong-spouse")
    bind(env, "applicant", data)
    shown = client.post("/api/v1/decide", json=data, headers=auth("applicant")).json()
    full = client.post("/api/v1/decide", json=data, headers=auth("rule_author")).json()
    failing = [r for r in full["reasons"] if r["condition"] == "spouse_matches_registry"]
    assert failing and ID.search(failing[0]["message"])
    [masked] = [r for r in shown["reasons"] if r["condition"] == "spouse_matches_registry"]
    assert not ID.search(masked["message"]) and "********" in masked["message"]
    assert masked["message"].startswith("申报配偶")
    assert shown["outcome"] == full["outcome"] != "approved"
