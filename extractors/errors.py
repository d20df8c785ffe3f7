"""Typed errors of document reading, each with a stable code."""

from __future__ import annotations


class DocumentError(Exception):
    """A document that cannot be read at all. Codes: empty_file, too_large, unsupported_type,
    corrupt_pdf, encrypted_pdf, too_many_pages, decompression_bomb, too_small, corrupt_image,
    unreadable_file (and, per page: timeout, ocr_unavailable, ocr_failed)."""

    def __init__(self, code: str, message: str, *, page: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.page = page

    def __str__(self) -> str:
        where = f"第 {self.page} 页：" if self.page else ""
        return f"{where}{self.message}（{self.code}）"
