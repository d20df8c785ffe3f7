"""Document extraction on the committed samples: speed per page, key-field accuracy, safety — for the
tuning set and the held-out set separately.

    .venv/bin/python benchmarks/extraction.py [--set tuning|heldout|all] [--backend rapidocr]
        [--backend paddleocr] [--out DIR] [--limit N]
        [--option KEY=VALUE ...]     # backend options, e.g. --option rec_batch=6 --option rec_parallel=false

Sets:
- `tuning`: every `index.json` under samples/documents/ (the main one and any sub-set such as
  samples/documents/photos/index.json; paths in an index are relative to the index's folder),
  grouped by layout. The extractors are tuned on these.
- `heldout`: samples/heldout/index.json, grouped by family — documents from an independent generator,
  used only to measure. Its report carries counts only, never which document or field was missed.

For every set, per OCR backend, overall, per group (layout / family) and per kind:
- key fields exactly right (at or above the rulesets' confidence threshold) on readable documents,
  as a count and a percentage;
- confident wrong values: key fields returned at or above the threshold whose value differs from
  the truth, on readable AND on deliberately unreadable documents (the target is zero);
- key fields absent: not returned at or above the threshold (readable documents);
- the character error rate (CER) of the values against the truth (an absent field counts as all
  characters wrong).
And per backend: seconds per page (median, p95) by method (text-layer PDFs, scans at each dpi),
CPU seconds of the process (the OCR runs in it), and the peak RSS.
Writes DIR/extraction.json, DIR/extraction.md (the table also printed) and DIR/extraction.png.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY_FIELDS = {
    "purchase_contract": ("buyer_names", "buyer_id_numbers", "area_m2", "price_yuan", "signed_on"),
    "business_licence": ("name", "credit_code", "legal_representative", "established_on"),
    "safety_permit": ("permit_no", "enterprise_name", "valid_from", "valid_to"),
}
SETS = {
    "tuning": (ROOT / "samples" / "documents", "layout"),
    "heldout": (ROOT / "samples" / "heldout", "family"),
}
"""Set name → (folder whose index.json files make the set, the entry key that groups it)."""
DETAILED_SETS = {"tuning"}
"""Sets whose report names the documents and fields that were wrong or missed; the held-out set's
report keeps to counts, so that it can be shown to those who tune the reader."""


def as_text(value: Any) -> str:
    return "、".join(value) if isinstance(value, list) else str(value)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def parse_option(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` → (key, value), the value read as JSON when it parses (6, false, "max"), else as text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--option takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


# ---------------------------------------------------------------------------------------------
# Sets and accounting (pure: no OCR, tested in tests/benchmarks/test_extraction_accounting.py)


@dataclass(frozen=True)
class Entry:
    set: str
    id: str
    kind: str
    group: str
    readable: bool
    path: Path
    truth: Path
    dpi: int | None


def load_set(name: str, folder: Path, group_key: str) -> list[Entry]:
    """The documents of every index.json under `folder` (sorted by path, the top one first)."""
    out: list[Entry] = []
    indexes = sorted(folder.rglob("index.json"), key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    for index in indexes:
        base = index.parent
        for e in json.loads(index.read_text(encoding="utf-8"))["documents"]:
            group = e.get(group_key)
            if group is None:  # an index without the grouping key: take it from the truth file
                group = json.loads((base / e["truth"]).read_text(encoding="utf-8")).get(group_key, "?")
            out.append(
                Entry(
                    name,
                    e["id"],
                    e["kind"],
                    str(group),
                    bool(e["readable"]),
                    base / e["path"],
                    base / e["truth"],
                    e.get("dpi"),
                )
            )
    return out


EXACT, WRONG, ABSENT = "exact", "confident_wrong", "absent"


@dataclass(frozen=True)
class Outcome:
    entry: Entry
    field: str
    outcome: str  # exact | confident_wrong | absent
    want: Any
    got: Any  # the value returned at or above the threshold, else None
    errors: int  # edit distance of the confident value (empty when absent) to the truth
    chars: int


def score(
    entry: Entry,
    truth: dict[str, Any],
    fields: dict[str, Any],
    threshold: float,
    distance: Callable[[str, str], int],
) -> list[Outcome]:
    """Key fields of one document: `fields` maps a field to an object with `.value` and `.confidence`
    (an ExtractedField) or is missing it. Fields the truth does not have are not scored."""
    out = []
    for name in KEY_FIELDS[entry.kind]:
        want = truth.get(name)
        if want is None:
            continue
        got = fields.get(name)
        confident = got is not None and got.confidence >= threshold
        value = got.value if confident else None
        if not confident:
            outcome = ABSENT
        elif value == want:
            outcome = EXACT
        else:
            outcome = WRONG
        w = as_text(want)
        out.append(
            Outcome(
                entry, name, outcome, want, value, distance(as_text(value) if confident else "", w), len(w)
            )
        )
    return out


def _blank() -> dict[str, Any]:
    return {
        "documents": 0,
        "key_fields": 0,
        "exact": 0,
        "absent": 0,
        "confident_wrong": 0,
        "confident_wrong_on_readable": 0,
        "confident_wrong_on_unreadable": 0,
        "unreadable_documents": 0,
        "unreadable_key_fields": 0,
        "_errors": 0,
        "_chars": 0,
    }


def _finish(t: dict[str, Any]) -> dict[str, Any]:
    t["exact_pct"] = round(100 * t["exact"] / t["key_fields"], 1) if t["key_fields"] else None
    t["cer"] = round(t.pop("_errors") / t["_chars"], 4) if t["_chars"] else None
    t.pop("_chars")
    return t


def tally(outcomes: Iterable[Outcome], detailed: bool) -> dict[str, Any]:
    """Counts of one set: overall, by group, by kind (key fields, exact, confident wrong, absent)."""
    overall = _blank()
    by_group: dict[str, dict[str, Any]] = defaultdict(_blank)
    by_kind: dict[str, dict[str, Any]] = defaultdict(_blank)
    seen: set[str] = set()
    wrong_readable, wrong_unreadable, missed = [], [], []
    for o in outcomes:
        e = o.entry
        buckets = (overall, by_group[e.group], by_kind[e.kind])
        first = e.id not in seen
        seen.add(e.id)
        for t in buckets:
            if first:
                t["documents"] += 1
                t["unreadable_documents"] += not e.readable
            if e.readable:
                t["key_fields"] += 1
                t["exact"] += o.outcome == EXACT
                t["absent"] += o.outcome == ABSENT
                t["_errors"] += o.errors
                t["_chars"] += o.chars
            else:
                t["unreadable_key_fields"] += 1
            if o.outcome == WRONG:
                t["confident_wrong"] += 1
                t["confident_wrong_on_readable" if e.readable else "confident_wrong_on_unreadable"] += 1
        if detailed:
            if o.outcome == WRONG:
                (wrong_readable if e.readable else wrong_unreadable).append(
                    {"doc": e.id, "field": o.field, "got": o.got, "want": o.want}
                )
            elif o.outcome == ABSENT and e.readable:
                missed.append({"doc": e.id, "field": o.field})
    result: dict[str, Any] = {
        "overall": _finish(overall),
        "by_group": {g: _finish(t) for g, t in sorted(by_group.items())},
        "by_kind": {k: _finish(t) for k, t in sorted(by_kind.items())},
    }
    if detailed:
        result["wrong_but_confident_on_readable"] = wrong_readable
        result["confident_wrong_on_unreadable"] = wrong_unreadable
        result["not_read_on_readable"] = missed
    return result


def table(results: dict[str, Any]) -> str:
    """The readable report: one table per backend and set."""
    lines = [
        f"# Extraction benchmark\n\nConfidence threshold {results['threshold']}. "
        "Key fields exact and absent on "
        "readable documents; confident wrong values on readable + unreadable documents.\n"
    ]
    for name, r in results["backends"].items():
        for set_name, s in r["sets"].items():
            group_key = SETS[set_name][1] if set_name in SETS else "group"
            lines.append(f"## {name} — {set_name} set\n")
            lines.append(
                f"| {group_key} | docs (unreadable) | key fields | exact | exact % | confident wrong "
                "(readable + unreadable) | absent | CER |"
            )
            lines.append("|---|---|---|---|---|---|---|---|")

            def row(label: str, t: dict[str, Any]) -> str:
                p = "–" if t["exact_pct"] is None else f"{t['exact_pct']:.1f}"
                cer = "–" if t["cer"] is None else f"{t['cer']:.4f}"
                return (
                    f"| {label} | {t['documents']} ({t['unreadable_documents']}) | {t['key_fields']} | "
                    f"{t['exact']} | "
                    f"{p} | {t['confident_wrong']} ({t['confident_wrong_on_readable']} + "
                    f"{t['confident_wrong_on_unreadable']}) | {t['absent']} | {cer} |"
                )

            for g, t in s["by_group"].items():
                lines.append(row(g, t))
            for k, t in s["by_kind"].items():
                lines.append(row(f"*{k}*", t))
            lines.append(row("**all**", s["overall"]))
            lines.append("")
        lines.append(f"### {name} — speed\n")
        lines.append("| method | pages | median s | p95 s |")
        lines.append("|---|---|---|---|")
        for m, v in r["seconds_per_page"].items():
            lines.append(f"| {m} | {v['pages']} | {v['median_s']:.3f} | {v['p95_s']:.3f} |")
        lines.append(f"\nCPU {r['cpu_s']} s, options {json.dumps(r['options'])}\n")
    lines.append(f"Peak RSS {results.get('peak_rss_mib')} MiB\n")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", help="rapidocr (default) and/or paddleocr")
    parser.add_argument("--set", choices=["tuning", "heldout", "all"], default="all", dest="which")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N documents of each set (smoke runs)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend constructor option (e.g. a RapidSettings field); VALUE is read as JSON when it parses",
    )
    args = parser.parse_args(argv)
    backends = args.backend or ["rapidocr"]
    backend_options = dict(parse_option(o) for o in args.option)

    from benchmarks.ocr_speed import edit_distance
    from extractors.extract import read_with_notes
    from extractors.fields import extract_fields
    from extractors.ocr.base import get_backend
    from extractors.options import ExtractOptions
    from service.rulesets import RulesetCatalogue, document_kinds

    specs, threshold = document_kinds(RulesetCatalogue(ROOT / "rulesets"))
    names = ["tuning", "heldout"] if args.which == "all" else [args.which]
    sets: dict[str, list[Entry]] = {}
    for n in names:
        folder, key = SETS[n]
        entries = load_set(n, folder, key)
        sets[n] = entries[: args.limit] if args.limit else entries
    options = ExtractOptions(page_timeout_s=60)
    results: dict[str, Any] = {
        "threshold": threshold,
        "sets": {n: len(v) for n, v in sets.items()},
        "backends": {},
    }
    for name in backends:
        ocr = get_backend(name, threads=options.ocr_threads, **backend_options)
        cpu_start = time.process_time()
        per_page: dict[str, list[float]] = defaultdict(list)
        set_results: dict[str, Any] = {}
        for set_name, entries in sets.items():
            outcomes: list[Outcome] = []
            for entry in entries:
                truth = json.loads(entry.truth.read_text(encoding="utf-8"))
                start = time.perf_counter()
                # the reading path of `miaopi extract`, `decide` and the worker (extract_file): photo
                # pages rectified and their confidences calibrated
                doc = read_with_notes(entry.path, options=options, ocr=ocr)
                ex = extract_fields(
                    doc, kind=entry.kind, fields=specs[entry.kind][0], other_labels=specs[entry.kind][1]
                )
                elapsed = time.perf_counter() - start
                method = (
                    "text"
                    if doc.method == "text"
                    else f"scan {entry.dpi}dpi"
                    if entry.dpi
                    else "scan (photo)"
                )
                for _ in doc.pages:
                    per_page[method].append(elapsed / max(len(doc.pages), 1))
                outcomes.extend(score(entry, truth["fields"], ex.fields, threshold, edit_distance))
            set_results[set_name] = tally(outcomes, detailed=set_name in DETAILED_SETS)
        speed = {
            m: {"pages": len(v), "median_s": round(statistics.median(v), 4), "p95_s": round(pct(v, 0.95), 4)}
            for m, v in sorted(per_page.items())
        }
        r: dict[str, Any] = {
            "seconds_per_page": speed,
            "sets": set_results,
            "cpu_s": round(time.process_time() - cpu_start, 1),
            "options": backend_options,
        }
        if "tuning" in set_results:  # the figures this report had before it measured several sets
            t = set_results["tuning"]
            r |= {
                "key_fields_exact": round(t["overall"]["exact"] / t["overall"]["key_fields"], 4)
                if t["overall"]["key_fields"]
                else None,
                "key_fields": t["overall"]["key_fields"],
                "cer": t["overall"]["cer"],
                "wrong_but_confident_on_readable": t["wrong_but_confident_on_readable"],
                "not_read_on_readable": t["not_read_on_readable"],
                "confident_wrong_on_unreadable": t["confident_wrong_on_unreadable"],
            }
        results["backends"][name] = r
        for set_name, s in set_results.items():
            o = s["overall"]
            print(
                f"{name} {set_name}: exact {o['exact']}/{o['key_fields']} ({o['exact_pct']} %), "
                f"confident wrong {o['confident_wrong']}, absent {o['absent']}, CER {o['cer']}"
            )
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "extraction.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    report = table(results)
    (args.out / "extraction.md").write_text(report, encoding="utf-8")
    print(report)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.8 / max(len(results["backends"]), 1)
        for k, (name, r) in enumerate(results["backends"].items()):
            cats = list(r["seconds_per_page"])
            xs = [i + k * width for i in range(len(cats))]
            ax.bar(xs, [r["seconds_per_page"][c]["median_s"] for c in cats], width, label=f"{name} median")
            ax.set_xticks([i + width * (len(results["backends"]) - 1) / 2 for i in range(len(cats))], cats)
        ax.axhline(0.5, color="red", linestyle="--", label="target 0.5 s (scans)")
        ax.set_ylabel("seconds per page")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "extraction.png", dpi=100)
    except ImportError:
        print("matplotlib not installed: no plot")
    return results


if __name__ == "__main__":
    main()
