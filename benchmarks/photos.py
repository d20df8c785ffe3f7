"""Key fields on the phone-photo tuning set (or any index.json in the samples' format), per document.

    .venv/bin/python benchmarks/photos.py [--index samples/documents/photos/index.json] [--no-photo]
        [--only ID ...] [--dump FILE] [--compare FILE]

For every document of the index: read it (rapidocr, in process), extract the fields of its kind and
compare the key fields with the truth. Prints per document the key fields exact, missed and wrong, what
the page preparation did (rectified, turned, ms) and the seconds per page; then the totals: key fields
exact, confident wrong (returned at or above the rulesets' confidence threshold and different from the
truth: the target is zero), seconds per page (median, p95).

`--no-photo` reads with ExtractOptions(photo_correction=False): the pages as decoded, no page finding,
rectification, lighting or orientation (the figures before). `--dump` writes every document's extracted
key fields (value and confidence) as JSON; `--compare` reads such a dump and lists every key field whose
value or confidence differs (used to check that the scans of samples/documents read exactly as before).

Measured 2026-12-01 on the shared 2-core machine (load average 5-9, so wall times are inflated; CPU
seconds are steadier), rapidocr 3.10 in process:

    photo tuning set (24 photos, 104 key fields)     exact          confident wrong   CPU s/photo
    --no-photo (images as decoded)                   46 (44.2 %)    11                1.14
    with page correction                             58 (55.8 %)     0                1.68
    24 more photos, other seeds, other sample scans (not committed; generate.py with ids "val-…")
    --no-photo                                       35 (33.7 %)     5
    with page correction                             51 (49.0 %)     0

Without the photo confidence calibration (extractors/photo.PHOTO_DOUBT_FACTOR) the corrected photos
read 86 and 64 key fields exact, with 4 and 5 confident wrong (permit numbers losing the J of 'JZ',
one character of a name). Page preparation per photo, CPU: finding the page 79 ms, warp and lighting
50 ms, orientation 88 ms (median). Sample scans (65 images of samples/documents/index.json): key fields
236/243 before and after, no key field's value or confidence different (`--compare`); the
preparation's quick look costs 2.5 ms median, 54 ms at most (scans with dark scanner edges take the
full look).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.extraction import KEY_FIELDS, pct  # noqa: E402
from extractors import photo  # noqa: E402
from extractors.fields import extract_fields  # noqa: E402
from extractors.ocr.base import get_backend  # noqa: E402
from extractors.options import ExtractOptions  # noqa: E402
from extractors.reader import read_document  # noqa: E402
from service.rulesets import DocumentKinds, RulesetCatalogue, document_kinds  # noqa: E402

DEFAULT_INDEX = ROOT / "samples" / "documents" / "photos" / "index.json"


def specs_and_threshold() -> DocumentKinds:
    return document_kinds(RulesetCatalogue(ROOT / "rulesets"))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--no-photo", action="store_true", help="no page finding/rectification/orientation")
    parser.add_argument("--only", nargs="*", default=[], help="document ids (all when empty)")
    parser.add_argument("--scans-only", action="store_true", help="skip PDFs")
    parser.add_argument("--dump", type=Path, help="write the extracted key fields per document here")
    parser.add_argument("--compare", type=Path, help="a --dump from another run: list the differences")
    args = parser.parse_args(argv)
    base = args.index.resolve().parent
    index = json.loads(args.index.read_text(encoding="utf-8"))["documents"]
    if args.only:
        index = [e for e in index if e["id"] in args.only]
    if args.scans_only:
        index = [e for e in index if not e["path"].endswith(".pdf")]
    specs, threshold = specs_and_threshold()
    options = ExtractOptions(page_timeout_s=120, photo_correction=not args.no_photo)
    ocr = get_backend(options.ocr_backend, threads=options.ocr_threads)
    exact = total = 0
    confident_wrong: list[dict[str, Any]] = []
    per_page: list[float] = []
    prep_ms: list[float] = []
    dump: dict[str, Any] = {}
    cpu_start = time.process_time()
    for entry in index:
        path = base / entry["path"]
        truth = json.loads((base / entry["truth"]).read_text(encoding="utf-8"))
        kind = entry["kind"]
        start = time.perf_counter()
        with photo.collect_notes() as notes:
            doc = read_document(path, options=options, ocr=ocr)
        doc = photo.with_notes(doc, notes)
        ex = extract_fields(doc, kind=kind, fields=specs[kind][0], other_labels=specs[kind][1])
        elapsed = time.perf_counter() - start
        per_page.extend([elapsed / max(len(doc.pages), 1)] * max(len(doc.pages), 1))
        prep_ms.extend(n.ms for n in notes)
        got_fields: dict[str, Any] = {}
        right_here = wrong_here = missed_here = 0
        for field in KEY_FIELDS[kind]:
            want = truth["fields"].get(field)
            got = ex.fields.get(field)
            got_fields[field] = None if got is None else [got.value, round(got.confidence, 4)]
            if want is None:
                continue
            confident = got is not None and got.confidence >= threshold
            right = got is not None and got.value == want
            if not entry.get("readable", True):
                if confident and not right:
                    confident_wrong.append({"doc": entry["id"], "field": field, "got": got.value})  # type: ignore[union-attr]
                continue
            total += 1
            if confident and right:
                exact += 1
                right_here += 1
            elif confident:
                wrong_here += 1
                confident_wrong.append({"doc": entry["id"], "field": field, "got": got.value, "want": want})  # type: ignore[union-attr]
            else:
                missed_here += 1
        dump[entry["id"]] = got_fields
        done = "; ".join(f"{n.code} {n.message}" for n in notes if n.code != "page_flat") or "-"
        print(
            f"{entry['id']:28s} exact {right_here} missed {missed_here} wrong {wrong_here}  "
            f"{elapsed:5.2f} s  [{done}]",
            flush=True,
        )
    result = {
        "index": str(args.index),
        "photo_correction": not args.no_photo,
        "key_fields_exact": exact,
        "key_fields": total,
        "confident_wrong": confident_wrong,
        "seconds_per_page": {
            "pages": len(per_page),
            "median": round(statistics.median(per_page), 3) if per_page else None,
            "p95": round(pct(per_page, 0.95), 3) if per_page else None,
        },
        "preparation_ms": {
            "median": round(statistics.median(prep_ms), 1) if prep_ms else None,
            "p95": round(pct(prep_ms, 0.95), 1) if prep_ms else None,
        },
        "cpu_s": round(time.process_time() - cpu_start, 1),
    }
    print(
        f"key fields exact {exact}/{total} ({exact / max(total, 1):.1%}), "
        f"confident wrong {len(confident_wrong)}, "
        f"s/page median {result['seconds_per_page']['median']} p95 {result['seconds_per_page']['p95']}, "
        f"preparation ms median {result['preparation_ms']['median']} p95 {result['preparation_ms']['p95']}, "
        f"CPU {result['cpu_s']} s"
    )
    for w in confident_wrong:
        print("  confident wrong:", w)
    if args.dump:
        args.dump.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        diffs = [
            (doc_id, field, before[doc_id].get(field), value)
            for doc_id, fields in dump.items()
            if doc_id in before
            for field, value in fields.items()
            if before[doc_id].get(field) != value
        ]
        print(f"differences from {args.compare}: {len(diffs)}")
        for d in diffs:
            print("  ", d)
        result["differences"] = diffs
    return result


if __name__ == "__main__":
    main()
