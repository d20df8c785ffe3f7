"""Decision throughput scenarios: ours (durable_rules), the plain-Python reference evaluator and
zen-engine on the same sample cases, in one process and one run; 1 vs 2 worker processes.

Every engine decides from the same pre-gathered data: the registry rows each case's look-ups fetch
are recorded once before timing (ours and the reference evaluator read them from a replaying
registry, zen gets them in its input). Document facts are not part of these scenarios: no engine is
given a document's fields, so a case that lists documents is decided as if they could not be read
(the same for all three).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import zen_jdm
from benchmarks.engine import load_registry
from engine import decision as decision_module
from engine.case import Case, validate_form
from engine.decision import Decision, decide
from engine.evaluate import DurableEvaluator, Evaluator, ReferenceEvaluator
from engine.facts import gather_facts
from engine.ports import InMemoryRegistry, Row
from engine.program import Program
from service.cases import read_case_file
from service.rulesets import load_program

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 22, tzinfo=UTC)


class ReplayRegistry:
    """A RegistryPort answering from rows recorded once (pre-gathered data, no scan while timing)."""

    def __init__(self, inner: InMemoryRegistry) -> None:
        self._inner = inner
        self._answers: dict[tuple[str, tuple[tuple[str, tuple[Any, ...]], ...]], list[Row]] = {}

    @staticmethod
    def _key(
        registry: str, match: Mapping[str, Sequence[Any]]
    ) -> tuple[str, tuple[tuple[str, tuple[Any, ...]], ...]]:
        # a step builds its match in a fixed column order, so the key needs no sorting
        return registry, tuple([(col, tuple(vals)) for col, vals in match.items()])

    def find(self, registry: str, match: Mapping[str, Sequence[Any]]) -> list[Row]:
        key = self._key(registry, match)
        rows = self._answers.get(key)
        if rows is None:
            rows = self._answers[key] = self._inner.find(registry, match)
        return rows


@dataclass
class Workload:
    item: str
    program: Program
    registry: ReplayRegistry
    cases: list[Case]
    zen_inputs: list[dict[str, Any]]
    with_documents: int

    @property
    def size(self) -> int:
        return len(self.cases)


def load_workload(item: str) -> Workload:
    """The item's sample cases, its program, the recorded registry rows and zen's inputs."""
    program = load_program(ROOT / "rulesets" / item)
    registry = ReplayRegistry(load_registry(ROOT / "samples" / "shared-data"))
    cases = [read_case_file(p)[0] for p in sorted((ROOT / "samples" / item / "cases").glob("*.json"))]
    zen_inputs = []
    for case in cases:
        form = validate_form(program.ruleset, case.form)
        facts = gather_facts(program, case=case, form=form, registry=registry)
        zen_inputs.append(zen_jdm.zen_input(program, case, facts))
    with_documents = sum(1 for c in cases if c.documents)
    return Workload(item, program, registry, cases, zen_inputs, with_documents)


def decide_batch(workload: Workload, evaluator: Evaluator, cases: Sequence[Case]) -> list[Decision]:
    """`decide_many` where the engine has it (one call for the batch), else `decide` per case."""
    many = getattr(decision_module, "decide_many", None)
    if many is not None and hasattr(evaluator, "evaluate_many"):
        result: list[Decision] = many(
            workload.program, cases=cases, registry=workload.registry, evaluator=evaluator, now=NOW
        )
        return result
    return [
        decide(workload.program, case=c, registry=workload.registry, evaluator=evaluator, now=NOW)
        for c in cases
    ]


def has_decide_many(evaluator: Evaluator) -> bool:
    return getattr(decision_module, "decide_many", None) is not None and hasattr(evaluator, "evaluate_many")


class ZenPeer:
    """zen-engine through its fastest path: `ZenEngine({"loader": ...}).evaluate(key, input)`."""

    def __init__(self, item: str, graph: str | None = None) -> None:
        import zen

        text = graph if graph is not None else zen_jdm.graph_path(item).read_text(encoding="utf-8")
        self.key = f"{item}.json"

        def loader(_key: str) -> str:
            return text

        self.engine = zen.ZenEngine({"loader": loader})

    def evaluate(self, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.engine.evaluate(self.key, data)["result"]
        return result


def compare_with_zen(workload: Workload, zen: ZenPeer, durable: Evaluator) -> dict[str, Any]:
    """Outcome, every condition's status and the outputs of zen against ours, on every case."""
    ours = decide_batch(workload, durable, workload.cases)
    mismatches: list[dict[str, Any]] = []
    for case, dec, data in zip(workload.cases, ours, workload.zen_inputs, strict=True):
        got = zen.evaluate(data)
        want_status = {c.id: c.status for c in dec.conditions}
        got_status = dict(got.get("conditions", {}))
        got_outputs = zen_jdm.normalise_outputs(workload.program, got.get("outputs", {}))
        problems = {}
        if got.get("outcome") != dec.outcome:
            problems["outcome"] = {"ours": dec.outcome, "zen": got.get("outcome")}
        if got_status != want_status:
            problems["conditions"] = {
                k: {"ours": v, "zen": got_status.get(k)}
                for k, v in want_status.items()
                if got_status.get(k) != v
            }
        if got_outputs != dec.outputs:
            problems["outputs"] = {"ours": dec.outputs, "zen": got_outputs}
        if problems:
            mismatches.append({"case": case.case_id, **problems})
    return {
        "cases": len(workload.cases),
        "agree": len(workload.cases) - len(mismatches),
        "mismatches": mismatches,
        "outcomes": {o: sum(1 for d in ours if d.outcome == o) for o in sorted({d.outcome for d in ours})},
    }


# --------------------------------------------------------------------------- timing


def measure(run: Callable[[int], int], seconds: float) -> float:
    """Units per second: calibrate on a short run, then one timed run of about `seconds`."""
    run(1)
    t0 = time.perf_counter()
    done = run(1)
    per = max((time.perf_counter() - t0) / max(done, 1), 1e-7)
    rounds = max(1, int(seconds / (per * max(done, 1))))
    t0 = time.perf_counter()
    total = run(rounds)
    return total / (time.perf_counter() - t0)


def series(
    workload: Workload, durable: Evaluator, reference: Evaluator, zen: ZenPeer
) -> dict[str, Callable[[int], int]]:
    """The timed loops; each takes a number of rounds over the sample cases, returns decisions done."""
    cases = workload.cases
    program, registry = workload.program, workload.registry

    def batch(ev: Evaluator) -> Callable[[int], int]:
        def run(rounds: int) -> int:
            for _ in range(rounds):
                decide_batch(workload, ev, cases)
            return rounds * len(cases)

        return run

    def single(ev: Evaluator) -> Callable[[int], int]:
        def run(rounds: int) -> int:
            for _ in range(rounds):
                for case in cases:
                    decide(program, case=case, registry=registry, evaluator=ev, now=NOW)
            return rounds * len(cases)

        return run

    def zen_run(rounds: int) -> int:
        evaluate, key, inputs = zen.engine.evaluate, zen.key, workload.zen_inputs
        for _ in range(rounds):
            for data in inputs:
                evaluate(key, data)
        return rounds * len(inputs)

    return {
        "ours": batch(durable),
        "ours_decide": single(durable),
        "reference": batch(reference),
        "zen": zen_run,
    }


def run_item(item: str, *, seconds: float, repeats: int, advance: Callable[[float], None]) -> dict[str, Any]:
    """engine-<item>: decisions/s of ours, the reference evaluator and zen; ratios to ours."""
    workload = load_workload(item)
    durable, reference = DurableEvaluator(), ReferenceEvaluator()
    zen = ZenPeer(item)
    fresh = zen_jdm.graph_text(workload.program)
    committed = zen_jdm.graph_path(item).read_text(encoding="utf-8")
    agreement = compare_with_zen(workload, zen, durable)
    loops = series(workload, durable, reference, zen)
    best: dict[str, float] = {}
    # interleaved repeats, best of each: the same background load for every engine
    for _ in range(repeats):
        for name, loop in loops.items():
            best[name] = max(best.get(name, 0.0), measure(loop, seconds))
            advance(1)
    ours = best["ours"]
    return {
        "ours_per_s": round(ours, 1),
        "ours_decide_per_s": round(best["ours_decide"], 1),
        "reference_per_s": round(best["reference"], 1),
        "zen_per_s": round(best["zen"], 1),
        "ratio_zen_over_ours": round(best["zen"] / ours, 3),
        "ratio_reference_over_ours": round(best["reference"] / ours, 3),
        "ratio_decide_over_ours": round(best["ours_decide"] / ours, 3),
        "ours_path": "decide_many" if has_decide_many(durable) else "decide loop",
        "cases": workload.size,
        "conditions": len(workload.program.conditions),
        "cases_listing_documents": workload.with_documents,
        "zen_agreement": agreement,
        "zen_agreement_ok": agreement["agree"] == agreement["cases"],
        "zen_graph_up_to_date": fresh == committed,
        "seconds_per_series": seconds,
        "repeats": repeats,
    }


# --------------------------------------------------------------------------- processes


def _worker(item: str, seconds: float, start: Any, out: Any) -> None:
    """One worker process: its own durable_rules host, the whole item's cases, for `seconds`."""
    workload = load_workload(item)
    durable = DurableEvaluator()
    decide_batch(workload, durable, workload.cases)  # warm-up, registers the rules
    start.wait()
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        decide_batch(workload, durable, workload.cases)
        done += workload.size
    out.put((done, time.perf_counter() - t0))


def run_processes(item: str, processes: int, seconds: float) -> float:
    """Total decisions/s of `processes` workers running at once (fork: each its own host)."""
    ctx = mp.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(item, seconds, start, out)) for _ in range(processes)]
    for w in workers:
        w.start()
    time.sleep(0.2)
    start.set()
    results = [out.get(timeout=seconds * 4 + 120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    return sum(done / elapsed for done, elapsed in results)


def run_scaling(
    *, item: str, seconds: float, repeats: int, advance: Callable[[float], None]
) -> dict[str, Any]:
    best = {1: 0.0, 2: 0.0}
    for _ in range(repeats):
        for n in (1, 2):
            best[n] = max(best[n], run_processes(item, n, seconds))
            advance(1)
    return {
        "item": item,
        "one_process_per_s": round(best[1], 1),
        "two_processes_per_s": round(best[2], 1),
        "speedup": round(best[2] / best[1], 3),
        "seconds_per_run": seconds,
        "repeats": repeats,
    }


def dump_disagreements(result: Mapping[str, Any]) -> str:
    return json.dumps(result.get("zen_agreement", {}).get("mismatches", []), ensure_ascii=False, indent=1)
