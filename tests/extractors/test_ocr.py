"""OCR backends and the OCR worker, on real PP-OCR models and committed images (rendered once by
`benchmarks/ocr_speed.py --write-test-data`, so no font is needed here).

The paddleocr tests run when the `paddle` extra is installed (`make paddle-env` builds .venv-paddle,
`make test-paddle` runs them there) and are skipped when the `paddleocr` package is absent, unless
MIAOPI_REQUIRE_PADDLE=1 is set: then its absence fails them."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from extractors.errors import DocumentError
from extractors.model import Line
from extractors.ocr import BACKENDS, OcrBackend, OcrCrashed, OcrError, OcrTimeout, OcrWorker, get_backend
from extractors.ocr.base import check_image, order_lines, quad_to_box, split_words

DATA = Path(__file__).parent / "data"
LINE_TEXT = "总价款：1,580,000.00元"
PAGE_EXPECTED = [
    "房屋买卖合同",
    "合同编号：京2024-031586",
    "出卖人：北京安居置业有限公司",
    "买受人：陈晓明",
    "证件号码：110101199003071234",
    "房屋坐落：北京市朝阳区建国路88号3号楼2单元1502室",
    "建筑面积：89.56平方米",
    "总价款：1,580,000.00元",
    "大写：人民币壹佰伍拾捌万元整",
    "签订日期：2024年3月15日",
]


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


@pytest.fixture(scope="module")
def line_image() -> np.ndarray:
    return load("ocr_line.png")


@pytest.fixture(scope="module")
def page_image() -> np.ndarray:
    return load("ocr_page.jpg")


@pytest.fixture(scope="module")
def rapid() -> OcrBackend:
    return get_backend("rapidocr", threads=2)


@pytest.fixture(scope="module")
def rapid_page(rapid: OcrBackend, page_image: np.ndarray) -> list[Line]:
    return rapid.recognise(page_image)


def texts(lines: list[Line]) -> list[str]:
    return [line.text for line in lines]


def printed(lines: list[Line]) -> list[str]:
    """The lines' texts without symbol-only ones (the seal's star is read as '★')."""
    return [line.text for line in lines if any(ch.isalnum() for ch in line.text)]


def nfkc(items: list[str]) -> list[str]:
    """Full-width and half-width punctuation compared alike ('：' and ':')."""
    return [unicodedata.normalize("NFKC", t) for t in items]


def inside(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 3.0) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


# -- the factory and the geometry helpers -----------------------------------------------------
def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown OCR backend 'tesseract'") as err:
        get_backend("tesseract", threads=1)
    for name in BACKENDS:
        assert name in str(err.value)


def test_images_are_checked() -> None:
    with pytest.raises(ValueError, match="uint8"):
        check_image(np.zeros((50, 50, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        check_image(np.zeros((50, 50, 5), dtype=np.uint8))
    assert check_image(np.zeros((50, 40), dtype=np.uint8)).shape == (50, 40, 3)
    assert check_image(np.zeros((50, 40, 4), dtype=np.uint8)).shape == (50, 40, 3)


def test_quads_become_axis_aligned_boxes() -> None:
    assert quad_to_box([[10, 12], [100, 8], [101, 40], [11, 44]]) == (10.0, 8.0, 101.0, 44.0)


def test_proportional_word_boxes_split_cjk_characters_and_keep_numbers_whole() -> None:
    words = split_words("价款：1,580.00元", (0.0, 0.0, 140.0, 20.0), 0.9)
    assert [w.text for w in words] == ["价", "款", "：", "1,580.00", "元"]
    # CJK characters count double: 4 wide (8 units) + 8 narrow = 16 units over 140 px
    assert words[0].box == (0.0, 0.0, 17.5, 20.0)
    assert words[3].box == (52.5, 0.0, 122.5, 20.0)
    assert all(w.confidence == 0.9 for w in words)


def test_reading_order_is_rows_then_left_to_right_even_when_tilted() -> None:
    def line(text: str, box: tuple[float, float, float, float]) -> Line:
        return Line(text=text, box=box, confidence=1.0)

    # a page tilted ~2°: the right half of row 1 sits lower than the left half of row 1
    right1 = line("b", (600, 112, 1000, 140))
    left1 = line("a", (100, 100, 500, 128))
    row2 = line("c", (100, 160, 1000, 190))
    assert texts(order_lines([row2, right1, left1])) == ["a", "b", "c"]


def test_a_seal_between_two_lines_does_not_merge_them_into_one_row() -> None:
    date = Line(text="签订日期", box=(136, 1178, 451, 1223), confidence=1.0)
    seal = Line(text="★", box=(843, 1184, 924, 1253), confidence=1.0)
    signatures = Line(text="出卖人（签章）", box=(134, 1226, 701, 1276), confidence=1.0)
    assert texts(order_lines([signatures, seal, date])) == ["签订日期", "★", "出卖人（签章）"]


# -- rapidocr ---------------------------------------------------------------------------------
def test_rapidocr_uses_the_models_shipped_in_its_wheel() -> None:
    import rapidocr

    from extractors.ocr.rapid import bundled_models

    package = Path(rapidocr.__file__).resolve().parent
    for path in bundled_models().values():
        assert path.is_file()
        assert path.parent == package / "models"


def test_rapidocr_never_reaches_the_network(monkeypatch: pytest.MonkeyPatch, line_image: np.ndarray) -> None:
    from rapidocr.utils import download_file

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(refuse))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    backend = get_backend("rapidocr", threads=1)
    assert texts(backend.recognise(line_image)) == [LINE_TEXT]


def test_rapidocr_reads_a_line_exactly_with_boxes(rapid: OcrBackend, line_image: np.ndarray) -> None:
    lines = rapid.recognise(line_image)
    assert texts(lines) == [LINE_TEXT]
    line = lines[0]
    h, w = line_image.shape[:2]
    assert inside(line.box, (0, 0, w, h), slack=0)
    assert line.confidence > 0.9
    assert "".join(word.text for word in line.words) == LINE_TEXT.replace(" ", "")
    assert all(inside(word.box, line.box) for word in line.words)
    lefts = [word.box[0] for word in line.words]
    assert lefts == sorted(lefts)


def test_rapidocr_reads_a_scanned_page_in_reading_order(rapid_page: list[Line]) -> None:
    all_lines = rapid_page
    assert "★" in texts(all_lines)  # the seal, read as a symbol: kept, callers may ignore it
    lines = [line for line in all_lines if line.text != "★"]
    assert texts(lines) == PAGE_EXPECTED
    tops = [line.box[1] for line in lines]
    assert tops == sorted(tops)
    price = lines[PAGE_EXPECTED.index(LINE_TEXT)]
    # the price line sits at about 60 % of the page width's left third, 1/3 down the page
    assert 60 < price.box[0] < 110 and 350 < price.box[1] < 400
    assert all(0 <= line.confidence <= 1 for line in lines)


def test_rapidocr_reads_a_page_scanned_upside_down(
    rapid: OcrBackend, page_image: np.ndarray, rapid_page: list[Line]
) -> None:
    turned = np.ascontiguousarray(page_image[::-1, ::-1])
    lines = rapid.recognise(turned)
    assert printed(lines) == PAGE_EXPECTED
    h, w = page_image.shape[:2]
    price = next(line for line in lines if line.text == LINE_TEXT)
    upright = next(line for line in rapid_page if line.text == LINE_TEXT)
    # boxes are in the coordinates of the image as given (turned), i.e. mirrored
    assert abs(price.box[0] - (w - upright.box[2])) < 6
    assert abs(price.box[1] - (h - upright.box[3])) < 6


def test_packed_batches_hold_lines_of_similar_width() -> None:
    from extractors.ocr.rapid import PackedRecognizer

    packer = PackedRecognizer(None, max_batch=3, spread=1.3)
    ratios = [20.0, 1.5, 1.6, 8.0, 1.4, 9.0, 1.7, 1.45, 25.0]
    batches = packer.batches(ratios)
    assert batches == [[4, 7, 1], [2, 6], [3, 5], [0, 8]]
    assert sorted(i for batch in batches for i in batch) == list(range(len(ratios)))
    for batch in batches:
        assert max(ratios[i] for i in batch) <= 1.3 * min(ratios[i] for i in batch)


def test_packed_recognition_reads_the_page_as_rapidocr_batching_does(
    rapid_page: list[Line], page_image: np.ndarray
) -> None:
    plain = get_backend("rapidocr", threads=2, rec_packing=False)
    assert printed(plain.recognise(page_image)) == printed(rapid_page) == PAGE_EXPECTED


def test_parallel_recognition_reads_the_page_as_sequential_recognition_does(
    rapid: OcrBackend, rapid_page: list[Line], page_image: np.ndarray
) -> None:
    from extractors.ocr.rapid import PackedRecognizer, RapidOcrBackend

    assert isinstance(rapid, RapidOcrBackend)
    recogniser = rapid._engine.text_rec
    assert isinstance(recogniser, PackedRecognizer) and recogniser.workers == 2
    assert recogniser._pool is not None  # the page above was read through the pool
    sequential = get_backend("rapidocr", threads=2, rec_parallel=False)
    assert sequential._engine.text_rec.workers == 1  # type: ignore[attr-defined]
    lines = sequential.recognise(page_image)
    assert [(ln.text, ln.box) for ln in lines] == [(ln.text, ln.box) for ln in rapid_page]
    assert [ln.confidence for ln in lines] == pytest.approx([ln.confidence for ln in rapid_page], abs=1e-3)
    assert [[w.box for w in ln.words] for ln in lines] == [[w.box for w in ln.words] for ln in rapid_page]


def test_word_boxes_are_rapidocrs_own_without_its_corner_reordering(
    rapid_page: list[Line], page_image: np.ndarray
) -> None:
    from rapidocr.cal_rec_boxes.main import CalRecBoxes

    own = get_backend("rapidocr", threads=2)
    own._engine.cal_rec_boxes.order_points = CalRecBoxes.order_points  # type: ignore[attr-defined]
    lines = own.recognise(page_image)
    assert [[(w.text, w.box) for w in ln.words] for ln in lines] == [
        [(w.text, w.box) for w in ln.words] for ln in rapid_page
    ]
    assert sum(len(ln.words) for ln in lines) > 2 * len(
        lines
    )  # the recogniser's boxes, not proportional ones


def test_rapidocr_finds_nothing_on_a_blank_page(rapid: OcrBackend) -> None:
    assert rapid.recognise(np.full((600, 400, 3), 255, dtype=np.uint8)) == []


# -- the worker -------------------------------------------------------------------------------
def test_worker_is_a_backend_and_reads_like_one(rapid: OcrBackend, line_image: np.ndarray) -> None:
    with OcrWorker("rapidocr", threads=2, timeout=60) as w:
        assert isinstance(w, OcrBackend)
        assert w.name == "rapidocr"
        assert w.recognise(line_image) == rapid.recognise(line_image)


def wait_until_dead(w: OcrWorker) -> None:
    deadline = time.monotonic() + 10
    while w.pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_worker_replaces_a_process_killed_between_pages(line_image: np.ndarray) -> None:
    with OcrWorker("rapidocr", threads=1, timeout=60) as w:
        assert texts(w.recognise(line_image)) == [LINE_TEXT]
        first = w.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until_dead(w)
        assert texts(w.recognise(line_image)) == [LINE_TEXT]
        assert w.pid not in (None, first)
        assert w.starts == 2


def test_worker_crash_mid_page_raises_then_recovers(page_image: np.ndarray, line_image: np.ndarray) -> None:
    with OcrWorker("rapidocr", threads=1, timeout=60) as w:
        w.start()
        pid = w.pid
        assert pid is not None
        big = np.ascontiguousarray(np.tile(page_image, (2, 2, 1)))  # long enough to be killed mid-way
        killer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(OcrCrashed) as err:
                w.recognise(big)
        finally:
            killer.cancel()
        assert err.value.code == "ocr_failed"
        assert isinstance(err.value, DocumentError)
        assert texts(w.recognise(line_image)) == [LINE_TEXT]
        assert w.pid != pid


def test_worker_timeout_kills_the_process_and_the_next_page_works(
    page_image: np.ndarray, line_image: np.ndarray
) -> None:
    with OcrWorker("rapidocr", threads=1, timeout=60) as w:
        w.start()
        pid = w.pid
        with pytest.raises(OcrTimeout) as err:
            w.recognise(page_image, timeout=0.05)
        assert err.value.code == "timeout"
        assert w.pid is None  # killed, not left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid or 0, 0)
        assert texts(w.recognise(line_image)) == [LINE_TEXT]


def test_worker_recycles_its_process_after_n_pages(line_image: np.ndarray) -> None:
    with OcrWorker("rapidocr", threads=1, recycle_after=2, timeout=60) as w:
        w.recognise(line_image)
        first = w.pid
        w.recognise(line_image)  # the second page ends the first process
        assert w.pid is None
        w.recognise(line_image)
        assert w.pid not in (None, first)
        assert (w.starts, w.pages_total) == (2, 3)


_PARENT = """
import sys
import numpy as np
from PIL import Image
from extractors.ocr.worker import OcrWorker

page = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
big = np.ascontiguousarray(np.tile(page, (2, 2, 1)))  # a few seconds of OCR
if __name__ == "__main__":
    worker = OcrWorker("rapidocr", threads=1, timeout=120)
    worker.start()
    print(worker.pid, flush=True)
    worker.recognise(big)
"""


def test_an_ocr_process_whose_parent_is_killed_mid_page_exits_quietly(tmp_path: Path) -> None:
    """A worker killed with SIGKILL while its OCR process reads a page: the orphan finishes the page,
    finds nobody to send it to and exits without a word (it used to log a BrokenPipeError traceback
    into the server's log)."""
    from process_kit import wait_gone

    script = tmp_path / "parent.py"  # spawn re-imports the parent's main module: a file, not -c
    script.write_text(_PARENT, encoding="utf-8")
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        parent = subprocess.Popen(
            [sys.executable, str(script), str(DATA / "ocr_page.jpg")],
            stdout=subprocess.PIPE,
            stderr=err,  # inherited by the OCR process
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        assert parent.stdout is not None
        ocr_pid = int(parent.stdout.readline())
        time.sleep(0.5)  # the page has been sent: the OCR process is reading it
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert not wait_gone([ocr_pid], 90), "the orphaned OCR process did not exit"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and "BrokenPipe" not in text, text


def test_worker_reports_a_backend_that_cannot_start() -> None:
    with OcrWorker("no-such-backend", threads=1) as w, pytest.raises(OcrError, match="unknown OCR backend"):
        w.start()


def test_paddle_backend_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # paddleocr made unimportable (a None entry in sys.modules), so this runs with or without it
    monkeypatch.setitem(sys.modules, "paddleocr", None)
    monkeypatch.setenv("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # restored afterwards
    with pytest.raises(ImportError, match="pip install"):
        get_backend("paddleocr", threads=1)


# -- paddleocr (the `paddle` extra; fixtures in conftest.py) ----------------------------------
def test_paddle_tests_fail_rather_than_skip_when_required(
    monkeypatch: pytest.MonkeyPatch, paddle_gate: Callable[[], None]
) -> None:
    real_find_spec = importlib.util.find_spec

    def without_paddle(name: str, *args: Any) -> Any:
        return None if name == "paddleocr" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_paddle)
    monkeypatch.delenv("MIAOPI_REQUIRE_PADDLE", raising=False)
    with pytest.raises(pytest.skip.Exception):
        paddle_gate()
    monkeypatch.setenv("MIAOPI_REQUIRE_PADDLE", "1")
    with pytest.raises(pytest.fail.Exception, match="make paddle-env"):
        paddle_gate()


def test_paddle_model_folders_are_built_once_from_the_rapidocr_models(paddle_cache: Path) -> None:
    import yaml

    from extractors.ocr.paddle import build_model_dirs

    det, rec = build_model_dirs(paddle_cache)
    assert det.parent.parent == paddle_cache
    for folder in (det, rec):
        assert (folder / "inference.onnx").is_file()
        config = yaml.safe_load((folder / "inference.yml").read_text(encoding="utf-8"))
        assert config["Global"]["model_name"] == folder.name
    rec_config = yaml.safe_load((rec / "inference.yml").read_text(encoding="utf-8"))
    characters = rec_config["PostProcess"]["character_dict"]
    assert len(characters) > 18000 and "价" in characters
    mtime = (rec / "inference.yml").stat().st_mtime_ns
    assert build_model_dirs(paddle_cache) == (det, rec)
    assert (rec / "inference.yml").stat().st_mtime_ns == mtime


def test_paddle_reads_the_line_like_rapidocr(
    paddle: OcrBackend, rapid: OcrBackend, line_image: np.ndarray
) -> None:
    lines = paddle.recognise(line_image)
    assert texts(lines) == texts(rapid.recognise(line_image)) == [LINE_TEXT]
    assert lines[0].words and all(inside(w.box, lines[0].box) for w in lines[0].words)


def test_paddle_reads_the_page_like_rapidocr(
    paddle: OcrBackend, rapid_page: list[Line], page_image: np.ndarray
) -> None:
    mine = [line for line in paddle.recognise(page_image) if line.text != "★"]
    theirs = [line for line in rapid_page if line.text != "★"]
    assert printed(theirs) == PAGE_EXPECTED
    # the same text up to full-/half-width punctuation ('：' is sometimes read as ':')
    assert nfkc(printed(mine)) == nfkc(printed(theirs))
    for a, b in zip(mine, theirs, strict=True):
        assert abs(a.box[1] - b.box[1]) < 8
