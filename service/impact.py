"""Impact analysis: what a candidate version of a ruleset would have decided on the cases already
decided, from their recorded facts (the case, every registry query with its rows, the document facts),
beside what was decided then.

Nothing is written and the registries are not read: a decision is replayed exactly as it was gathered.
A case the candidate cannot decide from the recorded facts alone (it looks up shared data the recorded
version never asked for) is counted as not comparable, with the reason; a case whose form the candidate
refuses is counted under the outcome `invalid`. Recorded decisions are streamed in batches; each batch
is decided in one engine call (`decide_gathered`), in this process or spread over worker processes.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, select

from engine.case import Case, parse_case, validate_case
from engine.decision import decide_gathered
from engine.errors import CaseError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.facts import Facts, gather_facts
from engine.program import Program, build_program
from engine.registries import REGISTRIES, Registry
from service import access
from service.errors import InvalidRequest
from service.records import NotRecorded, ReplayRegistry, decode_documents
from store.records import DecisionRow, User, latest_round_only

if TYPE_CHECKING:
    from service.container import Services

INVALID = "invalid"
"""The outcome column of a case whose recorded form the candidate refuses."""

EXAMPLES = 20
"""Case ids kept per cell of the report (the counts are always complete)."""


@dataclass
class Cell:
    count: int = 0
    cases: list[str] = field(default_factory=list)

    def add(self, case_id: str) -> None:
        self.count += 1
        if len(self.cases) < EXAMPLES:
            self.cases.append(case_id)


@dataclass
class OutputChange:
    """One output whose value differs: how many cases, which, and for money the sums before/after."""

    cell: Cell = field(default_factory=Cell)
    before: Decimal = Decimal(0)
    after: Decimal = Decimal(0)
    numeric: bool = False
    examples: list[tuple[str, Any, Any]] = field(default_factory=list)


@dataclass
class ImpactReport:
    item: str
    candidate_version: str
    candidate_sha256: str
    since: datetime | None
    decisions: int = 0
    """Recorded decisions read."""
    compared: int = 0
    outcomes: dict[tuple[str, str], Cell] = field(default_factory=dict)
    """(recorded outcome, candidate outcome) → the cases; unchanged outcomes included."""
    outputs: dict[str, OutputChange] = field(default_factory=dict)
    conditions: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    """condition id → (recorded status, candidate status) → cases, changed statuses only."""
    not_comparable: Cell = field(default_factory=Cell)
    not_comparable_reasons: Counter[str] = field(default_factory=Counter)
    recorded_versions: Counter[str] = field(default_factory=Counter)
    summed: frozenset[str] = frozenset()
    """Outputs of type money, whose changed values are also summed (a tax total before and after)."""
    titles: dict[str, str] = field(default_factory=dict)
    """Output and condition ids → their titles in the candidate."""
    elapsed_s: float = 0.0

    @property
    def changed(self) -> int:
        """Cases whose outcome differs under the candidate."""
        return sum(c.count for (old, new), c in self.outcomes.items() if old != new)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "candidate": {"version": self.candidate_version, "sha256": self.candidate_sha256},
            "since": self.since.isoformat() if self.since else None,
            "decisions": self.decisions,
            "compared": self.compared,
            "outcome_changed": self.changed,
            "outcomes": [
                {"recorded": old, "candidate": new, "count": c.count, "cases": c.cases}
                for (old, new), c in sorted(self.outcomes.items())
            ],
            "outputs": [
                {
                    "output": key,
                    "title": self.titles.get(key, key),
                    "changed": ch.cell.count,
                    "cases": ch.cell.cases,
                    "sum_recorded": str(ch.before) if ch.numeric else None,
                    "sum_candidate": str(ch.after) if ch.numeric else None,
                    "examples": [{"case": c, "recorded": a, "candidate": b} for c, a, b in ch.examples],
                }
                for key, ch in sorted(self.outputs.items())
            ],
            "conditions": [
                {
                    "condition": cid,
                    "title": self.titles.get(cid, cid),
                    "recorded": old,
                    "candidate": new,
                    "count": n,
                }
                for cid, moves in sorted(self.conditions.items())
                for (old, new), n in sorted(moves.items())
            ],
            "not_comparable": {
                "count": self.not_comparable.count,
                "cases": self.not_comparable.cases,
                "reasons": dict(self.not_comparable_reasons.most_common()),
            },
            "recorded_versions": dict(self.recorded_versions),
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class Replayed:
    """One recorded decision replayed under the candidate, reduced to what the report compares."""

    case_id: str
    recorded_version: str
    recorded_outcome: str
    outcome: str | None = None
    """None: not comparable (`reason` says why)."""
    reason: str | None = None
    outputs: tuple[tuple[str, Any, Any], ...] = ()
    """Outputs that differ: (key, recorded, candidate)."""
    conditions: tuple[tuple[str, str, str], ...] = ()
    """Conditions whose status differs: (id, recorded, candidate)."""


Row = tuple[str, str, str, str, str]
"""(case id, recorded version, recorded outcome, facts JSON, decision JSON) as read from the store."""


def _json_value(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def replay_batch(program: Program, rows: Sequence[Row], evaluator: Evaluator) -> list[Replayed]:
    """Decide a batch of recorded decisions under `program`, in one engine call."""
    done: list[Replayed | None] = [None] * len(rows)
    gathered: list[tuple[Case, Facts]] = []
    at: list[tuple[int, dict[str, Any]]] = []
    for i, (case_id, version, outcome, facts_text, decision_text) in enumerate(rows):
        facts = json.loads(facts_text)
        try:
            case = parse_case(facts["case"])
            form = validate_case(program.ruleset, case)
        except CaseError as exc:
            done[i] = Replayed(case_id, version, outcome, outcome=INVALID, reason=str(exc))
            continue
        try:
            gathered.append(
                (
                    case,
                    gather_facts(
                        program,
                        case=case,
                        form=form,
                        registry=ReplayRegistry(facts["registry"]),
                        documents=decode_documents(facts["documents"]),
                    ),
                )
            )
        except NotRecorded as exc:  # a look-up the recorded version never made
            done[i] = Replayed(case_id, version, outcome, reason=f"需要记录之外的共享数据：{exc.registry}")
            continue
        at.append((i, json.loads(decision_text)))
    now = datetime.now().astimezone()  # only the decisions' time stamps, which are not compared
    decisions = decide_gathered(program, items=gathered, evaluator=evaluator, now=now) if gathered else []
    for (i, recorded), decision in zip(at, decisions, strict=True):
        case_id, version, outcome = rows[i][:3]
        old_outputs = recorded.get("outputs") or {}
        new_outputs = _json_value(decision.outputs)
        outputs = tuple(
            (key, old_outputs.get(key), new_outputs.get(key))
            for key in sorted(set(old_outputs) | set(new_outputs))
            if old_outputs.get(key) != new_outputs.get(key)
        )
        old_status = {c["id"]: c["status"] for c in recorded.get("conditions") or []}
        new_status = {c.id: c.status for c in decision.conditions}
        conditions = tuple(
            (cid, old_status.get(cid, "absent"), new_status.get(cid, "absent"))
            for cid in sorted(set(old_status) | set(new_status))
            if old_status.get(cid) != new_status.get(cid)
        )
        done[i] = Replayed(case_id, version, outcome, decision.outcome, None, outputs, conditions)
    return [r for r in done if r is not None]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _add(report: ImpactReport, r: Replayed) -> None:
    report.decisions += 1
    report.recorded_versions[r.recorded_version] += 1
    if r.outcome is None:
        report.not_comparable.add(r.case_id)
        report.not_comparable_reasons[r.reason or ""] += 1
        return
    report.compared += 1
    report.outcomes.setdefault((r.recorded_outcome, r.outcome), Cell()).add(r.case_id)
    for key, before, after in r.outputs:
        change = report.outputs.setdefault(key, OutputChange())
        change.cell.add(r.case_id)
        if len(change.examples) < EXAMPLES:
            change.examples.append((r.case_id, before, after))
        change.numeric = key in report.summed
        if change.numeric:
            change.before += _number(before) or 0
            change.after += _number(after) or 0
    for cid, before, after in r.conditions:
        report.conditions.setdefault(cid, Counter())[(before, after)] += 1


# -- worker processes ---------------------------------------------------------------------------------
_worker_program: Program | None = None
_worker_evaluator: Evaluator | None = None


def _start_worker(text: str, source: str, declared: Sequence[Registry] = ()) -> None:
    """A worker process: the registries the parent declared beyond the built-ins, then the program."""
    global _worker_program, _worker_evaluator
    for registry in declared:
        REGISTRIES.add(registry)
    _worker_program = build_program(text, source=source)
    _worker_evaluator = DurableEvaluator()


def _worker_batch(rows: Sequence[Row]) -> list[Replayed]:
    assert _worker_program is not None and _worker_evaluator is not None
    return replay_batch(_worker_program, rows, _worker_evaluator)


def _recorded(
    services: Services, *, item: str, since: datetime | None, batch: int, limit: int | None = None
) -> Iterator[list[Row]]:
    # the JSON columns as text: the worker that replays a row decodes it, not this process
    query = (
        select(
            DecisionRow.case_id,
            DecisionRow.ruleset_version,
            DecisionRow.outcome,
            cast(DecisionRow.facts, Text),
            cast(DecisionRow.decision, Text),
        )
        .where(DecisionRow.item == item, latest_round_only())
        .order_by(DecisionRow.id)
    )
    if since is not None:
        query = query.where(DecisionRow.decided_at >= since)
    if limit is not None:  # the latest `limit`, still replayed oldest first
        latest = (
            select(DecisionRow.id)
            .where(DecisionRow.item == item, latest_round_only())
            .order_by(DecisionRow.id.desc())
            .limit(limit)
        )
        if since is not None:
            latest = latest.where(DecisionRow.decided_at >= since)
        query = query.where(DecisionRow.id.in_(latest.scalar_subquery()))
    with services.sessions() as session:
        result = session.execute(query.execution_options(stream_results=True, yield_per=batch))
        for part in result.partitions(batch):
            yield [tuple(r) for r in part]  # type: ignore[misc]


def count_recorded(services: Services, *, item: str, since: datetime | None) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(DecisionRow).where(DecisionRow.item == item, latest_round_only())
    if since is not None:
        query = query.where(DecisionRow.decided_at >= since)
    with services.sessions() as session:
        return int(session.scalar(query) or 0)


def impact(
    services: Services,
    *,
    item: str,
    candidate_text: str,
    candidate_source: str,
    since: datetime | None = None,
    processes: int = 1,
    batch: int = 500,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImpactReport:
    """Replay every recorded decision of the candidate's item (decided at or after `since`; only the
    latest `limit`, when given) under the candidate. `progress` is called with the number of decisions
    done after each batch."""
    import time

    started = time.perf_counter()
    program = build_program(candidate_text, source=candidate_source)  # RulesetError: not a candidate
    if program.item != item:
        raise InvalidRequest(f"候选规则集属于事项 {program.item!r}，不是 {item!r}")
    report = ImpactReport(program.item, program.ruleset.version, program.sha256, since)
    report.summed = frozenset(k for k, out in program.ruleset.outputs.items() if out.type == "money")
    report.titles = {key: out.title for key, out in program.ruleset.outputs.items()}
    report.titles |= {c.spec.id: c.spec.title for c in program.conditions}
    batches = _recorded(services, item=program.item, since=since, batch=batch, limit=limit)
    if processes <= 1:
        evaluator = DurableEvaluator()
        for rows in batches:
            for r in replay_batch(program, rows, evaluator):
                _add(report, r)
            if progress:
                progress(len(rows))
    else:
        context = mp.get_context("spawn")
        with ProcessPoolExecutor(
            processes,
            mp_context=context,
            initializer=_start_worker,
            initargs=(
                candidate_text,
                candidate_source,
                [r for name, r in REGISTRIES.items() if name not in REGISTRIES.builtin_names],
            ),
        ) as pool:
            pending: list[Future[list[Replayed]]] = []

            def settle(future: Future[list[Replayed]]) -> None:
                done = future.result()
                for r in done:
                    _add(report, r)
                if progress:
                    progress(len(done))

            for rows in batches:  # at most two batches per process in flight: memory stays bounded
                pending.append(pool.submit(_worker_batch, rows))
                while len(pending) >= 2 * processes:
                    settle(pending.pop(0))
            for future in pending:
                settle(future)
    report.elapsed_s = time.perf_counter() - started
    return report


API_LIMIT = 5000
"""Recorded decisions an impact analysis over HTTP replays at most (the latest): it answers within the
request; `miaopi diff` has no such bound."""


def impact_for(
    services: Services, *, user: User, content: str, since: datetime | None, limit: int = API_LIMIT
) -> ImpactReport:
    """The impact analysis a rule author asks for before publishing (the publish endpoint's dry run):
    the candidate's own item, the latest `limit` recorded decisions, nothing written."""
    from engine.errors import RulesetError

    access.check_publish(user)
    try:
        item = build_program(content, source="候选规则集").item
    except RulesetError as exc:
        raise InvalidRequest(f"候选规则集无法编译：{exc}") from exc
    return impact(
        services,
        item=item,
        candidate_text=content,
        candidate_source="候选规则集",
        since=since,
        limit=min(limit, API_LIMIT),
    )
