"""Documents of a case, through the extractors (the adapter between them): their facts for the engine,
and their pages as images for the approvers' case page, with the page size in the unit of the
extraction boxes (so outlines can be placed on them)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.case import Case, case_error
from engine.facts import DocumentFacts
from engine.model import DocField
from engine.program import Program
from extractors.errors import DocumentError
from extractors.images import ImageFile
from extractors.model import Extraction
from extractors.options import ExtractOptions
from extractors.pdf import PdfFile
from extractors.sniff import JPEG, PDF, PNG, TIFF
from service import access
from service.errors import NotFound
from store.records import CaseDocument, CaseRow, User

if TYPE_CHECKING:
    from service.container import Services

DISPLAY_WIDTH = 1240
"""Page images are served at most this wide (pixels); outlines are placed in percent of the page."""


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


# -- stored documents as page images ---------------------------------------------------------------------
@lru_cache(maxsize=32)
def page_image(path: str, media_type: str, page: int, options: ExtractOptions) -> tuple[bytes, float, float]:
    """A page of a stored document as JPEG (at most DISPLAY_WIDTH wide) and the page's size in the unit of
    its extraction boxes: image pixels for scans, PDF points for a usable text layer, rendered pixels
    (at the configured dpi) for a PDF page that was read by OCR. Raises DocumentError."""
    data = Path(path).read_bytes()
    index = page - 1
    if media_type == PDF:
        with PdfFile(data, options=options) as pdf:
            if not 0 <= index < pdf.page_count:
                raise DocumentError("no_page", "没有该页")
            pixels = pdf.render(index, dpi=options.render_dpi, max_pixels=options.max_pixels)
            height, width = pixels.shape[:2]
            try:
                layer = pdf.read_text(index)
            except DocumentError:
                layer = None
            if layer is not None and layer.usable:
                width, height = layer.width, layer.height
    elif media_type in (PNG, JPEG, TIFF):
        with ImageFile(data, media_type=media_type, options=options) as images:
            if not 0 <= index < images.page_count:
                raise DocumentError("no_page", "没有该页")
            pixels = images.page(index)
            height, width = pixels.shape[:2]
    else:
        raise DocumentError("unsupported_type", "不支持的文件类型")
    im = Image.fromarray(pixels)
    if im.width > DISPLAY_WIDTH:
        im = im.resize((DISPLAY_WIDTH, round(im.height * DISPLAY_WIDTH / im.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=82, optimize=True)
    return buf.getvalue(), float(width), float(height)


def page_count(path: str, media_type: str, options: ExtractOptions) -> int:
    data = Path(path).read_bytes()
    if media_type == PDF:
        with PdfFile(data, options=options) as pdf:
            return int(pdf.page_count)
    with ImageFile(data, media_type=media_type, options=options) as images:
        return int(images.page_count)


@dataclass(frozen=True)
class StoredDocument:
    """A document of a case as stored (by content hash)."""

    id: int
    kind: str
    ref: str
    """The name the case gave it."""
    media_type: str
    size: int
    path: str
    """Where the content-addressed store keeps it."""


def case_documents(services: Services, session: Session, *, case_id: str) -> list[StoredDocument]:
    docs = session.scalars(
        select(CaseDocument).where(CaseDocument.case_id == case_id).order_by(CaseDocument.id)
    ).all()
    return [
        StoredDocument(
            id=d.id,
            kind=d.kind,
            ref=d.ref,
            media_type=d.media_type,
            size=d.size,
            path=str(services.blobs.path(d.sha256)),
        )
        for d in docs
    ]


def pages_of(services: Services, doc: StoredDocument) -> tuple[int, str | None]:
    """How many pages the document has, and why it cannot be opened (0 pages then)."""
    try:
        return page_count(doc.path, doc.media_type, services.settings.extract_options()), None
    except (DocumentError, OSError) as exc:
        return 0, getattr(exc, "message", None) or "文件无法打开"


def page_size(services: Services, doc: StoredDocument, page: int) -> tuple[float, float] | None:
    """The size of a page in the unit of its extraction boxes, or None when it cannot be rendered."""
    try:
        _img, width, height = page_image(doc.path, doc.media_type, page, services.settings.extract_options())
    except (DocumentError, OSError):
        return None
    return width, height


def page_jpeg(
    services: Services, session: Session, *, user: User, case_id: str, doc_id: int, page: int
) -> bytes:
    """A page of a case's document as JPEG, for a user who may see the case; read from the
    content-addressed store (the client's file name never reaches the file system)."""
    row = access.check_case(user, session.get(CaseRow, case_id), case_id)
    doc = session.get(CaseDocument, doc_id)
    if doc is None or doc.case_id != row.id:
        raise NotFound("没有该材料")
    try:
        data, _w, _h = page_image(
            str(services.blobs.path(doc.sha256)), doc.media_type, page, services.settings.extract_options()
        )
    except (DocumentError, OSError) as exc:
        raise NotFound(f"材料第 {page} 页无法显示：{getattr(exc, 'message', '文件无法读取')}") from exc
    return data
