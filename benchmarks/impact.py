"""How fast `miaopi diff` replays recorded decisions: N recorded deed-tax decisions, a candidate with
a lower relief-area limit, replayed in one process and in several.

    .venv/bin/python benchmarks/impact.py [--decisions 100000] [--processes 1 2] [--out DIR]

The recorded decisions are real: the deed-tax sample cases decided from their form and the registries
(no scans) by the worker, on a fresh SQLite database with the sample shared data; their rows (case and
decision with its recorded facts) are then copied under new case ids until there are N. The figure is
decisions replayed per second, wall clock, the report included; DIR/impact.json has the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

RULESET = ROOT / "rulesets" / "deed-tax" / "ruleset.yaml"


def _record_samples(services: Any) -> int:
    from miaopi.worker import run_worker
    from service.cases import submit_case
    from service.transactions import utcnow
    from service.users import add_user

    user, _ = add_user(
        services,
        user_id="bench",
        display_name="压测",
        role="admin",  # staff: submits the sample cases of every applicant
        department=None,
        password=None,
        now=utcnow(),
    )
    count = 0
    for path in sorted((ROOT / "samples" / "deed-tax" / "cases").glob("dt-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("documents"):
            continue
        submit_case(services, user=user, data=data, uploads=[], idempotency_key=None, now=utcnow())
        count += 1
    run_worker(services.settings, idle_exit=True)
    return count


def _multiply(services: Any, target: int) -> int:
    """Copy the recorded cases and decisions under new ids until there are `target` decisions: each
    round copies every row there is (doubling), the last round only as many as are still missing."""
    from sqlalchemy import func, insert, literal, select

    from store.records import CaseRow, DecisionRow

    cases, decisions = CaseRow.__table__, DecisionRow.__table__
    columns = [c for c in decisions.c if c.name != "id"]
    with services.engine.begin() as conn:
        have = int(conn.scalar(select(func.count()).select_from(decisions)) or 0)
        round_no = 1
        while 0 < have < target:
            take = min(have, target - have)
            suffix = literal(f"#{round_no}")
            chosen = select(decisions.c.case_id).order_by(decisions.c.id).limit(take).scalar_subquery()
            conn.execute(
                insert(cases).from_select(
                    [c.name for c in cases.c],
                    select(
                        *[
                            (c + suffix).label(c.name) if c.name in ("id", "idempotency_key") else c
                            for c in cases.c
                        ]
                    ).where(cases.c.id.in_(chosen)),
                )
            )
            conn.execute(
                insert(decisions).from_select(
                    [c.name for c in columns],
                    select(
                        *[(c + suffix).label(c.name) if c.name == "case_id" else c for c in columns]
                    ).where(decisions.c.case_id.in_(chosen)),
                )
            )
            have = int(conn.scalar(select(func.count()).select_from(decisions)) or 0)
            round_no += 1
        return have


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()[0]

    from service.container import create_services
    from service.impact import impact
    from service.rulesets import seed_rulesets
    from service.settings import Settings
    from service.transactions import utcnow
    from store.loader import load_directory

    candidate = RULESET.read_text(encoding="utf-8").replace("    value: 140\n", "    value: 120\n", 1)
    with tempfile.TemporaryDirectory(prefix="miaopi-impact-") as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/miaopi.db", files_dir=Path(tmp) / "files")
        services = create_services(settings)
        load_directory(services.engine, ROOT / "samples" / "shared-data")
        seed_rulesets(services, now=utcnow())
        samples = _record_samples(services)
        started = time.perf_counter()
        recorded = _multiply(services, args.decisions)
        copied_s = time.perf_counter() - started
        print(f"{recorded} recorded decisions ({samples} sample cases copied; {copied_s:.1f} s)", flush=True)
        runs: list[dict[str, Any]] = []
        for processes in args.processes:
            report = impact(
                services,
                item="deed-tax",
                candidate_text=candidate,
                candidate_source="candidate.yaml",
                processes=processes,
            )
            rate = report.decisions / report.elapsed_s
            runs.append(
                {
                    "processes": processes,
                    "decisions": report.decisions,
                    "seconds": round(report.elapsed_s, 2),
                    "decisions_per_s": round(rate),
                    "outputs_changed": {k: v.cell.count for k, v in report.outputs.items()},
                }
            )
            print(
                f"processes {processes}: {report.decisions} decisions in {report.elapsed_s:.1f} s "
                f"= {rate:,.0f}/s; tax changed on {report.outputs['tax_amount'].cell.count}",
                flush=True,
            )
        services.engine.dispose()
    result = {
        "recorded_decisions": recorded,
        "load_average_at_start": load_at_start,
        "cpus": os.cpu_count(),
        "runs": runs,
    }
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "impact.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
