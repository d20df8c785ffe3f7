"""Replay: decide a case again from its recorded facts, under the recorded ruleset (must match exactly)
and under the version in force now (may differ: reported condition by condition)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.case import parse_case
from engine.decision import Decision, decide
from engine.evaluate import DurableEvaluator
from engine.program import Program
from service.errors import NotFound
from service.records import ReplayRegistry, decode_documents, latest_decision
from service.rulesets import active_version
from store.records import RulesetVersion

if TYPE_CHECKING:
    from service.container import Services


def replay(services: Services, *, case_id: str, now: datetime, round: int | None = None) -> dict[str, Any]:
    """Decide a case again from its recorded facts under the recorded ruleset (must match exactly) and
    under the version in force now (may differ: reported condition by condition). A case corrected and
    resubmitted (补正) has a decision per round: the latest is replayed unless `round` names another."""
    with services.sessions() as session:
        rec = latest_decision(session, case_id, round=round)
        if rec is None:
            which = f"第 {round} 轮" if round is not None else ""
            raise NotFound(f"案件 {case_id} 没有{which}引擎决定可重放")
        recorded = session.scalars(
            select(RulesetVersion).where(RulesetVersion.sha256 == rec.ruleset_sha256)
        ).first()
        if recorded is None:
            raise NotFound(f"找不到哈希为 {rec.ruleset_sha256[:12]}… 的规则集版本")
        current = active_version(session, item=rec.item, at=now)
        facts, stored = rec.facts, rec.decision
    same = _replay_under(services.rulesets.program_for(recorded), facts)
    try:
        later = _replay_under(services.rulesets.program_for(current), facts)
    except LookupError as exc:  # the current version reads shared data the case never looked up
        later = None
        not_comparable = str(exc)
    original = {k: v for k, v in stored.items() if k != "elapsed_ms"}
    reproduced = {k: v for k, v in same.to_json_dict().items() if k != "elapsed_ms"}
    recorded_part = {
        "version": rec.ruleset_version,
        "sha256": rec.ruleset_sha256,
        "outcome": stored["outcome"],
    }
    if later is None:
        return {
            "case_id": case_id,
            "round": rec.round,
            "recorded": recorded_part,
            "reproduced": reproduced == original,
            "current": {
                "version": current.version,
                "sha256": current.sha256,
                "comparable": False,
                "reason": f"现行版本需要记录之外的共享数据：{not_comparable}",
            },
        }
    later_conditions = {c.id: c.status for c in later.conditions}
    diff_now = [
        {"condition": c["id"], "recorded": c["status"], "current": later_conditions.get(c["id"], "absent")}
        for c in stored["conditions"]
        if later_conditions.get(c["id"]) != c["status"]
    ]
    added = [cid for cid in later_conditions if cid not in {c["id"] for c in stored["conditions"]}]
    return {
        "case_id": case_id,
        "round": rec.round,
        "recorded": recorded_part,
        "reproduced": reproduced == original,
        "current": {
            "comparable": True,
            "version": current.version,
            "sha256": current.sha256,
            "outcome": later.outcome,
            "differs": later.outcome != same.outcome or bool(diff_now) or bool(added),
            "conditions": diff_now,
            "added_conditions": added,
        },
    }


def _replay_under(program: Program, facts: dict[str, Any]) -> Decision:
    case = parse_case(facts["case"])
    return decide(
        program,
        case=case,
        registry=ReplayRegistry(facts["registry"]),
        evaluator=DurableEvaluator(),
        now=datetime.fromisoformat(facts["now"]),
        documents=decode_documents(facts["documents"]),
    )
