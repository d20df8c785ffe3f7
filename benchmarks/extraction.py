"""Document extraction on the committed samples: speed per page, key-field accuracy, safety.

    .venv/bin/python benchmarks/extraction.py [--backend rapidocr] [--backend paddleocr] [--out DIR]
        [--option KEY=VALUE ...]     # backend options, e.g. --option rec_batch=6 --option rec_parallel=false

For every document of samples/documents/index.json, per OCR backend:
- seconds per page (median, p95) by method: text-layer PDFs, scans at each dpi;
- key fields exactly right on the readable samples, and the character error rate (CER) of the
  field values against the ground truth (a field not found counts as all characters wrong);
- on the deliberately unreadable samples, confident wrong values: fields returned at or above the
  rulesets' confidence threshold that differ from the truth. The target is zero;
- CPU seconds of the process per backend (the OCR runs in it; steadier than wall time on a shared
  machine);
- peak RSS of the process.
Writes DIR/extraction.json and DIR/extraction.png.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ocr_speed import edit_distance  # noqa: E402
from extractors.fields import extract_fields  # noqa: E402
from extractors.ocr.base import get_backend  # noqa: E402
from extractors.options import ExtractOptions  # noqa: E402
from extractors.reader import read_document  # noqa: E402
from service.rulesets import RulesetCatalogue  # noqa: E402

KEY_FIELDS = {
    "purchase_contract": ("buyer_names", "buyer_id_numbers", "area_m2", "price_yuan", "signed_on"),
    "business_licence": ("name", "credit_code", "legal_representative", "established_on"),
    "safety_permit": ("permit_no", "enterprise_name", "valid_from", "valid_to"),
}


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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", action="append", help="rapidocr (default) and/or paddleocr")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents (smoke runs)")
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

    repo = RulesetCatalogue(ROOT / "rulesets")
    specs: dict[str, tuple[Any, Any]] = {}
    threshold = 1.0
    for item in repo.items():
        rs = repo.get(item).ruleset
        threshold = min(threshold, float(rs.confidence_threshold))
        for m in rs.materials:
            if m.document_kind and m.fields:
                specs.setdefault(m.document_kind, (m.fields, m.other_labels))
    index = json.loads((ROOT / "samples" / "documents" / "index.json").read_text(encoding="utf-8"))[
        "documents"
    ]
    if args.limit:
        index = index[: args.limit]
    options = ExtractOptions(page_timeout_s=60)
    results: dict[str, Any] = {"threshold": threshold, "backends": {}}
    for name in backends:
        ocr = get_backend(name, threads=options.ocr_threads, **backend_options)
        cpu_start = time.process_time()
        per_page: dict[str, list[float]] = defaultdict(list)
        exact = total = 0
        errors = chars = 0
        confident_wrong: list[dict[str, Any]] = []
        wrong_on_readable: list[dict[str, Any]] = []
        missed: list[dict[str, Any]] = []
        for entry in index:
            path = ROOT / "samples" / "documents" / entry["path"]
            truth = json.loads((ROOT / "samples" / "documents" / entry["truth"]).read_text(encoding="utf-8"))
            kind = entry["kind"]
            start = time.perf_counter()
            doc = read_document(path, options=options, ocr=ocr)
            ex = extract_fields(doc, kind=kind, fields=specs[kind][0], other_labels=specs[kind][1])
            elapsed = time.perf_counter() - start
            method = "text" if doc.method == "text" else f"scan {entry['dpi']}dpi"
            for _ in doc.pages:
                per_page[method].append(elapsed / max(len(doc.pages), 1))
            for field in KEY_FIELDS[kind]:
                want = truth["fields"].get(field)
                if want is None:
                    continue
                got = ex.fields.get(field)
                confident = got is not None and got.confidence >= threshold
                right = got is not None and got.value == want
                if entry["readable"]:
                    total += 1
                    exact += bool(right and confident)
                    w = as_text(want)
                    g = as_text(got.value) if got is not None and confident else ""
                    errors += edit_distance(g, w)
                    chars += len(w)
                    if confident and not right:
                        wrong_on_readable.append(
                            {"doc": entry["id"], "field": field, "got": got.value, "want": want}
                        )  # type: ignore[union-attr]
                    elif not confident:
                        missed.append({"doc": entry["id"], "field": field})
                elif confident and not right:
                    confident_wrong.append(
                        {"doc": entry["id"], "field": field, "got": got.value, "want": want}
                    )  # type: ignore[union-attr]
        speed = {
            m: {"pages": len(v), "median_s": round(statistics.median(v), 4), "p95_s": round(pct(v, 0.95), 4)}
            for m, v in sorted(per_page.items())
        }
        results["backends"][name] = {
            "seconds_per_page": speed,
            "key_fields_exact": round(exact / total, 4) if total else None,
            "key_fields": total,
            "cer": round(errors / chars, 4) if chars else None,
            "wrong_but_confident_on_readable": wrong_on_readable,
            "not_read_on_readable": missed,
            "confident_wrong_on_unreadable": confident_wrong,
            "cpu_s": round(time.process_time() - cpu_start, 1),
            "options": backend_options,
        }
        print(
            f"{name}: exact {exact}/{total}, CER {errors / max(chars, 1):.4f}, "
            f"confident wrong on unreadable {len(confident_wrong)}, "
            f"wrong on readable {len(wrong_on_readable)}, CPU {time.process_time() - cpu_start:.1f} s"
        )
        for m, v in speed.items():
            print(f"  {m:14s} {v['pages']:3d} pages  median {v['median_s']:.3f} s  p95 {v['p95_s']:.3f} s")
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "extraction.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8"
    )
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
