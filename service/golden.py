"""Golden cases: run a ruleset's sample cases and check outcome, outputs and *why* (which conditions
fail or are unknown, which materials are missing), with per-condition coverage like `opa test`.

There is one way to run them: on their own shared data (`run_golden_on_own_data`), loaded into a
throw-away SQLite database, whether `miaopi test` runs them or a publication is checked; never
against the live registries, whose rows change under the expectations.

Where they live (`golden_folders`): beside the ruleset, in `<item>/tests/` (`expected.json`, `cases/`,
`shared-data/`), so that an item is one folder that can be copied anywhere; else under the samples
folder (`samples/<item>/`, with `samples/shared-data/`)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.decision import Decision, decide_traced
from engine.errors import ApprovalError, CaseError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.ports import RegistryPort
from engine.program import Program
from service.cases import read_case_file, resolve_documents
from service.documents import DocumentReader
from service.settings import get_settings


@dataclass
class GoldenResult:
    case_id: str
    title: str
    ok: bool
    problems: list[str]
    decision: Decision | None


@dataclass
class GoldenReport:
    results: list[GoldenResult]
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    """condition id → how many cases it passed, failed, was unknown."""
    table_rows: dict[str, list[int]] = field(default_factory=dict)
    """decision table → how many cases hit each of its rows (in order)."""

    @property
    def unhit_rows(self) -> list[str]:
        """Table rows no case hit, as `table 第 N 行`."""
        return [
            f"{t} 第 {i + 1} 行" for t, hits in self.table_rows.items() for i, n in enumerate(hits) if not n
        ]

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def uncovered(self) -> list[str]:
        """Conditions not seen both passing and failing."""
        return [cid for cid, seen in self.coverage.items() if not (seen["pass"] and seen["fail"])]

    @property
    def coverage_ratio(self) -> float:
        if not self.coverage:
            return 0.0
        return 1 - len(self.uncovered) / len(self.coverage)


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, str) and isinstance(got, str):
        try:
            return Decimal(expected) == Decimal(got)
        except InvalidOperation:
            return expected == got
    return bool(expected == got)


def check_decision(decision: Decision, expected: dict[str, Any]) -> list[str]:
    """Differences between a decision and its expectation (empty when it matches)."""
    problems: list[str] = []
    if decision.outcome != expected.get("outcome"):
        problems.append(f"outcome: 期望 {expected.get('outcome')}，实际 {decision.outcome}")
    for key, want in (expected.get("outputs") or {}).items():
        got = decision.outputs.get(key)
        if got is None or not _same(want, got):
            problems.append(f"outputs.{key}: 期望 {want!r}，实际 {got!r}")
    for status, key in (("fail", "failed"), ("unknown", "unknown")):
        if key in expected:
            got_set = {c.id for c in decision.conditions if c.status == status}
            want_set = set(expected[key])
            if got_set != want_set:
                problems.append(f"{key}: 期望 {sorted(want_set)}，实际 {sorted(got_set)}")
    if "missing_materials" in expected:
        got_m = {m.id for m in decision.missing_materials}
        if got_m != set(expected["missing_materials"]):
            problems.append(
                f"missing_materials: 期望 {sorted(expected['missing_materials'])}，实际 {sorted(got_m)}"
            )
    return problems


def check_refusal(exc: ApprovalError, expected: dict[str, Any]) -> list[str]:
    """Differences between a case refused before it was decided (`exc`) and its expectation: a golden
    case whose expectation is `"refused": [paths]` must be refused (a CaseError, such as an applicant
    of a kind the item does not serve) with problems at exactly those paths; any other case must not
    be refused at all."""
    if "refused" not in expected:
        return [f"{exc.code}: {exc}"]
    paths = {str(p.get("path", "")) for p in getattr(exc, "problems", None) or []}
    want = set(expected["refused"])
    if not isinstance(exc, CaseError) or paths != want:
        return [f"refused: 期望以 {sorted(want)} 的问题拒收，实际 {exc.code}（{sorted(paths)}）：{exc}"]
    return []


def golden_folders(item: str, *, ruleset_folder: Path | None, samples_dir: Path) -> tuple[Path, Path]:
    """The golden cases' folder and their shared-data folder for `item`: `<ruleset folder>/tests/`
    when it holds an expected.json, else `samples_dir/<item>/` with `samples_dir/shared-data/`."""
    if ruleset_folder is not None and (ruleset_folder / "tests" / "expected.json").is_file():
        tests = ruleset_folder / "tests"
        return tests, tests / "shared-data"
    return samples_dir / item, samples_dir / "shared-data"


def golden_case_ids(samples: Path) -> list[str]:
    expected: dict[str, Any] = json.loads((samples / "expected.json").read_text(encoding="utf-8"))
    return sorted(expected)


def run_golden(
    program: Program,
    samples: Path,
    *,
    registry: RegistryPort,
    evaluator: Evaluator | None = None,
    now: datetime | None = None,
    only: str | None = None,
) -> GoldenReport:
    """Run the golden cases of `samples` (only the case `only`, when given)."""
    expected_path = samples / "expected.json"
    expected: dict[str, dict[str, Any]] = json.loads(expected_path.read_text(encoding="utf-8"))
    if only is not None:
        expected = {only: expected[only]}
    evaluator = evaluator or DurableEvaluator()
    reader = DocumentReader(get_settings().extract_options())
    report = GoldenReport(
        results=[],
        coverage={c.spec.id: {"pass": 0, "fail": 0, "unknown": 0} for c in program.conditions},
        table_rows={s.name: [0] * len(s.rows) for s in program.steps if s.kind == "table"},
    )
    for case_id, want in sorted(expected.items()):
        path = samples / "cases" / f"{case_id}.json"
        title = str(want.get("title", ""))
        try:
            case, _ = read_case_file(path)
            documents = resolve_documents(case, path.parent, program=program, reader=reader)
            decision, facts = decide_traced(
                program,
                case=case,
                registry=registry,
                evaluator=evaluator,
                now=now or case.submitted_at,
                documents=documents,
            )
        except ApprovalError as exc:
            problems = check_refusal(exc, want)
            report.results.append(GoldenResult(case_id, title, not problems, problems, None))
            continue
        if "refused" in want:
            why = f"refused: 期望判定前以 {sorted(want['refused'])} 的问题拒收，实际判定为 {decision.outcome}"
            report.results.append(GoldenResult(case_id, title, False, [why], decision))
            continue
        for c in decision.conditions:
            report.coverage[c.id][c.status] += 1
        for table, hits in report.table_rows.items():
            row = facts.sources.get(table, {}).get("row")
            if isinstance(row, int):
                hits[row - 1] += 1
        problems = check_decision(decision, want)
        report.results.append(GoldenResult(case_id, title, not problems, problems, decision))
    reader.close()
    return report


class SharedDataError(Exception):
    """The golden cases' shared data could not be loaded (`original` is the loader's error)."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


def run_golden_on_own_data(
    program: Program,
    samples: Path,
    *,
    shared: Path,
    evaluator: Evaluator | None = None,
    now: datetime | None = None,
    only: str | None = None,
) -> GoldenReport:
    """Run the golden cases in `samples` against the shared-data CSVs of `shared` (none when the folder
    is missing), loaded into a temporary database. A loading failure raises SharedDataError."""
    from store.db import create_engine_for, create_schema
    from store.loader import load_directory
    from store.registry import SqlRegistry

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{tmp}/golden.db")
        try:
            create_schema(engine)
            if shared.is_dir():
                try:
                    load_directory(engine, shared)
                except Exception as exc:
                    raise SharedDataError(exc) from exc
            return run_golden(
                program, samples, registry=SqlRegistry(engine), evaluator=evaluator, now=now, only=only
            )
        finally:
            engine.dispose()
