"""Documents of a case → facts for the engine, through the extractors (the adapter between them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.case import Case, case_error
from engine.facts import DocumentFacts
from engine.model import DocField
from engine.program import Program
from extractors.errors import DocumentError
from extractors.model import Extraction
from extractors.options import ExtractOptions


class DocumentReader:
    """Reads case documents; the OCR backend is started on first need and reused."""

    def __init__(self, options: ExtractOptions) -> None:
        self.options = options
        self._ocr: Any = None

    def ocr(self) -> Any:
        """The OCR backend, hosted in a bounded worker process (killed past the page time limit,
        recycled to keep memory flat) with its threads from settings."""
        if self._ocr is None:
            from extractors.ocr.worker import OcrWorker

            self._ocr = OcrWorker.from_options(self.options)
        return self._ocr

    def close(self) -> None:
        if self._ocr is not None:
            self._ocr.close()
            self._ocr = None

    def __enter__(self) -> DocumentReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extract(
        self, path: Path, *, kind: str, fields: dict[str, DocField], other_labels: Sequence[str] = ()
    ) -> Extraction:
        from extractors.extract import extract_file

        return extract_file(
            path,
            kind=kind,
            fields=fields,
            other_labels=other_labels,
            options=self.options,
            ocr=_LazyOcr(self),
        )

    def facts_for(self, program: Program, case: Case, base: Path) -> dict[str, DocumentFacts]:
        """Read every document of a case that the item declares; a document that cannot be read at all
        is kept with its error (the material is then invalid: 补正)."""
        materials = {m.document_kind: m for m in program.ruleset.materials if m.document_kind}
        problems: list[dict[str, str]] = []
        facts: dict[str, DocumentFacts] = {}
        for i, ref in enumerate(case.documents):
            material = materials.get(ref.kind)
            if material is None:
                known = "、".join(sorted(materials)) or "无"
                problems.append(
                    {
                        "path": f"documents.{i}.kind",
                        "message": f"本事项不需要 {ref.kind!r} 类材料（可提交：{known}）",
                    }
                )
                continue
            target = (base / ref.path).resolve()
            if not target.is_file():
                problems.append({"path": f"documents.{i}.path", "message": f"文件不存在：{ref.path}"})
                continue
            if ref.kind in facts:
                problems.append({"path": f"documents.{i}.kind", "message": f"{ref.kind} 类材料重复提交"})
                continue
            try:
                ex = self.extract(
                    target, kind=ref.kind, fields=material.fields, other_labels=material.other_labels
                )
            except DocumentError as exc:
                facts[ref.kind] = DocumentFacts(
                    kind=ref.kind, path=ref.path, error={"code": exc.code, "message": exc.message}
                )
                continue
            facts[ref.kind] = to_facts(ex, path=ref.path)
        if problems:
            raise case_error(problems)
        return facts


class _LazyOcr:
    """Starts the OCR backend only when a page needs it (text-layer PDFs never do)."""

    name = "lazy"

    def __init__(self, reader: DocumentReader) -> None:
        self._reader = reader

    def recognise(self, image: Any) -> Any:
        return self._reader.ocr().recognise(image)


def to_facts(ex: Extraction, *, path: str) -> DocumentFacts:
    return DocumentFacts(
        kind=ex.kind,
        path=path,
        fields={name: f.value for name, f in ex.fields.items()},
        locations={
            name: {
                "page": f.page,
                "box": [round(b, 1) for b in f.box],
                "confidence": f.confidence,
                "raw": f.raw,
                **({"corrections": list(f.corrections)} if f.corrections else {}),
            }
            for name, f in ex.fields.items()
        },
        problems=[p.model_dump(exclude_none=True) for p in ex.problems],
        pages=ex.pages,
        method=ex.method,
    )
