"""The second OCR backend: the `paddleocr` package itself (3.7), run offline on onnxruntime with the
PP-OCR models taken from the rapidocr wheel.

paddleocr's default settings look for models on a hosting platform and fail offline ("No available
model hosting platforms detected"). Given `engine="onnxruntime"` and, for detection and recognition,
a model name plus a folder holding `inference.onnx` and an `inference.yml` that names the same model,
it loads them from disk. Those folders are built here at first use, into a cache directory keyed by
the models' hashes: the ONNX files are copied from rapidocr's wheel, the recogniser's character list is
read from the ONNX model's metadata. Nothing is downloaded.

paddleocr (with paddlepaddle, ~1.4 GB) is an optional extra: `pip install -e ".[paddle]"`; it is
imported only when this backend is built."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from extractors.model import Line
from extractors.ocr.base import check_image, make_line, order_lines

DET_NAME = "PP-OCRv6_small_det"
REC_NAME = "PP-OCRv6_small_rec"
"""The PaddleX model names matching the rapidocr wheel's models; each folder's inference.yml must
name the model the pipeline is told to load."""

INSTALL_HINT = 'pip install "paddleocr==3.7.0" "paddlepaddle==3.3.1"  (or: pip install -e ".[paddle]")'


def _det_config() -> dict[str, Any]:
    # PaddleX's own inference.yml for PP-OCRv6 det (paddlex/modules/base/utils/pdparams2safetensors/
    # inference_meta.py: _DET_PREPROCESS / _DET_POSTPROCESS)
    return {
        "Global": {"model_name": DET_NAME},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"DetLabelEncode": None},
                {"DetResizeForTest": {"resize_long": 960}},
                {
                    "NormalizeImage": {
                        "mean": [0.485, 0.456, 0.406],
                        "std": [0.229, 0.224, 0.225],
                        "scale": "1./255.",
                        "order": "hwc",
                    }
                },
                {"ToCHWImage": None},
                {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
            ]
        },
        "PostProcess": {
            "name": "DBPostProcess",
            "thresh": 0.3,
            "box_thresh": 0.6,
            "max_candidates": 1000,
            "unclip_ratio": 1.5,
        },
    }


def _rec_config(characters: list[str]) -> dict[str, Any]:
    # PaddleX's inference.yml for PP-OCRv6 rec (_meta_rec) plus the model's character list
    return {
        "Global": {"model_name": REC_NAME},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
                {"RecResizeImg": {"image_shape": [3, 48, 320]}},
                {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}},
            ]
        },
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": characters},
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _onnx_characters(model: Path) -> list[str]:
    """The recogniser's character list, stored by PaddleOCR's ONNX export in the model's metadata
    (`character`, one per line; the CTC blank and the trailing space are added by the decoder)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "character" not in meta:
        raise ValueError(f"{model} carries no character list in its metadata")
    return meta["character"].splitlines()


def build_model_dirs(cache_dir: Path | None = None) -> tuple[Path, Path]:
    """The detection and recognition model folders paddleocr loads (built once, then reused):
    `<cache>/<hash>/{PP-OCRv6_small_det,PP-OCRv6_small_rec}/{inference.onnx,inference.yml}`.
    The default cache is `<system temp>/miaopi-paddleocr`; the hash covers both model files, so a
    new rapidocr wheel gets fresh folders. Written to a temporary folder and renamed into place, so a
    crash half-way leaves nothing that looks complete."""
    import yaml

    from extractors.ocr.rapid import bundled_models

    models = bundled_models()
    key = hashlib.sha256((_sha256(models["det"]) + _sha256(models["rec"])).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "miaopi-paddleocr"
    target = root / key
    det_dir, rec_dir = target / DET_NAME, target / REC_NAME
    if (det_dir / "inference.yml").is_file() and (rec_dir / "inference.yml").is_file():
        return det_dir, rec_dir
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        for name, src, config in (
            (DET_NAME, models["det"], _det_config()),
            (REC_NAME, models["rec"], _rec_config(_onnx_characters(models["rec"]))),
        ):
            folder = staging / name
            folder.mkdir()
            shutil.copyfile(src, folder / "inference.onnx")
            text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
            (folder / "inference.yml").write_text(text, encoding="utf-8")
        try:
            os.replace(staging, target)
        except OSError:  # another process finished first: use its folders
            if not (det_dir / "inference.yml").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return det_dir, rec_dir


class PaddleOcrBackend:
    """PP-OCR through the paddleocr 3.7 pipeline on onnxruntime, offline. Document orientation,
    unwarping and the text-line orientation model are off (they would need models from a hub);
    detection runs with its input's longer side capped at `det_side`, like the rapidocr backend."""

    name = "paddleocr"

    def __init__(
        self,
        *,
        threads: int = 2,
        cache_dir: Path | str | None = None,
        det_side: int = 736,
        text_score: float = 0.5,
        word_boxes: bool = True,
    ) -> None:
        # PaddleX probes model hosting sites at import unless told not to (read at import time).
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        try:
            from paddleocr import PaddleOCR
        except ImportError as exc:
            raise ImportError(f"the paddleocr backend needs the paddleocr package: {INSTALL_HINT}") from exc
        det_dir, rec_dir = build_model_dirs(Path(cache_dir) if cache_dir is not None else None)
        self.word_boxes = word_boxes
        self._lock = threading.Lock()
        with warnings.catch_warnings():
            # paddle, imported by the pipeline, warns that it has no ccache for compiling C++
            # extensions (none are compiled here)
            warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
            self._pipeline = PaddleOCR(
                text_detection_model_name=DET_NAME,
                text_detection_model_dir=str(det_dir),
                text_recognition_model_name=REC_NAME,
                text_recognition_model_dir=str(rec_dir),
                use_doc_orientation_classify=False,
                use_doc_unwarping=False,
                use_textline_orientation=False,
                text_det_limit_side_len=det_side,
                text_det_limit_type="max",
                text_rec_score_thresh=text_score,
                return_word_box=self.word_boxes,
                engine="onnxruntime",
                engine_config={"intra_op_num_threads": threads, "inter_op_num_threads": 1},
            )

    def recognise(self, image: np.ndarray) -> list[Line]:
        rgb = check_image(image)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            results = list(self._pipeline.predict(bgr))
        lines: list[Line] = []
        for res in results:
            data = _as_dict(res)
            texts = data.get("rec_texts") or []
            scores = data.get("rec_scores") or []
            polys = data.get("rec_polys")
            if polys is None:
                polys = data.get("dt_polys") or []
            word_texts = data.get("text_word") or []
            word_boxes = data.get("text_word_region") or []
            for i, (text, score, poly) in enumerate(zip(texts, scores, polys, strict=False)):
                if not str(text).strip():
                    continue
                words = None
                if self.word_boxes and i < len(word_texts) and i < len(word_boxes):
                    words = [(str(t), score, b) for t, b in zip(word_texts[i], word_boxes[i], strict=False)]
                lines.append(make_line(str(text), poly, score, words))
        return order_lines(lines)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pipeline.close()


def _as_dict(result: Any) -> dict[str, Any]:
    """paddleocr 3.x results are dict-like (`OCRResult`); older shapes expose `.json['res']`."""
    if isinstance(result, dict):
        inner = result.get("res", result)
        return dict(inner) if isinstance(inner, dict) else dict(result)
    as_json = getattr(result, "json", None)
    if isinstance(as_json, dict):
        res = as_json.get("res", as_json)
        return dict(res) if isinstance(res, dict) else {}
    return {}
