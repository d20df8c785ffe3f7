"""The default OCR backend: rapidocr 3.x running the PP-OCR models shipped inside its wheel
(PP-OCRv6 small detection and recognition, the mobile v2 angle classifier) on onnxruntime.

Offline by construction: every model is passed to rapidocr as an explicit `model_path` inside the
installed package, so rapidocr's download branch (taken only when `model_path` is empty) is never
reached, and the recogniser's character list comes from the ONNX model's own metadata (no dictionary
file to fetch). A missing model file is an error here, not a download.

The defaults were chosen with benchmarks/ocr_speed.py (the numbers are in its docstring)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from extractors.model import Line
from extractors.ocr.base import check_image, make_line, order_lines

MODEL_FILES = {
    "det": "PP-OCRv6_det_small.onnx",
    "rec": "PP-OCRv6_rec_small.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
"""The models the rapidocr 3.10 wheel ships in `rapidocr/models/`."""

Engine = Literal["onnxruntime", "openvino"]


def bundled_models() -> dict[str, Path]:
    """Paths of the models inside the installed rapidocr package; FileNotFoundError (never a download)
    when the wheel does not hold one."""
    import rapidocr

    root = Path(rapidocr.__file__).resolve().parent / "models"
    paths = {task: root / file for task, file in MODEL_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            "rapidocr's bundled PP-OCR models are missing (install rapidocr==3.10.0 from its wheel): "
            + ", ".join(missing)
        )
    return paths


@dataclass(frozen=True)
class RapidSettings:
    """The speed/accuracy levers of the rapidocr pipeline (see benchmarks/ocr_speed.py)."""

    max_side: int = 1760
    """Pages are first scaled so their longer side is at most this (1760 ≈ A4 at 150 dpi): a 300-dpi
    scan costs what a 150-dpi one does. rapidocr's own default is 2000."""
    det_side: int = 736
    """Size limit of the detector's input (see `det_limit`)."""
    det_limit: Literal["max", "min"] = "max"
    """With `max`, `det_side` is the longer side of the detector's input: 736 costs about half of
    rapidocr's default (`min` 736, i.e. the whole page for A4 scans) with the same CER, and reads
    7 pt print on 150-dpi pages without loss (544 starts dropping such lines, see the benchmark)."""
    use_cls: bool = False
    """The per-line 0/180° classifier. Off: scans are upright; a page whose lines come back with low
    confidence is read again turned 180° (`flip_check`), which costs only on such pages."""
    flip_check: bool = True
    rec_batch: int = 1
    """Most lines per recognition batch. One line per batch is padded only to its own width (at least
    3 line heights): less work than batches, and a line reads the same whatever its neighbours on
    the page (a batch's padding changed some readings). Against batches of 6, on the extraction
    benchmark's sample pages: -11 % CPU, key fields exact 345/352 against 344/352, no confident
    wrong value."""
    rec_parallel: bool = True
    """With onnxruntime and `threads` > 1: the recogniser's session runs on one thread and `threads`
    lines are recognised at once (onnxruntime releases the GIL; small inputs keep one thread busy
    better than intra-op threads do), while the detector's one large input keeps `threads` intra-op
    threads. With `rec_batch` 1, against batches of 6 on intra-op threads: -9 % CPU, -14 % wall
    (interleaved A/B on 35 sample pages, other work on the machine; identical text to one-line
    batches run sequentially)."""
    rec_packing: bool = True
    """Batches of lines of similar width, each padded only to its widest line (`PackedRecognizer`);
    off: rapidocr's own batching (every batch padded to at least 320 px, about 7 characters)."""
    word_boxes: bool = True
    """Per-character (CJK) and per-word (Latin, digits) boxes from the recogniser's CTC alignment."""
    text_score: float = 0.5
    """Lines recognised below this confidence are dropped (rapidocr's default)."""
    ort_spinning: bool = False
    """onnxruntime's worker threads spin while waiting for work by default: on a shared 2-core
    machine that burns CPU other processes need. Off: -25 % CPU and -22 % wall per page measured
    with other load on the machine (A/B, interleaved pages)."""
    engine: Engine = "onnxruntime"
    """`openvino` (if installed) is much faster on CPUs with AMX/bf16; onnxruntime is the default."""


class RapidOcrBackend:
    """PP-OCR through rapidocr with the wheel's bundled models. One instance serves one thread at a
    time (calls are serialised by a lock); use several processes (OcrWorker) for parallelism."""

    name = "rapidocr"
    """`rapidocr` or `rapidocr-openvino` (set from the engine)."""

    def __init__(self, *, threads: int = 2, settings: RapidSettings | None = None, **overrides: Any) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        base = settings or RapidSettings()
        self.settings = RapidSettings(**{**base.__dict__, **overrides}) if overrides else base
        self.threads = threads
        if self.settings.engine == "openvino":
            self.name = "rapidocr-openvino"
        self._lock = threading.Lock()
        self._engine = _build_engine(self.settings, threads)

    def recognise(self, image: np.ndarray) -> list[Line]:
        rgb = check_image(image)
        import cv2

        # OpenCV's conversions are vectorised: ~3 ms for a 200-dpi A4 page against ~40 ms for a
        # copy of the reversed numpy view
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with self._lock:
            lines = order_lines(self._read(bgr))
            if self.settings.flip_check and not self.settings.use_cls and _looks_upside_down(lines):
                flipped = order_lines(self._read(cv2.flip(bgr, -1)))
                if _quality(flipped) > _quality(lines):
                    # reading order of the turned page; boxes back in the caller's coordinates
                    h, w = bgr.shape[:2]
                    lines = [_rotate_line_180(line, w, h) for line in flipped]
        return lines

    def _read(self, bgr: np.ndarray) -> list[Line]:
        result = self._engine(bgr)
        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        if not txts or boxes is None:
            return []
        scores = result.scores
        words = result.word_results if self.settings.word_boxes else ()
        # rapidocr drops lines whose word list is empty, so words can only be paired by index when
        # the counts agree; make_line also checks the words spell the line.
        paired = len(words) == len(txts)
        lines = []
        for i, (text, quad, score) in enumerate(zip(txts, boxes, scores, strict=True)):
            if not text.strip():
                continue
            line_words = words[i] if paired else None
            lines.append(make_line(text, quad, score, line_words))
        return lines


def _build_engine(s: RapidSettings, threads: int) -> Any:
    from rapidocr import EngineType, RapidOCR

    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    models = bundled_models()
    engine_type = EngineType.OPENVINO if s.engine == "openvino" else EngineType.ONNXRUNTIME
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.model_root_dir": str(models["det"].parent),
        "Global.use_cls": s.use_cls,
        "Global.max_side_len": s.max_side,
        "Global.return_word_box": s.word_boxes,
        "Global.text_score": s.text_score,
        "Det.model_path": str(models["det"]),
        "Det.limit_type": s.det_limit,
        "Det.limit_side_len": s.det_side,
        "Rec.model_path": str(models["rec"]),
        "Rec.rec_batch_num": s.rec_batch,
        "Cls.model_path": str(models["cls"]),
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.openvino.inference_num_threads": threads,
        "EngineConfig.openvino.performance_hint": "LATENCY",
    }
    for task in ("Det", "Rec", "Cls"):
        params[f"{task}.engine_type"] = engine_type
    if s.engine == "openvino":
        try:
            import openvino  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "the rapidocr-openvino backend needs the openvino package (pip install openvino)"
            ) from exc
    engine = RapidOCR(params=params)
    rec_workers = threads if s.rec_parallel and s.rec_packing and s.engine == "onnxruntime" else 1
    tasks = {"det": "Det", "rec": "Rec"}
    if s.use_cls:
        tasks["cls"] = "Cls"
    with contextlib.ExitStack() as stack:
        if s.engine == "onnxruntime":
            # rapidocr takes a ready-made onnxruntime session per model (its `session` option, for
            # callers who need session options it does not expose); omegaconf stores it only with
            # `allow_objects` set.
            from omegaconf import flag_override

            stack.enter_context(flag_override(engine.cfg, "allow_objects", True))
            options = session_options(threads, spinning=s.ort_spinning)
            for task, section in tasks.items():
                opts = options
                if task == "rec" and rec_workers > 1:
                    opts = session_options(1, spinning=s.ort_spinning)
                engine.cfg[section].session = _ort_session(models[task], opts)
        # Load the models now, not on the first page, so start-up errors surface at construction.
        engine._load_det_model()
        engine._load_rec_model()
        if s.rec_packing:
            packed = PackedRecognizer(engine.text_rec, max_batch=s.rec_batch, workers=rec_workers)
            engine.text_rec = packed  # type: ignore[assignment]
        if s.use_cls:
            engine._load_cls_model()
    if s.word_boxes:
        # Only the extent of a word's corner points is used (make_line → quad_to_box): rapidocr's
        # reordering of each word's four corners (`order_points`, numpy on four points, about half
        # of its word-box time: ~25 ms on a 200-dpi contract page) cannot change it.
        engine.cal_rec_boxes.order_points = _corners_as_given  # type: ignore[method-assign,assignment]
    return engine


def _corners_as_given(points: Any) -> Any:
    return points


class PackedRecognizer:
    """rapidocr's text recogniser with tighter batches. Recognition is most of a page's OCR time and
    its cost is linear in the width of its input; rapidocr pads every line of a batch to the batch's
    widest line and to at least 320 px (48 px high: about 7 characters), so a page's many short boxes
    (labels, names, dates, table cells) cost as much as long ones. Here lines are sorted by their
    width, a batch ends when the next line is more than `spread` times as wide as its first one (or
    holds `max_batch` lines), and a batch is padded only to its widest line, at least `min_ratio`
    times the line height (3: narrower padding changed a few short readings). The model, the
    resizing and the decoding are rapidocr's own (rapidocr==3.10.0: `resize_norm_img`, `session`,
    `postprocess_op`).

    On the extraction benchmark's 99 sample pages (2 cores, other work running): 113 CPU-seconds
    against 131 with rapidocr's batching (-14 %), scan median 0.89 s against 0.95 s per page, key
    fields exact 344/352 either way and no confident wrong value. Padding model: 0.77 of the
    recognised width (1.0 = rapidocr's batching). The default is now one line per batch
    (`RapidSettings.rec_batch`).

    With `workers` > 1 the batches are run that many at a time from a thread pool, widest first
    (the session is then single-threaded: see `RapidSettings.rec_parallel`); the readings are the
    same as sequentially."""

    def __init__(
        self,
        recogniser: Any,
        *,
        max_batch: int = 6,
        spread: float = 1.3,
        min_ratio: float = 3.0,
        workers: int = 1,
    ):
        self._rec = recogniser
        self.workers = workers
        self._pool: Any = None
        self.max_batch = max_batch
        self.spread = spread
        self.min_ratio = min_ratio

    def __getattr__(self, name: str) -> Any:  # anything else is the wrapped recogniser's
        return getattr(self._rec, name)

    def batches(self, ratios: list[float]) -> list[list[int]]:
        """Indices of the lines (by width/height ratio) in each batch, narrowest first."""
        order = sorted(range(len(ratios)), key=lambda i: ratios[i])
        out: list[list[int]] = []
        for i in order:
            if out and len(out[-1]) < self.max_batch and ratios[i] <= self.spread * ratios[out[-1][0]]:
                out[-1].append(i)
            else:
                out.append([i])
        return out

    def __call__(self, args: Any) -> Any:
        from rapidocr.ch_ppocr_rec import TextRecOutput

        start = time.perf_counter()
        rec = self._rec
        images = [args.img] if isinstance(args.img, np.ndarray) else list(args.img)
        ratios = [img.shape[1] / float(img.shape[0]) for img in images]
        if not images:
            return TextRecOutput()
        results: list[Any] = [(("", 0.0), None)] * len(images)

        def run(batch: list[int]) -> None:
            widest = max(self.min_ratio, *(ratios[i] for i in batch))
            tensor = np.concatenate(
                [rec.resize_norm_img(images[i], widest)[np.newaxis, :] for i in batch]
            ).astype(np.float32)
            lines, words = rec.postprocess_op(
                rec.session(tensor),
                args.return_word_box,
                wh_ratio_list=[ratios[i] for i in batch],
                max_wh_ratio=widest,
            )
            for k, i in enumerate(batch):
                results[i] = (lines[k], words[k] if args.return_word_box else None)

        batches = self.batches(ratios)
        if self.workers > 1 and len(batches) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ocr-rec")
            # widest first, so that no long line is left to run alone at the end
            list(self._pool.map(run, reversed(batches)))
        else:
            for batch in batches:
                run(batch)
        line_results, word_results = zip(*results, strict=True)
        txts, scores = zip(*line_results, strict=True)
        return TextRecOutput(
            images, tuple(txts), list(scores), tuple(word_results), time.perf_counter() - start
        )


def session_options(threads: int, *, spinning: bool) -> Any:
    """onnxruntime options for the OCR models: `threads` intra-op threads, one inter-op thread, all
    graph optimisations, no memory arena (memory returns to the system between pages; rapidocr's
    choice too), and idle threads that sleep instead of spinning unless `spinning`."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_cpu_mem_arena = False
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return opts


def _ort_session(path: Path, options: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _quality(lines: list[Line]) -> float:
    return sum(line.confidence * len(line.text) for line in lines)


def _looks_upside_down(lines: list[Line]) -> bool:
    """Upright pages read with mean confidence above 0.9; pages turned 180° read as a few short
    lines of low confidence (most are dropped by `text_score`)."""
    chars = sum(len(line.text) for line in lines)
    if chars == 0:
        return True
    mean = sum(line.confidence * len(line.text) for line in lines) / chars
    return mean < 0.8


def _rotate_line_180(line: Line, width: int, height: int) -> Line:
    def turn(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = box
        return (width - x1, height - y1, width - x0, height - y0)

    words = tuple(w.model_copy(update={"box": turn(w.box)}) for w in line.words)
    return line.model_copy(update={"box": turn(line.box), "words": words})
