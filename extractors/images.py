"""Scanned images (PNG, JPEG, TIFF) → RGB numpy arrays for OCR, one per page (TIFF frames are pages).
Phone photos of a page are rectified on the way (extractors/photo.py; scans are returned as decoded).

The pixel limit is checked against the size declared in the header before anything is decoded, per call
from ExtractOptions.max_pixels (Pillow's global MAX_IMAGE_PIXELS is left alone: other code shares it);
Pillow's own decompression-bomb error and warning are refused the same way."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from extractors.errors import DocumentError
from extractors.options import ExtractOptions
from extractors.sniff import JPEG, PNG, TIFF

_FORMATS = {PNG: "PNG", JPEG: "JPEG", TIFF: "TIFF"}
_WHITE = (255, 255, 255)


class ImageFile:
    """An opened image document. Raises DocumentError `corrupt_image`, `decompression_bomb` or
    `too_many_pages` on construction; `page(i)` decodes one page."""

    def __init__(self, data: bytes, *, media_type: str, options: ExtractOptions) -> None:
        fmt = _FORMATS.get(media_type)
        if fmt is None:
            raise DocumentError("unsupported_type", f"不是支持的图片类型：{media_type}")
        self._options = options
        self._media_type = media_type
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self._image = Image.open(io.BytesIO(data), formats=[fmt])
                # Only TIFF pages are pages; the extra frames of a phone's MPO JPEG are depth maps.
                frames = int(getattr(self._image, "n_frames", 1)) if fmt == "TIFF" else 1
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(None, None) from exc
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
            raise DocumentError("corrupt_image", "图片文件已损坏或不完整，无法读取") from exc
        if frames < 1:
            self.close()
            raise DocumentError("corrupt_image", "图片文件里没有图像")
        if frames > options.max_pages:
            self.close()
            raise DocumentError("too_many_pages", f"图片有 {frames} 页，超过上限 {options.max_pages} 页")
        self.page_count = frames

    def __enter__(self) -> ImageFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._image.close()

    def page(self, index: int) -> np.ndarray:
        """Page `index` (0-based) as RGB uint8 (H, W, 3), EXIF orientation applied. Raises DocumentError
        (with the page number) `decompression_bomb` or `too_small` before decoding, `corrupt_image`
        when decoding fails."""
        number = index + 1
        im = self._image
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                if index:
                    im.seek(index)
                width, height = im.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(None, number) from exc
        except Exception as exc:
            raise DocumentError("corrupt_image", "图片页面已损坏，无法读取", page=number) from exc
        check_size(width, height, options=self._options, page=number)
        try:
            im.load()
            frame = _apply_orientation(im)
            rgb = _to_rgb(frame)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb((width, height), number) from exc
        except MemoryError as exc:
            raise _bomb((width, height), number) from exc
        except Exception as exc:
            raise DocumentError("corrupt_image", "图片已损坏或被截断，无法解码", page=number) from exc
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:  # pragma: no cover - defensive
            raise DocumentError("corrupt_image", "图片解码结果异常", page=number)
        if self._options.photo_correction:
            rgb = _prepare(rgb, number)
        return rgb


def _prepare(rgb: np.ndarray, number: int) -> np.ndarray:
    """A phone photo's page found, rectified, evenly lit and upright (extractors/photo.py); scans come
    back untouched. The notes go to photo.collect_notes. A failure here costs the correction, never
    the page: the image is then read as it is."""
    from extractors import photo

    try:
        prepared, notes = photo.prepare_page(rgb, page=number)
    except Exception as exc:  # OpenCV/onnxruntime errors on odd input: read the page as decoded
        photo.report(photo.PageNote(number, "page_flat", f"preparation failed: {type(exc).__name__}"))
        return rgb
    for note in notes:
        photo.report(note)
    return prepared


def check_size(width: int, height: int, *, options: ExtractOptions, page: int | None = None) -> None:
    """Refuse an image by its declared size: `decompression_bomb` above options.max_pixels, `too_small`
    when the shorter side is below options.min_side_px."""
    if width <= 0 or height <= 0:
        raise DocumentError("corrupt_image", f"图片尺寸无效（{width}×{height}）", page=page)
    if width * height > options.max_pixels:
        raise _bomb((width, height), page, limit=options.max_pixels)
    if min(width, height) < options.min_side_px:
        raise DocumentError(
            "too_small",
            f"图片太小（{width}×{height} 像素），短边至少需要 {options.min_side_px} 像素才能识别",
            page=page,
        )


def _bomb(size: tuple[int, int] | None, page: int | None, *, limit: int | None = None) -> DocumentError:
    declared = f"声明尺寸 {size[0]}×{size[1]}，" if size else ""
    bound = f"超过上限 {limit} 像素" if limit else "超过安全上限"
    return DocumentError("decompression_bomb", f"图片像素过多（{declared}{bound}），拒绝解码", page=page)


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF Orientation tag says. A damaged EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:
        return im


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "RGB":
        pass
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        # Transparent areas become white paper, not black (convert("RGB") would drop alpha).
        rgba = im.convert("RGBA")
        paper = Image.new("RGB", rgba.size, _WHITE)
        paper.paste(rgba, mask=rgba.getchannel("A"))
        im = paper
    elif mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if arr.ndim != 2:  # pragma: no cover - defensive
            raise ValueError(f"unexpected array shape for mode {mode}")
        if mode.startswith("I;16"):
            grey = arr / 257.0
        else:
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            grey = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.full_like(arr, 255.0)
        g8 = np.clip(np.nan_to_num(grey, nan=255.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g8[:, :, None], 3, axis=2))
    else:  # 1, L, P, CMYK, YCbCr, LAB, HSV
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
