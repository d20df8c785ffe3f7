"""`make demo`: every sample case through the engine, as a table, with the auto-approval rate."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from rich.console import Console
from rich.table import Table

from engine.errors import ApprovalError
from miaopi.documents import DocumentReader
from miaopi.masking import mask_name, mask_text
from miaopi.rulesets import RulesetRepository
from miaopi.service import decide_case, read_case_file, resolve_documents
from miaopi.settings import get_settings

OUTCOME_LABEL = {
    "approved": "[green]秒批通过[/]",
    "review": "[yellow]转人工审核[/]",
    "returned": "[cyan]退回补正[/]",
    "rejected": "[red]不予许可[/]",
}
KEY_OUTPUTS = {
    "deed-tax": ("tax_rate", "tax_amount", "relief"),
    "safety-permit-renewal": ("new_valid_to", "required_safety_officers"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the sample cases through the engine")
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the loaded shared data")
    args = parser.parse_args(argv)
    settings = get_settings()
    from store.db import create_engine_for
    from store.registry import SqlRegistry

    registry = SqlRegistry(create_engine_for(args.db or settings.database_url))
    repository = RulesetRepository(settings.rulesets_dir)
    console = Console(width=max(Console().width, 150))
    totals: Counter[str] = Counter()
    reader = DocumentReader(settings.extract_options())
    for item in repository.items():
        folder = settings.samples_dir / item / "cases"
        if not folder.is_dir():
            continue
        program = repository.get(item)
        table = Table(
            title=f"{program.ruleset.item.name}（{item} {program.ruleset.version}）", show_lines=False
        )
        for col in ("案件", "申请人", "结果", "主要结果值", "原因（前两条）", "ms"):
            table.add_column(col, overflow="fold")
        counts: Counter[str] = Counter()
        for path in sorted(folder.glob("*.json")):
            try:
                case, _ = read_case_file(path, repository=repository)
                decision = decide_case(
                    case,
                    repository=repository,
                    registry=registry,
                    documents=resolve_documents(case, path.parent, program=program, reader=reader),
                )
            except ApprovalError as exc:
                table.add_row(path.stem, "—", "[red]输入错误[/]", "", str(exc), "")
                counts["error"] += 1
                continue
            counts[decision.outcome] += 1
            outputs = ", ".join(
                f"{k}={decision.outputs[k]}" for k in KEY_OUTPUTS.get(item, ()) if k in decision.outputs
            )
            names = [case.applicant.name, *[str(s.get("name", "")) for s in case.form.get("staff", []) or []]]
            reasons = "；".join(mask_text(r.message, names=names) for r in decision.reasons[:2])
            if len(decision.reasons) > 2:
                reasons += f"（共 {len(decision.reasons)} 条）"
            table.add_row(
                decision.case_id or path.stem,
                mask_name(case.applicant.name),
                OUTCOME_LABEL[decision.outcome],
                outputs,
                reasons,
                f"{decision.elapsed_ms:.1f}",
            )
        console.print(table)
        n = sum(counts.values())
        console.print(
            f"{item}: {n} 件，秒批 {counts['approved']} 件，秒批率 {counts['approved'] / n:.0%}；"
            + "，".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + "\n"
        )
        totals.update(counts)
    reader.close()
    n = sum(totals.values())
    if n:
        console.print(
            f"[bold]合计 {n} 件，自动批准 {totals['approved']} 件，秒批率（auto-approval rate）"
            f"{totals['approved'] / n:.1%}[/]"
        )
        console.print(json.dumps(dict(totals), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
