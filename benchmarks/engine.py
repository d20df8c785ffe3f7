"""Engine throughput: durable_rules (production) vs the plain-Python reference evaluator on the
deed-tax item, in one run, plus RSS over many decisions.

    .venv/bin/python benchmarks/engine.py [--decisions 100000] [--out benchmarks/results]

Two levels are timed on the same sample cases (samples/deed-tax, shared data held in memory):
- `evaluate`: condition evaluation alone, facts already gathered (the rule engine's own work);
- `decide`: the whole decision (form validation, look-ups, derived values, tables, evaluation,
  explanation).
The figures are ratios measured in the same process; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.case import validate_form  # noqa: E402
from engine.decision import decide  # noqa: E402
from engine.evaluate import DurableEvaluator, Evaluator, ReferenceEvaluator, check_all  # noqa: E402
from engine.facts import gather_facts  # noqa: E402
from engine.ports import InMemoryRegistry  # noqa: E402
from engine.registries import REGISTRIES  # noqa: E402
from service.cases import read_case_file  # noqa: E402
from service.rulesets import load_program  # noqa: E402
from store.loader import read_registry_file, registry_files  # noqa: E402


def load_registry(directory: Path) -> InMemoryRegistry:
    reg = InMemoryRegistry()
    for name, path in registry_files(directory).items():
        for row in read_registry_file(REGISTRIES[name], path).values():
            reg.add(name, row)
    return reg


def rss_mib() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def rate(fn: Any, n: int) -> float:
    start = time.perf_counter()
    fn(n)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=100_000, help="decisions for the RSS soak")
    parser.add_argument("--seconds", type=float, default=3.0, help="approximate time per timed series")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    program = load_program(ROOT / "rulesets" / "deed-tax")
    registry = load_registry(ROOT / "samples" / "shared-data")
    cases = [read_case_file(p)[0] for p in sorted((ROOT / "samples" / "deed-tax" / "cases").glob("*.json"))]
    prepared = []
    for case in cases:
        form = validate_form(program.ruleset, case.form)
        facts = gather_facts(program, case=case, form=form, registry=registry)
        prepared.append((case, facts, check_all(program, facts)))
    durable, reference = DurableEvaluator(), ReferenceEvaluator()
    durable.register(program)
    now = datetime(2026, 11, 22, tzinfo=UTC)

    def evaluate_loop(ev: Evaluator) -> Any:
        def run(n: int) -> None:
            k = len(prepared)
            for i in range(n):
                _, facts, checked = prepared[i % k]
                ev.evaluate(program, facts, checked)

        return run

    def decide_loop(ev: Evaluator) -> Any:
        def run(n: int) -> None:
            k = len(cases)
            for i in range(n):
                decide(program, case=cases[i % k], registry=registry, evaluator=ev, now=now)

        return run

    # agreement check before timing
    for _case, facts, checked in prepared:
        assert durable.evaluate(program, facts, checked) == reference.evaluate(program, facts, checked)

    def sized(fn: Any) -> int:
        t = time.perf_counter()
        fn(200)
        per = (time.perf_counter() - t) / 200
        return max(200, int(args.seconds / per))

    results: dict[str, Any] = {}
    for level, loop in (("evaluate", evaluate_loop), ("decide", decide_loop)):
        d_fn, r_fn = loop(durable), loop(reference)
        n_d, n_r = sized(d_fn), sized(r_fn)
        d, r = rate(d_fn, n_d), rate(r_fn, n_r)
        results[level] = {
            "durable_per_s": round(d, 1),
            "reference_per_s": round(r, 1),
            "durable_over_reference": round(d / r, 3),
        }
        print(f"{level:9s} durable_rules {d:10.0f}/s   reference {r:10.0f}/s   ratio {d / r:.3f}")

    # RSS over many decisions through durable_rules (evaluation path, where per-case state would leak)
    ev_run = evaluate_loop(durable)
    ev_run(5_000)
    before = rss_mib()
    samples = []
    step = max(args.decisions // 20, 1)
    done = 0
    while done < args.decisions:
        ev_run(step)
        done += step
        samples.append((done, round(rss_mib(), 2)))
    after = rss_mib()
    results["soak"] = {
        "decisions": done,
        "rss_before_mib": round(before, 2),
        "rss_after_mib": round(after, 2),
        "growth_pct": round((after - before) / before * 100, 2),
        "series": samples,
    }
    print(
        f"soak      {done} decisions: RSS {before:.1f} → {after:.1f} MiB ({(after - before) / before:+.2%})"
    )
    results["meta"] = {
        "cases": len(cases),
        "conditions": len(program.conditions),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "engine.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
