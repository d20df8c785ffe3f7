"""Both OCR backends through the extraction entry point (extract_file) on committed sample scans:
they must extract the same key fields, and neither may return a confident value that is wrong.

The documents are chosen by rule from samples/documents/index.json, not by result: every scanned
format (JPEG, PNG, the TIFF variants, scanned PDFs of one and two pages) and every layout of every kind
at least once, and one deliberately unreadable scan. The paddleocr
backend needs the `paddle` extra (`make test-paddle` runs this in .venv-paddle); without it these
tests skip, or fail when MIAOPI_REQUIRE_PADDLE=1."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from extractors.extract import extract_file
from extractors.model import Extraction
from extractors.ocr import OcrBackend, get_backend
from extractors.options import ExtractOptions
from service.rulesets import DocumentKinds, RulesetCatalogue, document_kinds

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "documents"
KEY_FIELDS = {
    "purchase_contract": ("buyer_names", "buyer_id_numbers", "area_m2", "price_yuan", "signed_on"),
    "business_licence": ("name", "credit_code", "legal_representative", "established_on"),
    "safety_permit": ("permit_no", "enterprise_name", "valid_from", "valid_to"),
}
OPTIONS = ExtractOptions(page_timeout_s=120)


def chosen_documents() -> list[dict[str, Any]]:
    """The first readable document of every scanned format, then the first readable JPEG of each
    (kind, layout) not covered yet, then the first unreadable document."""
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))["documents"]
    scans = [e for e in index if e["format"] != "pdf-text"]
    picked: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in scans:
        if entry["readable"] and entry["format"] != "jpeg":
            picked.setdefault((entry["format"],), entry)
    covered = {(e["kind"], e["layout"]) for e in picked.values()}
    for entry in scans:
        if entry["readable"] and (entry["kind"], entry["layout"]) not in covered:
            picked.setdefault((entry["kind"], entry["layout"]), entry)
    picked[("unreadable",)] = next(e for e in scans if not e["readable"])
    return sorted(picked.values(), key=lambda e: str(e["id"]))


DOCUMENTS = chosen_documents()


@cache
def specs() -> DocumentKinds:
    """Each document kind's declared fields and other labels, and the lowest confidence threshold,
    from the rulesets (as `miaopi extract` and the decisions take them)."""
    return document_kinds(RulesetCatalogue(ROOT / "rulesets"))


@pytest.fixture(scope="module")
def rapid_backend() -> OcrBackend:
    return get_backend("rapidocr", threads=2)


def extract(entry: dict[str, Any], ocr: OcrBackend) -> Extraction:
    fields, other = specs()[0][entry["kind"]]
    path = SAMPLES / entry["path"]
    return extract_file(path, kind=entry["kind"], fields=fields, other_labels=other, options=OPTIONS, ocr=ocr)


def key_values(entry: dict[str, Any], ex: Extraction) -> dict[str, Any]:
    return {k: ex.fields[k].value if k in ex.fields else None for k in KEY_FIELDS[entry["kind"]]}


def confident_wrong(entry: dict[str, Any], ex: Extraction) -> dict[str, Any]:
    truth = json.loads((SAMPLES / entry["truth"]).read_text(encoding="utf-8"))["fields"]
    threshold = specs()[1]
    return {
        k: (f.value, truth.get(k))
        for k, f in ex.fields.items()
        if k in KEY_FIELDS[entry["kind"]] and f.confidence >= threshold and f.value != truth.get(k)
    }


def test_the_choice_covers_every_kind_layout_and_scanned_format() -> None:
    index = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))["documents"]
    scans = [e for e in index if e["format"] != "pdf-text"]
    readable = [e for e in DOCUMENTS if e["readable"]]
    assert {(e["kind"], e["layout"]) for e in readable} == {(e["kind"], e["layout"]) for e in scans}
    assert {e["format"] for e in readable} == {e["format"] for e in scans}
    assert sum(not e["readable"] for e in DOCUMENTS) == 1


@pytest.mark.parametrize("entry", DOCUMENTS, ids=[e["id"] for e in DOCUMENTS])
def test_both_backends_extract_the_same_key_fields(
    entry: dict[str, Any], rapid_backend: OcrBackend, paddle: OcrBackend
) -> None:
    ours = extract(entry, rapid_backend)
    theirs = extract(entry, paddle)
    assert key_values(entry, ours) == key_values(entry, theirs)
    assert confident_wrong(entry, ours) == {}
    assert confident_wrong(entry, theirs) == {}
    if entry["readable"]:
        # not agreeing on nothing: the readable samples yield their key fields
        found = [v for v in key_values(entry, ours).values() if v is not None]
        assert len(found) >= len(KEY_FIELDS[entry["kind"]]) - 1
