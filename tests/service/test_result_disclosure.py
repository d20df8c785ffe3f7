"""The result document the applicant downloads goes through the disclosure policy
(service/disclosure.py: document_decision, document_text): a spouse's ID number and another owner's
certificate number are masked in the PDF (its text read back with pdfplumber) and in the grants the
public verification shows, also when the approver's comment names them."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pdfplumber
import pytest
from fastapi.testclient import TestClient
from service_kit import Env, auth, decide_all, sample, submit

from service.masking import mask_id

ID = re.compile(r"(?<![0-9A-Z])\d{17}[0-9X](?![0-9A-Z])")
CASE = "dt-26-hidden-spouse-with-house"


def _cited(decision: dict[str, Any], registry: str, column: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "registry" and node.get("registry") == registry:
                found.update(str(k[column]) for k in node.get("keys") or () if k.get(column))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(decision["conditions"])
    return found


def _pdf_text(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return "".join((page.extract_text() or "") for page in doc.pages).replace("\n", "")


@pytest.mark.parametrize("outcome", ["reject", "return"])
def test_the_result_pdf_masks_other_peoples_numbers(env: Env, client: TestClient, outcome: str) -> None:
    own = sample(CASE)["applicant"]["id_number"]
    submit(env, CASE)
    decide_all(env)
    full = client.get(f"/api/v1/cases/{CASE}", headers=auth("approver")).json()["decision"]
    certificates = _cited(full, "real_estate", "cert_no")
    owners = _cited(full, "real_estate", "owner_id_number") - {own}
    assert certificates and owners, "the sample cites the spouse's house"
    spouse, cert = sorted(owners)[0], sorted(certificates)[0]
    comment = f"经核查，申请人配偶（身份证号码 {spouse}）名下已有住房（{cert}），申报有误"
    [task] = client.get("/api/v1/tasks", headers=auth("approver")).json()["tasks"]
    assert client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth("approver")).status_code == 200
    r = client.post(
        f"/api/v1/tasks/{task['id']}/decide",
        json={"outcome": outcome, "comment": comment},
        headers=auth("approver"),
    )
    assert r.status_code == 200, r.text
    [result] = client.get(f"/api/v1/cases/{CASE}", headers=auth("applicant")).json()["results"]
    pdf = client.get(f"/api/v1/results/{result['code']}/pdf", headers=auth("applicant"))
    assert pdf.status_code == 200
    text = _pdf_text(pdf.content)
    assert "申报有误" in text  # the comment is printed
    assert set(ID.findall(text)) <= {own}  # no one else's ID number in full
    assert spouse not in text and mask_id(spouse) in text
    for number in certificates:
        assert number not in text
    assert mask_id(cert) in text
    verified = client.get(f"/api/v1/verify/{result['code']}").json()  # public: nobody's numbers
    blob = json.dumps(verified, ensure_ascii=False)
    assert spouse not in blob and not any(c in blob for c in certificates)


def test_an_approval_pdf_carries_no_family_members_numbers(env: Env, client: TestClient) -> None:
    name = "dt-03-spouse-house-small"
    own = sample(name)["applicant"]["id_number"]
    submit(env, name)
    decide_all(env)
    view = client.get(f"/api/v1/cases/{name}", headers=auth("approver")).json()
    certificates = _cited(view["decision"], "real_estate", "cert_no")
    [result] = view["results"]
    text = _pdf_text(client.get(f"/api/v1/results/{result['code']}/pdf", headers=auth("applicant")).content)
    assert set(ID.findall(text)) <= {own}
    assert not any(c in text for c in certificates)
