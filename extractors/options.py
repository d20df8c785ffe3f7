"""Limits and choices for reading documents. Built from the application settings by the caller
(the one place for settings is service.settings); the defaults suit a 2-core machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractOptions:
    max_bytes: int = 30 * 2**20
    """Largest file accepted."""
    max_pages: int = 20
    """Documents with more pages are refused (too_many_pages)."""
    max_pixels: int = 80_000_000
    """Pillow's decompression-bomb limit for one image or rendered page."""
    min_side_px: int = 400
    """An image whose shorter side is below this cannot be read (too_small)."""
    page_timeout_s: float = 20.0
    """Time limit for reading one page; past it the page is abandoned (timeout)."""
    render_dpi: int = 200
    """Resolution at which PDF pages without a text layer are rendered for OCR."""
    ocr_backend: str = "rapidocr"
    """`rapidocr` (PP-OCR models shipped in the rapidocr wheel, onnxruntime) or `paddleocr`."""
    ocr_threads: int = 2
    """Threads for the OCR runtime (intra-op)."""
    photo_correction: bool = True
    """Images that are phone photos of a page (background around it, perspective) have the page found,
    rectified, their light evened out and are turned upright before OCR (extractors/photo.py); flat
    scans are left as they are."""
