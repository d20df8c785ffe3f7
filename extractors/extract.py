"""Read a document and extract the fields of its kind: the one entry point adapters call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.model import DocField
from extractors import photo
from extractors.fields import extract_fields
from extractors.model import Extraction, ReadDocument
from extractors.ocr.base import OcrBackend
from extractors.options import ExtractOptions
from extractors.reader import read_document


def extract_file(
    path: Path,
    *,
    kind: str,
    fields: dict[str, DocField],
    other_labels: Sequence[str] = (),
    options: ExtractOptions,
    ocr: OcrBackend | None,
) -> Extraction:
    """Fields of the document at `path`. Raises DocumentError when it cannot be read at all. Pages
    that were phone photos say so in the problems (`page_rectified`, `page_turned`, `no_page_found`)."""
    doc = read_with_notes(path, options=options, ocr=ocr)
    return extract_fields(doc, kind=kind, fields=fields, other_labels=other_labels)


def read_with_notes(path: Path, *, options: ExtractOptions, ocr: OcrBackend | None) -> ReadDocument:
    """read_document, with what was done to photographed pages (extractors/photo.py) added to the
    document's problems."""
    with photo.collect_notes() as notes:
        doc = read_document(path, options=options, ocr=ocr)
    return photo.with_notes(doc, notes)


def classify(
    doc: ReadDocument, kinds: Mapping[str, tuple[dict[str, DocField], Sequence[str]]]
) -> tuple[str, Extraction] | None:
    """The kind whose fields this document yields most of (at least two), for `extract` without --kind."""
    best: tuple[int, str, Extraction] | None = None
    for kind, (fields, other) in sorted(kinds.items()):
        ex = extract_fields(doc, kind=kind, fields=fields, other_labels=other)
        score = len(ex.fields)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, kind, ex)
    return (best[1], best[2]) if best else None
