"""Orchestration: wires the decision core to files, the database and the clock."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.case import CHINA_TZ, Case, case_error, parse_case
from engine.decision import Decision, decide
from engine.errors import CaseError
from engine.evaluate import DurableEvaluator, Evaluator
from engine.facts import DocumentFacts
from engine.ports import RegistryPort
from miaopi.masking import mask_id
from miaopi.rulesets import RulesetRepository

log = logging.getLogger("miaopi")


def read_case_file(path: Path) -> tuple[Case, dict[str, Any]]:
    """Read and validate a case JSON file. Raises CaseError with the place of the problem."""
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
    return parse_case(data), data


def resolve_documents(case: Case, base: Path) -> dict[str, DocumentFacts]:
    """Check that every listed document exists beside the case file; no extractor reads them yet."""
    problems = []
    docs: dict[str, DocumentFacts] = {}
    for i, ref in enumerate(case.documents):
        target = (base / ref.path).resolve()
        if not target.is_file():
            problems.append({"path": f"documents.{i}.path", "message": f"文件不存在：{ref.path}"})
            continue
        docs[ref.kind] = DocumentFacts(kind=ref.kind, path=ref.path)
    if problems:
        raise case_error(problems)
    return docs


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
