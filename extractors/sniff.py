"""Which kind of document some bytes are, by their magic bytes only (never by the file name, which the
uploader chose). Anything that is not a PDF, PNG, JPEG or TIFF is refused with a message that says what it
looks like, so the applicant knows what to upload instead."""

from __future__ import annotations

import codecs
from typing import BinaryIO

from extractors.errors import DocumentError

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
SUPPORTED = (PDF, PNG, JPEG, TIFF)

_ACCEPTED = "请上传 PDF、PNG、JPEG 或 TIFF 文件"

_PDF_HEADER_WINDOW = 1024
"""Readers (Acrobat, PDFium) accept junk before `%PDF-` within the first kilobyte; so do we."""

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders


SAMPLE_BYTES = 65536
"""What sniffing reads of each end of a file: the magic bytes are at its head, a ZIP's directory of
entry names at its tail."""


def sample_of(file: BinaryIO, size: int) -> bytes:
    """The bytes of a file that `sniff` looks at (all of them for a small file, else its head and its
    tail), read without holding the file in memory; the file's position is left at its start."""
    file.seek(0)
    if size <= 2 * SAMPLE_BYTES:
        data = file.read()
    else:
        head = file.read(SAMPLE_BYTES)
        file.seek(size - SAMPLE_BYTES)
        data = head + file.read(SAMPLE_BYTES)
    file.seek(0)
    return data


def sniff(data: bytes) -> str:
    """The media type of `data` (one of SUPPORTED), judged by magic bytes. Raises DocumentError
    `empty_file` for no bytes and `unsupported_type` for anything else, naming what it looks like."""
    if not data:
        raise DocumentError("empty_file", "文件是空的（0 字节）")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] in _TIFF_MAGIC:
        return TIFF
    other = describe_other(data)
    if other is None and b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return PDF
    raise DocumentError(
        "unsupported_type", f"不支持的文件类型：{other or '无法识别的二进制数据'}。{_ACCEPTED}"
    )


def describe_other(data: bytes) -> str | None:
    """A short Chinese description of a file type we do not read, or None when nothing matches."""
    head = data[:16]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _describe_zip(data)
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP 图片"
    if head.startswith(b"BM") and len(data) >= 14 and data[6:10] == b"\x00\x00\x00\x00":
        return "BMP 图片"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC 图片（苹果手机照片，可在手机上导出为 JPEG）"
        if brand in (b"avif", b"avis"):
            return "AVIF 图片"
        return "视频文件（MP4/MOV）"
    return _describe_text(data)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "旧版 Office/WPS 文档（DOC/XLS/PPT/WPS）"),
    (b"Rar!\x1a\x07", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"BZh", "bzip2 压缩包"),
    (b"\xfd7zXZ\x00", "xz 压缩包"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000 图片"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 图片"),
    (b"{\\rtf", "RTF 文档"),
    (b"%!PS", "PostScript 文档"),
    (b"\x7fELF", "可执行程序（ELF）"),
    (b"MZ", "可执行程序（Windows EXE/DLL）"),
    (b"ID3", "音频文件（MP3）"),
    (b"OggS", "音频/视频文件（Ogg）"),
    (b"\x1aE\xdf\xa3", "视频文件（MKV/WebM）"),
    (b"SQLite format 3\x00", "SQLite 数据库"),
)


def _describe_zip(data: bytes) -> str:
    # The names of the first entries (local headers) and of all entries (central directory, at the end).
    names = data[:4096] + data[-65536:]
    if b"OFD.xml" in names or b"Doc_0/" in names:
        return "OFD 版式文档（可用 OFD 阅读器另存为 PDF）"
    if b"word/" in names:
        return "ZIP 压缩包（Word 文档 DOCX）"
    if b"xl/" in names:
        return "ZIP 压缩包（Excel 表格 XLSX）"
    if b"ppt/" in names:
        return "ZIP 压缩包（PowerPoint 演示文稿 PPTX）"
    if b"mimetypeapplication/vnd.oasis.opendocument" in names:
        return "ZIP 压缩包（OpenDocument 文档 ODT/ODS）"
    return "ZIP 压缩包"


def _describe_text(data: bytes) -> str | None:
    sample = data[:4096]
    for bom in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if sample.startswith(bom):
            return "文本文件"
    text = None
    for encoding in ("utf-8", "gb18030"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            break
        except UnicodeDecodeError:
            continue
    if text is None or any(ch < " " and ch not in "\t\n\r\f" for ch in text):
        return None
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html")):
        return "网页（HTML）"
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return "SVG 图形"
    if start.startswith("<?xml"):
        return "XML 文件"
    if start.startswith(("{", "[")):
        return "文本文件（JSON）"
    return "文本文件"
