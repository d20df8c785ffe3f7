"""Reading documents: text layers, routing to OCR, refusals with stable codes, page time limits.

Every input is generated here (reportlab, Pillow, hand-built bytes); OCR is a fake backend."""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from extractors.errors import DocumentError
from extractors.model import Line, ReadDocument, Word
from extractors.options import ExtractOptions
from extractors.reader import read_bytes, read_document
from extractors.sniff import SAMPLE_BYTES, sample_of, sniff

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))

OPTIONS = ExtractOptions(page_timeout_s=5.0)
A4_W, A4_H = A4

Text = tuple[float, float, str]  # x, y (PDF points from the bottom), text


# --- generated inputs ----------------------------------------------------------------------------------


def make_pdf(pages: Sequence[Sequence[Text]], *, encrypt: object = None, images: Sequence[int] = ()) -> bytes:
    """A PDF whose page i draws pages[i] in STSong-Light 12 pt; pages listed in `images` carry a scanned
    picture instead (no text layer)."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, encrypt=encrypt)
    for i, texts in enumerate(pages):
        if i in images:
            c.drawImage(ImageReader(scan_image()), 36, 200, width=500, height=500)
        c.setFont("STSong-Light", 12)
        for x, y, text in texts:
            c.drawString(x, y, text)
        c.showPage()
    c.save()
    return out.getvalue()


def scan_image(size: tuple[int, int] = (600, 600), mode: str = "RGB") -> Image.Image:
    """A page-like picture: white paper with dark bars where text would be."""
    im = Image.new("RGB", size, (255, 255, 255))
    arr = np.asarray(im).copy()
    for row in range(40, size[1] - 40, 60):
        arr[row : row + 20, 40 : size[0] - 40] = (20, 20, 20)
    return Image.fromarray(arr).convert(mode)


def image_bytes(im: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **save)
    return out.getvalue()


def png_header_only(width: int, height: int, *, bit_depth: int = 1, colour_type: int = 0) -> bytes:
    """A tiny PNG that declares width×height pixels but holds almost no image data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


CONTRACT = [
    (72, 760, "商品房买卖合同"),
    (72, 720, "买受人：陈晓明"),
    (72, 700, "身份证号：110101199003071234"),
    (72, 680, "总价款：1,580,000.00元"),
    (72, 660, "建筑面积 89.50 平方米"),
]


class FakeOcr:
    """Returns fixed lines; records what it was given; optionally sleeps or fails."""

    name = "fake"

    def __init__(self, lines: Sequence[Line] = (), *, delay: float = 0.0, error: Exception | None = None):
        self.lines = list(lines)
        self.delay = delay
        self.error = error
        self.images: list[np.ndarray] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def recognise(self, image: np.ndarray) -> list[Line]:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.images.append(image)
            if self.delay:
                time.sleep(self.delay)
            if self.error is not None:
                raise self.error
            return list(self.lines)
        finally:
            with self._lock:
                self.running -= 1


OCR_LINE = Line(
    text="买受人：陈晓明",
    box=(100, 200, 400, 240),
    confidence=0.97,
    words=(Word(text="买受人：陈晓明", box=(100, 200, 400, 240), confidence=0.97),),
)


def read(
    data: bytes, *, name: str = "upload", options: ExtractOptions = OPTIONS, ocr: FakeOcr | None = None
) -> ReadDocument:
    return read_bytes(data, name=name, options=options, ocr=ocr)


def code_of(data: bytes, *, options: ExtractOptions = OPTIONS, ocr: FakeOcr | None = None) -> str:
    with pytest.raises(DocumentError) as info:
        read(data, options=options, ocr=ocr)
    return info.value.code


def texts(doc: ReadDocument, page: int = 1) -> list[str]:
    return [line.text for line in doc.pages[page - 1].lines]


# --- text layer ----------------------------------------------------------------------------------------


def test_chinese_text_layer_comes_back_exactly_with_boxes() -> None:
    doc = read(make_pdf([CONTRACT]), name="contract.pdf")
    assert doc.media_type == "application/pdf"
    assert doc.method == "text"
    assert doc.problems == ()
    assert doc.path == "contract.pdf"
    (page,) = doc.pages
    assert page.number == 1 and page.method == "text"
    assert (page.width, page.height) == pytest.approx((A4_W, A4_H))
    assert texts(doc) == [
        "商品房买卖合同",
        "买受人：陈晓明",
        "身份证号：110101199003071234",
        "总价款：1,580,000.00元",
        "建筑面积 89.50 平方米",
    ]
    buyer = page.lines[1]
    x0, top, x1, bottom = buyer.box
    # drawn at x=72, baseline y=720 from the bottom, 7 glyphs of 12 pt → top-left origin, points
    assert x0 == pytest.approx(72, abs=0.5)
    assert x1 == pytest.approx(72 + 7 * 12, abs=1)
    assert top == pytest.approx(A4_H - 720 - 12 * 0.8, abs=3)
    assert bottom - top == pytest.approx(12, abs=2)
    assert buyer.confidence == 1.0 and all(w.confidence == 1.0 for w in buyer.words)
    assert [w.text for w in page.lines[4].words] == ["建筑面积", "89.50", "平方米"]
    tops = [line.box[1] for line in page.lines]
    assert tops == sorted(tops)
    for line in page.lines:
        lx0, ltop, lx1, lbottom = line.box
        assert 0 <= lx0 < lx1 <= page.width and 0 <= ltop < lbottom <= page.height
        for w in line.words:
            assert lx0 <= w.box[0] < w.box[2] <= lx1


def test_row_with_a_wide_gap_gives_two_lines_left_to_right() -> None:
    doc = read(make_pdf([[(300, 700, "出卖人：某某房地产公司"), (72, 700, "买受人：陈晓明"), *CONTRACT[:1]]]))
    assert texts(doc) == ["商品房买卖合同", "买受人：陈晓明", "出卖人：某某房地产公司"]
    assert doc.pages[0].lines[1].box[1] == pytest.approx(doc.pages[0].lines[2].box[1])


def pdf_with(draw: Callable[[canvas.Canvas], None]) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setFont("STSong-Light", 12)
    c.drawString(72, 780, "商品房买卖合同（示范文本）")
    draw(c)
    c.showPage()
    c.save()
    return out.getvalue()


def test_words_split_at_gaps_relative_to_font_size() -> None:
    """Text set without space characters (as TeX does) keeps its word breaks; justified Chinese, set
    with extra spacing between characters, is not torn into single characters."""

    def draw(c: canvas.Canvas) -> None:
        x = 72.0
        for word in ("Area", "89.50", "m2"):  # 2.5 pt apart, no space characters
            c.drawString(x, 700, word)
            x += c.stringWidth(word, "STSong-Light", 12) + 2.5
        text = c.beginText(72, 650)
        text.setFont("STSong-Light", 12)
        text.setCharSpace(2.5)
        text.textOut("买受人：陈晓明")
        c.drawText(text)

    doc = read(pdf_with(draw))
    assert texts(doc)[1:] == ["Area 89.50 m2", "买受人：陈晓明"]


def test_fake_bold_is_read_once() -> None:
    def draw(c: canvas.Canvas) -> None:
        c.drawString(72, 700, "买受人：陈晓明")
        c.drawString(72.3, 700, "买受人：陈晓明")

    assert texts(read(pdf_with(draw)))[1] == "买受人：陈晓明"


def test_kangxi_radicals_from_font_tables_are_ordinary_characters() -> None:
    def draw(c: canvas.Canvas) -> None:
        c.drawString(72, 700, "总价款：⼈⺠币壹佰伍拾捌万元整")

    assert texts(read(pdf_with(draw)))[1] == "总价款：人民币壹佰伍拾捌万元整"


def test_two_page_pdf() -> None:
    doc = read(make_pdf([CONTRACT, [(72, 760, "第二页：双方签字盖章处")]]))
    assert [p.number for p in doc.pages] == [1, 2]
    assert texts(doc, 2) == ["第二页：双方签字盖章处"]
    assert all(p.method == "text" for p in doc.pages)


def test_text_layer_page_is_fast() -> None:
    data = make_pdf([CONTRACT])
    read(data)  # warm up imports and font tables
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        read(data)
    per_page = (time.perf_counter() - start) / runs
    assert per_page < 0.05, f"{per_page * 1000:.1f} ms per text-layer page"


def test_read_document_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "合同.pdf"
    path.write_bytes(make_pdf([CONTRACT]))
    doc = read_document(path, options=OPTIONS, ocr=None)
    assert doc.path == str(path) and "买受人：陈晓明" in texts(doc)


# --- routing to OCR ------------------------------------------------------------------------------------


def test_image_only_pdf_goes_to_ocr() -> None:
    ocr = FakeOcr([OCR_LINE])
    doc = read(make_pdf([[]], images=[0]), ocr=ocr)
    assert doc.method == "ocr" and doc.problems == ()
    (page,) = doc.pages
    assert page.method == "ocr" and texts(doc) == ["买受人：陈晓明"]
    (image,) = ocr.images
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    # rendered at render_dpi; page size and boxes are in image pixels
    assert image.shape[:2] == (round(A4_H * 200 / 72), round(A4_W * 200 / 72))
    assert (page.height, page.width) == image.shape[:2]


def test_rendered_page_stays_within_the_pixel_limit() -> None:
    ocr = FakeOcr([OCR_LINE])
    doc = read(make_pdf([[]], images=[0]), options=ExtractOptions(max_pixels=1_000_000), ocr=ocr)
    h, w = ocr.images[0].shape[:2]
    assert h * w <= 1_000_000 and w / h == pytest.approx(A4_W / A4_H, rel=0.01)
    assert doc.problems == ()


def test_mixed_pdf_is_handled_per_page() -> None:
    ocr = FakeOcr([OCR_LINE])
    doc = read(make_pdf([CONTRACT, [(72, 800, "附件")]], images=[1]), ocr=ocr)
    assert [p.method for p in doc.pages] == ["text", "ocr"]
    assert doc.method == "ocr"
    assert len(ocr.images) == 1
    assert texts(doc, 1)[1] == "买受人：陈晓明" and texts(doc, 2) == ["买受人：陈晓明"]


def test_blank_page_is_not_sent_to_ocr() -> None:
    ocr = FakeOcr([OCR_LINE])
    doc = read(make_pdf([CONTRACT, []]), ocr=ocr)
    assert ocr.images == [] and doc.problems == ()
    assert doc.pages[1].lines == () and doc.method == "text"


def test_no_ocr_backend_is_a_page_problem() -> None:
    doc = read(make_pdf([CONTRACT, []], images=[1]), ocr=None)
    assert [(p.code, p.page) for p in doc.problems] == [("ocr_unavailable", 2)]
    assert texts(doc, 1)[0] == "商品房买卖合同" and doc.pages[1].lines == ()


def test_ocr_backend_error_is_a_page_problem() -> None:
    doc = read(make_pdf([[]], images=[0]), ocr=FakeOcr(error=RuntimeError("model crashed")))
    assert [(p.code, p.page) for p in doc.problems] == [("ocr_failed", 1)]


def test_ocr_timeout_is_a_page_problem_and_returns_in_time() -> None:
    options = ExtractOptions(page_timeout_s=1.0)
    ocr = FakeOcr([OCR_LINE], delay=3.0)
    start = time.monotonic()
    doc = read(make_pdf([[]], images=[0]), options=options, ocr=ocr)
    elapsed = time.monotonic() - start
    assert elapsed < options.page_timeout_s + 1.0
    assert [(p.code, p.page) for p in doc.problems] == [("timeout", 1)]
    assert doc.pages[0].lines == () and doc.pages[0].method == "ocr"


def test_abandoned_ocr_call_is_never_overlapped() -> None:
    options = ExtractOptions(page_timeout_s=0.5)
    ocr = FakeOcr([OCR_LINE], delay=0.8)
    start = time.monotonic()
    doc = read(make_pdf([[], []], images=[0, 1]), options=options, ocr=ocr)
    assert time.monotonic() - start < 2 * options.page_timeout_s + 1.0
    assert ocr.max_running == 1
    assert [p.code for p in doc.problems] == ["timeout", "timeout"]


# --- images --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_images_go_to_ocr_as_rgb(fmt: str) -> None:
    ocr = FakeOcr([OCR_LINE])
    doc = read(image_bytes(scan_image((500, 700), "L"), fmt), ocr=ocr)
    assert doc.media_type == f"image/{fmt.lower()}" and doc.method == "ocr"
    (image,) = ocr.images
    assert image.shape == (700, 500, 3) and image.dtype == np.uint8
    assert (doc.pages[0].width, doc.pages[0].height) == (500, 700)


def test_blank_image_and_missing_backend() -> None:
    blank = image_bytes(Image.new("RGB", (500, 500), (255, 255, 255)), "PNG")
    ocr = FakeOcr([OCR_LINE])
    doc = read(blank, ocr=ocr)
    assert ocr.images == [] and doc.pages[0].lines == () and doc.problems == ()
    doc = read(image_bytes(scan_image((500, 500)), "PNG"), ocr=None)
    assert [(p.code, p.page) for p in doc.problems] == [("ocr_unavailable", 1)]


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    ocr = FakeOcr()
    read(image_bytes(scan_image((800, 500)), "JPEG", exif=exif), ocr=ocr)
    assert ocr.images[0].shape[:2] == (800, 500)


def test_transparent_png_is_put_on_white_paper() -> None:
    im = scan_image((500, 500)).convert("RGBA")
    arr = np.asarray(im).copy()
    arr[:, :250, 3] = 0  # left half transparent (its RGB is black under the alpha)
    arr[:, :250, :3] = 0
    ocr = FakeOcr()
    read(image_bytes(Image.fromarray(arr, "RGBA"), "PNG"), ocr=ocr)
    assert (ocr.images[0][:, :250] == 255).all()


def test_multi_page_tiff_gives_several_pages() -> None:
    frames = [scan_image((500, 600)), scan_image((600, 500))]
    data = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    ocr = FakeOcr([OCR_LINE])
    doc = read(data, ocr=ocr)
    assert [p.number for p in doc.pages] == [1, 2] and len(ocr.images) == 2
    assert ocr.images[1].shape == (500, 600, 3)


def test_big_endian_tiff_is_recognised() -> None:
    frames = image_bytes(scan_image((500, 500)), "TIFF")
    assert sniff(frames) == "image/tiff"
    assert sniff(b"MM\x00*" + frames[4:]) == "image/tiff"


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_header_only(20000, 20000)
    assert len(bomb) < 200
    start = time.monotonic()
    assert code_of(bomb) == "decompression_bomb"
    assert time.monotonic() - start < 0.5


def test_pixel_limit_comes_from_the_options() -> None:
    small_limit = ExtractOptions(max_pixels=1_000_000)
    data = png_header_only(1200, 1200)  # 1.44 Mpx: below Pillow's default, above this limit
    assert code_of(data, options=small_limit) == "decompression_bomb"


def test_tiny_image_is_too_small() -> None:
    assert code_of(image_bytes(scan_image((100, 80)), "PNG")) == "too_small"


def test_truncated_jpeg_is_corrupt() -> None:
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 255, (600, 600, 3), dtype=np.uint8))
    data = image_bytes(noisy, "JPEG", quality=90)
    assert code_of(data[: len(data) // 2], ocr=FakeOcr()) == "corrupt_image"


# --- refusals ------------------------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    assert code_of(b"") == "empty_file"
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(DocumentError) as info:
        read_document(path, options=OPTIONS, ocr=None)
    assert info.value.code == "empty_file"


def test_missing_file_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as info:
        read_document(tmp_path / "nope.pdf", options=OPTIONS, ocr=None)
    assert info.value.code == "unreadable_file"


def test_too_large(tmp_path: Path) -> None:
    data = make_pdf([CONTRACT])
    limit = ExtractOptions(max_bytes=len(data) - 1)
    assert code_of(data, options=limit) == "too_large"
    path = tmp_path / "big.pdf"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as info:
        read_document(path, options=limit, ocr=None)
    assert info.value.code == "too_large"


def test_magic_bytes_win_over_the_file_name(tmp_path: Path) -> None:
    png_as_pdf = tmp_path / "scan.pdf"
    png_as_pdf.write_bytes(image_bytes(scan_image((500, 500)), "PNG"))
    doc = read_document(png_as_pdf, options=OPTIONS, ocr=FakeOcr([OCR_LINE]))
    assert doc.media_type == "image/png" and doc.method == "ocr"

    pdf_as_png = tmp_path / "contract.png"
    pdf_as_png.write_bytes(make_pdf([CONTRACT]))
    doc = read_document(pdf_as_png, options=OPTIONS, ocr=None)
    assert doc.media_type == "application/pdf" and doc.method == "text"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"GIF89a" + b"\x00" * 40, "GIF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "DOC"),
        ("买受人：陈晓明\n总价款：1,580,000.00元\n".encode(), "文本"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "HEIC"),
    ],
)
def test_unsupported_types_say_what_they_look_like(data: bytes, named: str) -> None:
    with pytest.raises(DocumentError) as info:
        read(data)
    assert info.value.code == "unsupported_type" and named in info.value.message


def test_zip_and_docx_are_unsupported() -> None:
    for names, named in ((["a.txt"], "ZIP"), (["[Content_Types].xml", "word/document.xml"], "DOCX")):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for n in names:
                z.writestr(n, "x")
        with pytest.raises(DocumentError) as info:
            read(out.getvalue())
        assert info.value.code == "unsupported_type" and named in info.value.message


def test_an_uploads_sample_is_judged_as_the_whole_file() -> None:
    """Uploads are sniffed from their head and tail (sample_of), never read whole: a large DOCX, whose
    entry names are listed at its end, is still named; a large PDF is still a PDF."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("[Content_Types].xml", "x")
        z.writestr("media/image1.bin", os.urandom(600_000))
        z.writestr("word/document.xml", "x")
    docx = out.getvalue()
    pdf = make_pdf([CONTRACT]) + b"%" + b"0" * 500_000
    for data in (docx, pdf, make_pdf([CONTRACT])):
        file = io.BytesIO(data)
        sample = sample_of(file, len(data))
        assert len(sample) <= 2 * SAMPLE_BYTES and file.tell() == 0
        try:
            whole: object = sniff(data)
        except DocumentError as exc:
            whole = exc.message
        try:
            judged: object = sniff(sample)
        except DocumentError as exc:
            judged = exc.message
        assert judged == whole


def test_truncated_pdf_is_corrupt() -> None:
    data = make_pdf([CONTRACT])
    for cut in (20, len(data) // 2, len(data) - 40):
        assert code_of(data[:cut]) == "corrupt_pdf"


def test_encrypted_pdf_is_refused() -> None:
    assert code_of(make_pdf([CONTRACT], encrypt="secret")) == "encrypted_pdf"


def test_pdf_with_only_an_owner_password_is_read() -> None:
    """Permission-only encryption (empty user password) opens in any viewer without a password; pdfminer
    cannot map its CJK glyphs, so PDFium's text is used."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    doc = read(make_pdf([CONTRACT], encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0)))
    assert doc.method == "text" and "总价款：1,580,000.00元" in texts(doc)


def test_too_many_pages() -> None:
    options = ExtractOptions(max_pages=3)
    assert code_of(make_pdf([CONTRACT] * 4), options=options) == "too_many_pages"
    assert len(read(make_pdf([CONTRACT] * 3), options=options).pages) == 3
    frames = [scan_image((500, 500))] * 4
    tiff = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    assert code_of(tiff, options=options) == "too_many_pages"


# --- never crash on bad input --------------------------------------------------------------------------

_VALID = [
    make_pdf([CONTRACT]),
    image_bytes(scan_image((420, 420)), "PNG"),
    image_bytes(scan_image((420, 420)), "JPEG"),
    image_bytes(scan_image((420, 420)), "TIFF"),
]
_MAGIC = [b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"PK\x03\x04"]


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["random", "magic", "mutated", "truncated"]))
    if kind == "random":
        return draw(st.binary(max_size=2048))
    if kind == "magic":
        return draw(st.sampled_from(_MAGIC)) + draw(st.binary(max_size=2048))
    base = bytearray(draw(st.sampled_from(_VALID)))
    if kind == "truncated":
        return bytes(base[: draw(st.integers(0, len(base)))])
    for _ in range(draw(st.integers(1, 8))):
        base[draw(st.integers(0, len(base) - 1))] = draw(st.integers(0, 255))
    return bytes(base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile_bytes())
def test_hostile_bytes_only_ever_raise_document_error(data: bytes) -> None:
    options = ExtractOptions(page_timeout_s=5.0, min_side_px=16)
    try:
        doc = read(data, options=options, ocr=FakeOcr([OCR_LINE]))
    except DocumentError as exc:
        assert exc.code and exc.message
    else:
        assert isinstance(doc, ReadDocument) and doc.pages
