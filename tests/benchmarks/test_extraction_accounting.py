"""The extraction benchmark's accounting, without OCR: sets are read from every index.json under a
folder (paths relative to the index), and key fields are counted exact / confident wrong / absent per
set, per group and per kind, on a tiny synthetic set with stub results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.extraction import ABSENT, EXACT, WRONG, Entry, load_set, score, table, tally


@dataclass
class Got:
    value: Any
    confidence: float


def _distance(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def _entry(id_: str, kind: str, group: str, readable: bool = True) -> Entry:
    return Entry("heldout", id_, kind, group, readable, Path(f"{id_}.jpg"), Path(f"{id_}.truth.json"), 200)


PERMIT = {
    "permit_no": "（鄂）JZ安许证字【2005】000115",
    "enterprise_name": "四川蜀安建设集团有限公司",
    "valid_from": "2024-06-15",
    "valid_to": "2027-06-14",
}


def test_score_counts_exact_wrong_and_absent_against_the_threshold() -> None:
    e = _entry("sp-1", "safety_permit", "certificate")
    got = {
        "permit_no": Got(PERMIT["permit_no"], 0.95),  # exact
        "enterprise_name": Got("四川蜀安建设集团有眼公司", 0.91),  # confident and wrong
        "valid_from": Got("2024-06-15", 0.5),  # right but below the threshold: absent
        # valid_to not returned: absent
    }
    out = {o.field: o for o in score(e, PERMIT, got, 0.9, _distance)}
    assert out["permit_no"].outcome == EXACT
    assert out["enterprise_name"].outcome == WRONG
    assert out["valid_from"].outcome == ABSENT and out["valid_from"].got is None
    assert out["valid_to"].outcome == ABSENT
    assert out["enterprise_name"].errors == 1
    assert out["valid_to"].errors == len("2027-06-14")


def test_fields_missing_from_the_truth_are_not_scored() -> None:
    e = _entry("bl-1", "business_licence", "original")
    out = score(e, {"name": "甲公司", "credit_code": "91510100MA67EN3106"}, {}, 0.9, _distance)
    assert [o.field for o in out] == ["name", "credit_code"]


def test_tally_per_set_group_and_kind() -> None:
    readable = _entry("pc-1", "purchase_contract", "national_model")
    unreadable = _entry("pc-2", "purchase_contract", "national_model", readable=False)
    permit = _entry("sp-1", "safety_permit", "safety_permit")
    truth_pc = {
        "buyer_names": ["甲"],
        "buyer_id_numbers": ["510106199509110988"],
        "area_m2": "89.50",
        "price_yuan": "1234567.00",
        "signed_on": "2026-10-17",
    }
    outcomes = [
        *score(
            readable,
            truth_pc,
            {
                "buyer_names": Got(["甲"], 1),
                "buyer_id_numbers": Got(["510106199509110988"], 1),
                "area_m2": Got("98.50", 0.99),
                "price_yuan": Got("1234567.00", 0.95),
            },
            0.9,
            _distance,
        ),
        # an unreadable document: one confident wrong value, the rest absent (not counted as missed)
        *score(unreadable, truth_pc, {"signed_on": Got("2026-10-11", 0.93)}, 0.9, _distance),
        *score(permit, PERMIT, {k: Got(v, 0.99) for k, v in PERMIT.items()}, 0.9, _distance),
    ]
    result = tally(outcomes, detailed=False)
    o = result["overall"]
    assert (o["documents"], o["unreadable_documents"]) == (3, 1)
    assert o["key_fields"] == 9  # readable documents only: 5 + 4
    assert o["exact"] == 3 + 4
    assert o["absent"] == 1  # signed_on of pc-1
    assert (o["confident_wrong"], o["confident_wrong_on_readable"], o["confident_wrong_on_unreadable"]) == (
        2,
        1,
        1,
    )
    assert o["unreadable_key_fields"] == 5
    assert o["exact_pct"] == round(100 * 7 / 9, 1)
    nm = result["by_group"]["national_model"]
    assert (nm["documents"], nm["key_fields"], nm["exact"], nm["confident_wrong"], nm["absent"]) == (
        2,
        5,
        3,
        2,
        1,
    )
    assert result["by_group"]["safety_permit"]["exact_pct"] == 100.0
    assert result["by_kind"]["purchase_contract"]["exact"] == 3
    assert "not_read_on_readable" not in result  # the held-out report names no document

    detailed = tally(outcomes, detailed=True)
    assert detailed["wrong_but_confident_on_readable"] == [
        {"doc": "pc-1", "field": "area_m2", "got": "98.50", "want": "89.50"}
    ]
    assert detailed["confident_wrong_on_unreadable"][0]["doc"] == "pc-2"
    assert detailed["not_read_on_readable"] == [{"doc": "pc-1", "field": "signed_on"}]

    md = table(
        {
            "threshold": 0.9,
            "peak_rss_mib": 1.0,
            "backends": {
                "stub": {"sets": {"heldout": result}, "seconds_per_page": {}, "cpu_s": 0.0, "options": {}}
            },
        }
    )
    assert "| **all** | 3 (1) | 9 | 7 | 77.8 | 2 (1 + 1) | 1 |" in md
    assert "pc-1" not in md


def test_load_set_reads_every_index_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    def write_index(folder: Path, docs: list[dict[str, Any]]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.json").write_text(
            json.dumps({"description": "t", "documents": docs}), encoding="utf-8"
        )

    write_index(
        tmp_path,
        [
            {
                "id": "a",
                "kind": "safety_permit",
                "layout": "table",
                "path": "safety_permit/a.jpg",
                "truth": "safety_permit/a.truth.json",
                "readable": True,
                "dpi": 200,
            }
        ],
    )
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "b.truth.json").write_text(json.dumps({"layout": "photo"}), encoding="utf-8")
    write_index(
        tmp_path / "photos",
        [
            {
                "id": "b",
                "kind": "business_licence",
                "path": "b.jpg",
                "truth": "b.truth.json",
                "readable": False,
            }
        ],
    )
    entries = load_set("tuning", tmp_path, "layout")
    assert [(e.id, e.group, e.readable) for e in entries] == [("a", "table", True), ("b", "photo", False)]
    assert entries[0].path == tmp_path / "safety_permit" / "a.jpg"
    assert entries[1].path == tmp_path / "photos" / "b.jpg"
    assert entries[1].dpi is None


def test_the_committed_sets_load() -> None:
    root = Path(__file__).resolve().parents[2]
    tuning = load_set("tuning", root / "samples" / "documents", "layout")
    heldout = load_set("heldout", root / "samples" / "heldout", "family")
    assert tuning and all(e.path.exists() and e.truth.exists() for e in tuning)
    assert len(heldout) >= 60 and all(e.path.exists() and e.truth.exists() for e in heldout)
    assert {e.kind for e in heldout} == {"purchase_contract", "business_licence", "safety_permit"}
