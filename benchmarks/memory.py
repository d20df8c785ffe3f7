"""OCR speed on the committed sample scans and RSS over long runs (engine decisions, OCR pages).

Reuses the extraction benchmark's reading path (read_document with the configured OCR backend) and
the OCR benchmark's worker soak (OcrWorker with recycling, RSS every 50 pages).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import decisions
from benchmarks.engine import rss_mib
from benchmarks.extraction import pct
from benchmarks.ocr_speed import run_soak

ROOT = Path(__file__).resolve().parent.parent


def growth_pct(values: list[float]) -> float:
    """Growth from the first to the last sample, in % of the first."""
    return round((values[-1] - values[0]) / values[0] * 100, 2) if values and values[0] else 0.0


# --------------------------------------------------------------------------- OCR page speed


def run_ocr_pages(*, limit: int, threads: int, advance: Callable[[float], None]) -> dict[str, Any]:
    """Seconds per page of the scanned samples (samples/documents, method OCR), read once each after
    one warm-up page; text-layer PDFs are left out (they do not reach the OCR)."""
    from extractors.ocr.base import get_backend
    from extractors.options import ExtractOptions
    from extractors.reader import read_document

    index = json.loads((ROOT / "samples" / "documents" / "index.json").read_text(encoding="utf-8"))
    scans = [d for d in index["documents"] if d.get("dpi") and d.get("readable", True)]
    if limit:
        scans = scans[:limit]
    options = ExtractOptions(page_timeout_s=120)
    ocr = get_backend("rapidocr", threads=threads)
    read_document(ROOT / "samples" / "documents" / scans[0]["path"], options=options, ocr=ocr)  # warm-up
    per_page: list[float] = []
    cpu_per_page: list[float] = []
    by_dpi: dict[int, list[float]] = {}
    for entry in scans:
        t0, c0 = time.perf_counter(), time.process_time()
        doc = read_document(ROOT / "samples" / "documents" / entry["path"], options=options, ocr=ocr)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        pages = max(len(doc.pages), 1)
        if doc.method != "ocr":
            advance(1)
            continue
        for _ in range(pages):
            per_page.append(wall / pages)
            cpu_per_page.append(cpu / pages)
            by_dpi.setdefault(int(entry["dpi"]), []).append(wall / pages)
        advance(1)
    close = getattr(ocr, "close", None)
    if callable(close):
        close()
    if not per_page:
        raise RuntimeError("no scanned page was read by OCR")
    return {
        "pages": len(per_page),
        "median_s": round(statistics.median(per_page), 3),
        "p95_s": round(pct(per_page, 0.95), 3),
        "mean_s": round(statistics.fmean(per_page), 3),
        "cpu_median_s": round(statistics.median(cpu_per_page), 3),
        "by_dpi_median_s": {str(k): round(statistics.median(v), 3) for k, v in sorted(by_dpi.items())},
        "backend": "rapidocr",
        "threads": threads,
        "pages_per_s": round(len(per_page) / sum(per_page), 3),
        "_series": {"seconds": [round(s, 3) for s in per_page]},
    }


# --------------------------------------------------------------------------- soak


def run_engine_soak(
    *, item: str, decisions_total: int, warmup: int, samples: int, advance: Callable[[float], None]
) -> dict[str, Any]:
    """RSS of this process over `decisions_total` condition evaluations through durable_rules (the
    engine's per-case state is where a leak would be), after `warmup` evaluations."""
    from engine.evaluate import DurableEvaluator, check_all
    from engine.facts import gather_facts

    workload = decisions.load_workload(item)
    program = workload.program
    gathered = []
    from engine.case import validate_form

    for case in workload.cases:
        form = validate_form(program.ruleset, case.form)
        facts = gather_facts(program, case=case, form=form, registry=workload.registry)
        gathered.append((facts, check_all(program, facts)))
    durable = DurableEvaluator()
    many = getattr(durable, "evaluate_many", None)

    def run(n: int) -> None:
        k = len(gathered)
        full, rest = divmod(n, k)
        for _ in range(full):
            if many is not None:
                many(program, gathered)
            else:
                for facts, checked in gathered:
                    durable.evaluate(program, facts, checked)
        for facts, checked in gathered[:rest]:
            durable.evaluate(program, facts, checked)

    run(warmup)
    step = max(decisions_total // samples, 1)
    points = [(0, round(rss_mib(), 2))]
    done = 0
    t0 = time.perf_counter()
    while done < decisions_total:
        n = min(step, decisions_total - done)
        run(n)
        done += n
        points.append((done, round(rss_mib(), 2)))
        advance(n / decisions_total)
    elapsed = time.perf_counter() - t0
    rss = [p[1] for p in points]
    return {
        "decisions": done,
        "warmup": warmup,
        "per_s": round(done / elapsed, 1),
        "rss_start_mib": rss[0],
        "rss_end_mib": rss[-1],
        "rss_max_mib": max(rss),
        "growth_pct": growth_pct(rss),
        "series": points,
    }


def run_ocr_soak(*, pages: int, recycle_after: int, threads: int) -> dict[str, Any]:
    """RSS of the OCR worker over `pages` pages (the OCR benchmark's soak); growth is measured per
    worker process after its first sample (warm-up), the worker being recycled every
    `recycle_after` pages."""
    args = argparse.Namespace(backend="rapidocr", threads=threads, recycle_after=recycle_after, soak=pages)
    result = run_soak(args)
    by_pid: dict[int, list[float]] = {}
    for s in result["samples"][1:]:
        if s["rss_mib"] is not None:
            by_pid.setdefault(s["pid"], []).append(s["rss_mib"])
    growth = [growth_pct(v) for v in by_pid.values() if len(v) >= 2]
    return {
        "pages": pages,
        "recycle_after": recycle_after,
        "seconds_per_page": result["seconds_per_page"],
        "process_starts": result["process_starts"],
        "rss_first_mib": result["rss_first_mib"],
        "rss_last_mib": result["rss_last_mib"],
        "rss_max_mib": result["rss_max_mib"],
        # None, not 0: with no process sampled twice after its warm-up, growth was not measured
        "growth_pct": max(growth) if growth else None,
        "series": [(s["page"], s["rss_mib"], s["pid"]) for s in result["samples"]],
        "cpus": os.cpu_count(),
    }
