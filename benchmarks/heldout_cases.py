"""Held-out deed-tax cases decided through the real CLI: how many come out as the law says.

    .venv/bin/python benchmarks/heldout_cases.py [--out DIR] [--db sqlite:///PATH]

Loads samples/shared-data into a fresh SQLite database (`miaopi data load`), then runs
`miaopi decide CASE.json --db ...` for every case of samples/heldout/cases/ and compares the decision
JSON with samples/heldout/cases/expected.json (outcome, outputs, failed and unknown conditions,
missing materials — the golden format). Each case's contract is a held-out document and has no online
filing, so the contract is read from the scan. A measure, like benchmarks/extraction.py, not a test:
the exit status is 0 whatever the count. The report keeps to counts (which case failed is not named,
so that it can be shown to those who tune the reader); DIR/heldout_cases.json has the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "samples" / "heldout" / "cases"
MIAOPI = Path(sys.executable).parent / "miaopi"


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, str) and isinstance(got, str):
        try:
            return Decimal(want) == Decimal(got)
        except InvalidOperation:
            return want == got
    return bool(want == got)


def differences(decision: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """What differs between a decision JSON (`miaopi decide`) and its golden expectation."""
    out = []
    if decision.get("outcome") != want.get("outcome"):
        out.append("outcome")
    for key, value in (want.get("outputs") or {}).items():
        got = (decision.get("outputs") or {}).get(key)
        if got is None or not _same(value, got):
            out.append(f"outputs.{key}")
    for status, key in (("fail", "failed"), ("unknown", "unknown")):
        if key in want:
            got_ids = {c["id"] for c in decision.get("conditions", []) if c.get("status") == status}
            if got_ids != set(want[key]):
                out.append(key)
    if "missing_materials" in want:
        got_m = {m["id"] if isinstance(m, dict) else m for m in decision.get("missing_materials", [])}
        if got_m != set(want["missing_materials"]):
            out.append("missing_materials")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--db", help="database URL to load the shared data into (default: a temporary SQLite file)"
    )
    args = parser.parse_args(argv)
    expected: dict[str, Any] = json.loads((CASES / "expected.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'heldout.db'}"
        subprocess.run(
            [str(MIAOPI), "data", "load", str(ROOT / "samples" / "shared-data"), "--db", db],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )
        tally = {
            "cases": 0,
            "as_expected": 0,
            "approved": 0,
            "expected_approved": 0,
            "errors": 0,
            "outcomes": {},
        }
        start = time.perf_counter()
        for case_id, want in sorted(expected.items()):
            tally["cases"] += 1
            tally["expected_approved"] += want.get("outcome") == "approved"
            proc = subprocess.run(
                [str(MIAOPI), "decide", str(CASES / f"{case_id}.json"), "--db", db],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            try:
                decision = json.loads(proc.stdout)
            except json.JSONDecodeError:
                tally["errors"] += 1
                continue
            outcome = decision.get("outcome", "?")
            tally["outcomes"][outcome] = tally["outcomes"].get(outcome, 0) + 1
            tally["approved"] += outcome == "approved"
            tally["as_expected"] += not differences(decision, want)
        tally["seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "heldout_cases.json").write_text(
        json.dumps(tally, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    print(
        f"held-out deed-tax cases: {tally['as_expected']}/{tally['cases']} as expected, "
        f"{tally['approved']}/{tally['expected_approved']} approved (expected approved), "
        f"outcomes {tally['outcomes']}, errors {tally['errors']}, {tally['seconds']} s"
    )
    return tally


if __name__ == "__main__":
    main()
