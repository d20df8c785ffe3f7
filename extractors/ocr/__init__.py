"""OCR: page images → text lines with boxes and confidences, through interchangeable backends
(`rapidocr`, the default, and `paddleocr`), optionally hosted in a bounded worker process."""

from extractors.ocr.base import BACKENDS, OcrBackend, get_backend
from extractors.ocr.worker import OcrCrashed, OcrError, OcrTimeout, OcrWorker

__all__ = ["BACKENDS", "OcrBackend", "OcrCrashed", "OcrError", "OcrTimeout", "OcrWorker", "get_backend"]
