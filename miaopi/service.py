"""Orchestration: wires the decision core to files, the database and the clock."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.case import CHINA_TZ, Case, parse_case
from engine.decision import Decision, decide
from engine.errors import CaseError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.facts import DocumentFacts
from engine.ports import RegistryPort
from engine.program import Program
from miaopi.documents import DocumentReader
from miaopi.masking import mask_id
from miaopi.rulesets import RulesetRepository
from miaopi.settings import get_settings

log = logging.getLogger("miaopi")


def read_case_file(path: Path, *, repository: RulesetRepository | None = None) -> tuple[Case, dict[str, Any]]:
    """Read and validate a case JSON file. Raises CaseError with the place of every problem; with a
    repository, the item must exist and its declared form is checked in the same pass."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CaseError(f"无法读取案件文件 {path}：{exc.strerror}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CaseError(f"{path}: 案件文件不是 UTF-8 编码") from exc
    except json.JSONDecodeError as exc:
        raise CaseError(f"{path}: JSON 格式错误，第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}") from exc
    if not isinstance(data, dict):
        raise CaseError(f"{path}: 案件应为 JSON 对象")
    ruleset = None
    if repository is not None and isinstance(data.get("item"), str):
        ruleset = repository.get(data["item"]).ruleset
    return parse_case(data, ruleset=ruleset), data


def resolve_documents(
    case: Case, base: Path, *, program: Program, reader: DocumentReader | None = None
) -> dict[str, DocumentFacts]:
    """Read the documents a case lists (paths relative to `base`) into facts for the engine."""
    if reader is not None:
        return reader.facts_for(program, case, base)
    with DocumentReader(get_settings().extract_options()) as own:
        return own.facts_for(program, case, base)


def decide_case(
    case: Case,
    *,
    repository: RulesetRepository,
    registry: RegistryPort,
    evaluator: Evaluator | None = None,
    documents: dict[str, DocumentFacts] | None = None,
    now: datetime | None = None,
) -> Decision:
    program = repository.get(case.item)
    start = time.perf_counter()
    decision = decide(
        program,
        case=case,
        registry=registry,
        evaluator=evaluator or DurableEvaluator(),
        now=now or datetime.now(CHINA_TZ),
        documents=documents,
    )
    decision.elapsed_ms = round((time.perf_counter() - start) * 1000, 3)
    subject = case.applicant.id_number or case.applicant.credit_code or ""
    log.info(
        "decided case=%s item=%s applicant=%s outcome=%s reasons=%d ms=%.1f",
        case.case_id,
        case.item,
        mask_id(subject),
        decision.outcome,
        len(decision.reasons),
        decision.elapsed_ms,
    )
    return decision
