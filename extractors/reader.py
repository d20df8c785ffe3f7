"""Read a document (PDF, PNG, JPEG, TIFF) into its text: ReadDocument → Page → Line → Word.

PDF pages with a text layer are read from it (method "text", ~ms per page); pages without one, and
images, are rendered to RGB and sent to the OCR backend (method "ocr"), each page under a time limit.
Whole-document failures raise DocumentError; a page that cannot be read becomes a Problem with its page
number and the other pages are still read. Nothing here knows about HTTP or the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from extractors.errors import DocumentError
from extractors.images import ImageFile
from extractors.model import Line, Method, Page, Problem, ReadDocument
from extractors.options import ExtractOptions
from extractors.pdf import PdfFile
from extractors.sniff import PDF, sniff

if TYPE_CHECKING:
    from extractors.ocr.base import OcrBackend

__all__ = ["read_bytes", "read_document"]

T = TypeVar("T")

BLANK_LEVEL = 200
"""A rendered page or image with no channel value below this anywhere is blank paper: OCR is skipped."""


def read_document(path: Path, *, options: ExtractOptions, ocr: OcrBackend | None) -> ReadDocument:
    """Read the file at `path`. The type comes from its magic bytes, never from its suffix."""
    data = _read_file(Path(path), max_bytes=options.max_bytes)
    return read_bytes(data, name=str(path), options=options, ocr=ocr)


def read_bytes(data: bytes, *, name: str, options: ExtractOptions, ocr: OcrBackend | None) -> ReadDocument:
    """Read an uploaded document held in memory. `name` is only recorded (ReadDocument.path); it never
    reaches the file system. Raises DocumentError only: anything unexpected from the PDF and image
    libraries is turned into one with a code."""
    if len(data) > options.max_bytes:
        raise _too_large(len(data), options.max_bytes)
    media_type = sniff(data)
    try:
        if media_type == PDF:
            pages, problems = _read_pdf(data, options=options, ocr=ocr)
        else:
            pages, problems = _read_images(data, media_type=media_type, options=options, ocr=ocr)
    except DocumentError:
        raise
    except MemoryError as exc:
        raise DocumentError("too_large", "文件太大，内存不足以读取") from exc
    except Exception as exc:
        code = "corrupt_pdf" if media_type == PDF else "corrupt_image"
        raise DocumentError(code, f"文件无法读取（{type(exc).__name__}）") from exc
    method: Method = "ocr" if any(p.method == "ocr" for p in pages) else "text"
    return ReadDocument(
        path=name, media_type=media_type, method=method, pages=tuple(pages), problems=tuple(problems)
    )


def _read_file(path: Path, *, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(size, max_bytes)
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat()
    except DocumentError:
        raise
    except FileNotFoundError as exc:
        raise DocumentError("unreadable_file", f"文件不存在：{path.name}") from exc
    except OSError as exc:
        raise DocumentError("unreadable_file", f"文件无法读取：{path.name}（{exc.strerror or exc}）") from exc
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    return data


def _too_large(size: int, limit: int) -> DocumentError:
    return DocumentError("too_large", f"文件太大（{size / 2**20:.1f} MiB），上限 {limit / 2**20:.0f} MiB")


def _read_pdf(
    data: bytes, *, options: ExtractOptions, ocr: OcrBackend | None
) -> tuple[list[Page], list[Problem]]:
    problems: list[Problem] = []
    with PdfFile(data, options=options) as pdf:
        pages = [
            _read_pdf_page(pdf, index, options=options, ocr=ocr, problems=problems)
            for index in range(pdf.page_count)
        ]
    return pages, problems


def _read_pdf_page(
    pdf: PdfFile, index: int, *, options: ExtractOptions, ocr: OcrBackend | None, problems: list[Problem]
) -> Page:
    """The text layer when it has enough text, else the rendered page through OCR; blank pages skip
    OCR. Text-layer boxes are in PDF points, OCR boxes in rendered pixels (each page's width and
    height are in the same unit as its boxes)."""
    number = index + 1
    start = time.monotonic()
    deadline = start + options.page_timeout_s

    def empty(method: Method, width: float = 0.0, height: float = 0.0) -> Page:
        return Page(number=number, width=width, height=height, method=method, seconds=_since(start))

    try:
        layer = _call_with_deadline(partial(pdf.read_text, index), deadline, name="pdf-text")
    except TimeoutError:
        pdf.discard_text_reader()  # the abandoned thread may still be using it
        problems.append(Problem(code="timeout", message="读取文字层超过时间限制，本页已放弃", page=number))
        return empty("text")
    except DocumentError as exc:
        problems.append(_problem(exc, number))
        return empty("text")
    if layer.usable:
        return Page(
            number=number,
            width=layer.width,
            height=layer.height,
            method="text",
            lines=layer.lines,
            seconds=_since(start),
        )
    try:
        image = pdf.render(index, dpi=options.render_dpi, max_pixels=options.max_pixels)
    except DocumentError as exc:
        problems.append(_problem(exc, number))
        return empty("ocr", layer.width, layer.height)
    if is_blank(image):
        return empty("text", layer.width, layer.height)
    return _ocr_page(image, number=number, start=start, deadline=deadline, ocr=ocr, problems=problems)


def _read_images(
    data: bytes, *, media_type: str, options: ExtractOptions, ocr: OcrBackend | None
) -> tuple[list[Page], list[Problem]]:
    pages: list[Page] = []
    problems: list[Problem] = []
    with ImageFile(data, media_type=media_type, options=options) as images:
        for index in range(images.page_count):
            number = index + 1
            start = time.monotonic()
            try:
                image = images.page(index)
            except DocumentError as exc:
                # One image, or a bomb anywhere: the document is refused. A bad frame of a multi-page
                # TIFF only loses that page.
                if images.page_count == 1 or exc.code == "decompression_bomb":
                    raise
                problems.append(_problem(exc, number))
                pages.append(Page(number=number, width=0, height=0, method="ocr", seconds=_since(start)))
                continue
            deadline = start + options.page_timeout_s
            if is_blank(image):
                h, w = image.shape[:2]
                pages.append(Page(number=number, width=w, height=h, method="ocr", seconds=_since(start)))
                continue
            pages.append(
                _ocr_page(image, number=number, start=start, deadline=deadline, ocr=ocr, problems=problems)
            )
    return pages, problems


def _ocr_page(
    image: np.ndarray,
    *,
    number: int,
    start: float,
    deadline: float,
    ocr: OcrBackend | None,
    problems: list[Problem],
) -> Page:
    """OCR one page image under the page's deadline; failures become Problems and an empty page.
    Boxes and the page size are in image pixels."""
    height, width = image.shape[:2]

    def page(lines: tuple[Line, ...] = ()) -> Page:
        return Page(
            number=number, width=width, height=height, method="ocr", lines=lines, seconds=_since(start)
        )

    if ocr is None:
        problems.append(
            Problem(
                code="ocr_unavailable",
                message="本页需要 OCR 识别（没有可用的文字层），但未配置 OCR 引擎",
                page=number,
            )
        )
        return page()
    try:
        result = _recognise_with_deadline(ocr, image, deadline)
    except TimeoutError:
        problems.append(
            Problem(
                code="timeout",
                message=f"OCR 识别超过时间限制（{deadline - start:.0f} 秒），本页已放弃",
                page=number,
            )
        )
        return page()
    except DocumentError as exc:
        problems.append(_problem(exc, number))
        return page()
    except Exception as exc:
        problems.append(
            Problem(code="ocr_failed", message=f"OCR 识别失败（{type(exc).__name__}）", page=number)
        )
        return page()
    if not isinstance(result, list | tuple) or not all(isinstance(line, Line) for line in result):
        problems.append(Problem(code="ocr_failed", message="OCR 引擎返回的结果格式不对", page=number))
        return page()
    return page(tuple(result))


# --- deadlines -----------------------------------------------------------------------------------------

_BACKEND_LOCKS: dict[int, threading.Lock] = {}
_BACKEND_LOCKS_GUARD = threading.Lock()


def _backend_lock(ocr: object) -> threading.Lock:
    """One lock per backend object: a call abandoned past its deadline may still be running, and the
    next page must not call the same backend concurrently (a worker-process backend talks over one pipe).
    Keyed by id(): a running call keeps its backend alive, so a reused id only ever finds a free lock."""
    with _BACKEND_LOCKS_GUARD:
        lock = _BACKEND_LOCKS.get(id(ocr))
        if lock is None:
            lock = _BACKEND_LOCKS[id(ocr)] = threading.Lock()
        return lock


def _recognise_with_deadline(ocr: OcrBackend, image: np.ndarray, deadline: float) -> list[Line]:
    lock = _backend_lock(ocr)
    if not lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
        raise TimeoutError("OCR backend still busy with an abandoned call")

    def call() -> list[Line]:
        try:
            return ocr.recognise(image)
        finally:
            lock.release()

    return _call_with_deadline(call, deadline, name="ocr-page", on_start_failure=lock.release)


def _call_with_deadline(
    fn: Callable[[], T],
    deadline: float,
    *,
    name: str,
    on_start_failure: Callable[[], None] | None = None,
) -> T:
    """Run `fn` in a daemon thread and wait until `deadline` (time.monotonic()); raise TimeoutError
    past it. Python cannot kill a thread: an abandoned call keeps running until it returns. That is
    why the OCR backend lives in a worker process that the backend itself kills on its own deadline;
    here we only stop waiting. A daemon thread (not a ThreadPoolExecutor, whose threads are joined at
    interpreter exit) means a hung call never blocks the process from exiting."""
    done = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    try:
        thread.start()
    except BaseException:
        if on_start_failure is not None:
            on_start_failure()
        raise
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise TimeoutError(f"{name} exceeded its deadline")
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome["value"]  # type: ignore[return-value]


# --- helpers -------------------------------------------------------------------------------------------


def is_blank(image: np.ndarray) -> bool:
    """True when no pixel of the image has any channel darker than BLANK_LEVEL (blank paper)."""
    return not bool((image < BLANK_LEVEL).any())


def _problem(exc: DocumentError, page: int) -> Problem:
    return Problem(code=exc.code, message=exc.message, page=exc.page or page)


def _since(start: float) -> float:
    return round(time.monotonic() - start, 6)
