"""Phone photos of a page → the page, flat, evenly lit and upright, before OCR.

Citizens photograph contracts lying on a desk: the page is a quadrilateral smaller than the frame
(desk around it), seen at an angle, under uneven light, sometimes turned 90° or 180°. `prepare_page`
(called by extractors/images.py for every image page) does:

1. **Photo or scan** (`find_page`): a quick look at a sparse sample of the pixels (~2 ms) sees
   whether the frame's border is the paper of the centre: a scan, returned untouched, bit for bit.
   Otherwise, on a copy at most ANALYSIS_SIDE px long with the print closed away, candidate page
   quadrilaterals come from the smooth regions around paper-coloured seeds near the centre bounded
   by edges, from Otsu splits (lightness, lightness minus chroma) and from pairs of strong straight
   edges (Hough lines, for pages whose edge is faint in places); each is snapped to the strongest
   step along its sides and scored by the contrast between just inside and just outside each of its
   four sides (a page has a contrasting edge all round; a shadow or the desk's grain does not). The
   best quad with enough support on every side is the page, refined on the full-size photo; one
   that fills the frame at right angles is a scan with dark edges, left untouched.
2. **Rectify**: the quad is warped to a rectangle of the page's estimated aspect (A4 when within 12 %),
   its long side about 1754 px (A4 at 150 dpi, the OCR's working size), never more than 2x upscaled.
3. **Even light**: every channel is divided by its paper background (the page with the print dilated
   away, smoothed), so shadows and gradients flatten to white paper and dark print.
4. **Upright**: PP-OCR's detector (the model shipped in the rapidocr wheel) finds the text lines on a
   small copy; lines taller than wide mean the page lies turned 90°; then the text-line angle
   classifier of the same wheel votes 0° against 180° on the longest lines.
5. **Calibrated confidence** (`with_notes`): OCR on a photographed page is over-confident, so the
   confidences of its lines are recalibrated (`photo_confidence`): a doubtful value is left below the
   threshold (absent) rather than passed on wrong.

What was done is returned as PageNotes (rectified, turned, or no page found in a photo), which
`collect_notes` gathers for the caller (extractors/extract.py turns them into the extraction's
problems, informational codes `page_rectified` / `page_turned`, and `no_page_found`). Nothing is
downloaded: the models are the wheel's files (extractors/ocr/rapid.bundled_models).

Why one module of this length: it is one pipeline (is it a photo, find the page, rectify, even the light,
turn it upright, calibrate) whose steps share the same geometry helpers; split, each part would be read
only beside the others."""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from extractors.model import Line, Problem, ReadDocument

ANALYSIS_SIDE = 640
"""Page finding runs on a copy this long (px, longer side)."""
FLAT_CHECK_SIDE = 320
"""The first look (is the border paper?) samples the image this sparsely."""
TARGET_LONG_SIDE = 1754
"""Long side of a rectified page: A4 at 150 dpi (the OCR backend's max_side is 1760)."""
MAX_UPSCALE = 2.0
A4 = math.sqrt(2)
FLAT_AREA = 0.88
"""A page quad covering more than this share of the frame with right angles is a scan, not a photo."""
MIN_AREA = 0.12
"""A page must cover at least this share of the frame."""
PHOTO_DOUBT_FACTOR = 3.0
"""How much less sure a line (and each of its characters) read from a photo is than the recogniser
says (`photo_confidence`). First measured with a field's confidence taken from its whole line: on two
sets of 24 synthetic photos, of the key fields the recogniser gave 0.90-0.985, 8 of 44 were wrong,
none of 112 at 0.9875 and above (factor 8). A field's confidence now comes from the characters of its
value (extractors/fields.py `_Row.span`), where the misread ones show: on the photo tuning set, read
uncalibrated, the three wrong values scored 0.55-0.93 (mean of the value's characters) with a least
character at 0.42-0.59. With factor 3 a value passes 0.9 only when the mean of its characters is at
least 0.967 and none is under 0.83; the nearest wrong value is then at 0.75, and the photo tuning
set gives 65 right key fields of 104 (58 with factor 8 and line confidences; estimated 55 with
factor 8 and 70 with factor 2, nearest wrong at 0.83, on value confidences)."""
MIN_SIDE_SUPPORT = 0.55
"""Every side of a page quad must have a contrasting edge along at least this share of its length."""


@dataclass(frozen=True)
class PageNote:
    """What was done to one page: `page_flat` (untouched scan, not reported), `page_rectified`,
    `page_turned`, `no_page_found`."""

    page: int
    code: str
    message: str
    ms: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageSearch:
    verdict: str
    """`flat` (a scan: leave it), `photo` (quad found) or `no_page` (a photo without a page in it)."""
    quad: np.ndarray | None = None
    """TL, TR, BR, BL in the image's pixels, float (4, 2), when `photo`."""
    score: float = 0.0
    reason: str = ""


# --- collecting notes ----------------------------------------------------------------------------

_NOTES: contextvars.ContextVar[list[PageNote] | None] = contextvars.ContextVar("photo_notes", default=None)


@contextlib.contextmanager
def collect_notes() -> Iterator[list[PageNote]]:
    """Gather the notes of every page prepared inside the block (in this thread/context)."""
    notes: list[PageNote] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def report(note: PageNote) -> None:
    notes = _NOTES.get()
    if notes is not None:
        notes.append(note)


def with_notes(doc: ReadDocument, notes: list[PageNote]) -> ReadDocument:
    """The document with its pages' notes added to its problems (untouched scans add none), and the
    OCR confidences of rectified photo pages calibrated for photos (`photo_confidence`)."""
    extra = note_problems(notes)
    if not extra:
        return doc
    rectified = {n.page for n in notes if n.code == "page_rectified"}
    pages = tuple(
        page.model_copy(update={"lines": tuple(_calibrated(ln) for ln in page.lines)})
        if page.number in rectified
        else page
        for page in doc.pages
    )
    return doc.model_copy(update={"problems": (*doc.problems, *extra), "pages": pages})


def photo_confidence(confidence: float) -> float:
    """The recogniser's confidence for a line of a photographed page, calibrated: its doubt (1 -
    confidence) times PHOTO_DOUBT_FACTOR. The recogniser was trained on crisp crops; on a page that
    was blurred, resampled and JPEG-compressed by a phone it misreads single characters (a J dropped
    from 'JZ', 娟 read 姐, 四 read 西) while still reporting 0.95-0.98, values that on scans are
    never wrong. Calibrated, a field read from a photo passes a 0.90 threshold only when the
    recogniser was at least 0.967 sure of its value (on average over its characters)."""
    return max(0.0, 1.0 - PHOTO_DOUBT_FACTOR * (1.0 - confidence))


def _calibrated(line: Line) -> Line:
    words = tuple(w.model_copy(update={"confidence": photo_confidence(w.confidence)}) for w in line.words)
    return line.model_copy(update={"confidence": photo_confidence(line.confidence), "words": words})


def note_problems(notes: list[PageNote]) -> list[Problem]:
    return [Problem(code=n.code, message=n.message, page=n.page) for n in notes if n.code != "page_flat"]


# --- the whole preparation -----------------------------------------------------------------------


def prepare_page(rgb: np.ndarray, *, page: int = 1) -> tuple[np.ndarray, list[PageNote]]:
    """The page to OCR and what was done. Scans come back as the same array, untouched."""
    start = time.perf_counter()
    search = find_page(rgb)
    if search.verdict == "flat":
        return rgb, [PageNote(page, "page_flat", search.reason, ms=_ms(start))]
    if search.verdict == "no_page" or search.quad is None:
        return rgb, [
            PageNote(
                page,
                "no_page_found",
                "照片中没有找到完整的文件页面（请把整页文件平放在对比明显的桌面上，完整拍摄后重新上传）",
                ms=_ms(start),
                details={"reason": search.reason},
            )
        ]
    flat = even_light(rectify(rgb, search.quad))
    found_ms = _ms(start)
    turn_start = time.perf_counter()
    turn, detail = upright_turn(flat)
    turn_ms = _ms(turn_start)
    if turn:
        flat = turn_image(flat, turn)
    notes = [
        PageNote(
            page,
            "page_rectified",
            f"本页是拍摄的照片：已找到纸张并校正透视和光照（{rgb.shape[1]}×{rgb.shape[0]} → "
            f"{flat.shape[1]}×{flat.shape[0]} 像素）",
            ms=found_ms,
            details={
                "quad": search.quad.round(1).tolist(),
                "score": round(search.score, 3),
                "orientation_ms": turn_ms,
            },
        )
    ]
    if turn:
        notes.append(
            PageNote(
                page,
                "page_turned",
                f"本页拍摄时是倒转或横放的：已旋转 {turn}° 摆正",
                ms=turn_ms,
                details=detail,
            )
        )
    return flat, notes


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --- finding the page ----------------------------------------------------------------------------


def find_page(rgb: np.ndarray) -> PageSearch:
    """Is this a photo of a page, and where is the page? See the module's docstring."""
    import cv2

    h, w = rgb.shape[:2]
    # first a quick look on a sparse sample of the pixels (~1 ms): scans stop here
    _, lab, light, chroma = _analysis(rgb, FLAT_CHECK_SIDE, cv2.INTER_NEAREST)
    if _border_is_paper(lab, light, chroma):
        return PageSearch("flat", reason="border is paper")
    scale = min(1.0, ANALYSIS_SIDE / max(h, w))
    closed, lab, light, chroma = _analysis(rgb, ANALYSIS_SIDE, cv2.INTER_AREA)
    sh, sw = light.shape
    if _border_is_paper(lab, light, chroma):
        return PageSearch("flat", reason="border is paper")

    candidates: list[np.ndarray] = []
    snap_grey = cv2.GaussianBlur(light, (0, 0), 1.0)
    snap_radius = max(4.0, min(sh, sw) / 50)
    for mask in _masks(closed, lab, light, chroma):
        quad = _mask_quad(mask)
        if quad is not None:
            candidates.append(_snap(snap_grey, quad, radius=snap_radius))
    line_quads = _line_quads(light)
    if line_quads:
        # the best few by support before snapping (each snap costs ~1 ms)
        ranked = sorted(line_quads, key=lambda q: -float(np.mean(_side_support(lab, q, samples=24))))
        candidates.extend(_snap(snap_grey, q, radius=snap_radius) for q in ranked[:6])
    best: tuple[float, np.ndarray] | None = None
    for quad in candidates:
        area = abs(_area(quad)) / (sw * sh)
        if area < MIN_AREA or area > 0.995:
            continue
        support = _side_support(lab, quad)
        if min(support) < MIN_SIDE_SUPPORT or float(np.mean(support)) < 0.7:
            continue
        score = float(np.mean(support)) * (0.5 + area)
        if best is None or score > best[0]:
            best = (score, quad)
    if best is None:
        if _looks_like_paper(light, chroma):
            return PageSearch("flat", reason="no page edge; the frame looks like paper")
        return PageSearch("no_page", reason="no quadrilateral with an edge all round")
    score, quad = best
    area = abs(_area(quad)) / (sw * sh)
    if area > FLAT_AREA and _max_angle_error(quad) < 4.0:
        return PageSearch("flat", reason="the page fills the frame at right angles")
    full = quad / scale
    full = _refine(rgb, full, radius=max(3.0, 2.5 / scale))
    return PageSearch("photo", quad=full, score=score, reason="page found")


def _analysis(rgb: np.ndarray, side: int, interpolation: int) -> tuple[np.ndarray, ...]:
    """A copy at most `side` px long with the print closed away (what is left is paper and desk):
    RGB, Lab (float), lightness and chroma."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    small = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=interpolation)
    sh, sw = small.shape[:2]
    k = max(3, round(min(sh, sw) / 60)) | 1
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    closed = cv2.medianBlur(closed, 5)
    lab = cv2.cvtColor(closed, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0]
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    return closed, lab, light, chroma


def _border_is_paper(lab: np.ndarray, light: np.ndarray, chroma: np.ndarray) -> bool:
    """A scan: nine tenths of a thin band all round the frame is the paper of the centre."""
    sh, sw = light.shape
    cy0, cy1, cx0, cx1 = sh // 3, sh - sh // 3, sw // 3, sw - sw // 3
    paper_l = float(np.percentile(light[cy0:cy1, cx0:cx1], 75))
    paper_c = float(np.median(chroma[cy0:cy1, cx0:cx1]))
    band = max(2, round(min(sh, sw) * 0.02))
    ring = np.concatenate(
        [
            lab[:band].reshape(-1, 3),
            lab[-band:].reshape(-1, 3),
            lab[:, :band].reshape(-1, 3),
            lab[:, -band:].reshape(-1, 3),
        ]
    )
    ring_l = ring[:, 0]
    ring_c = np.hypot(ring[:, 1] - 128, ring[:, 2] - 128)
    paperlike = (ring_l >= paper_l - 18) & (np.abs(ring_c - paper_c) < 12)
    return bool(paperlike.mean() > 0.9)


def _masks(
    closed: np.ndarray, lab: np.ndarray, light: np.ndarray, chroma: np.ndarray
) -> Iterator[np.ndarray]:
    """Candidate page regions (uint8 0/255): the smooth region around paper-like seeds near the centre,
    bounded by edges (gradient of the print-free photo above a few thresholds), then Otsu splits of
    lightness and of lightness minus chroma."""
    import cv2

    sh, sw = light.shape
    paperness = light - 2.0 * chroma
    # seeds: the most paper-like points of a central window, spread apart
    win = paperness[sh // 4 : sh - sh // 4, sw // 4 : sw - sw // 4]
    order = np.argsort(win, axis=None)[::-1]
    seeds: list[tuple[int, int]] = []
    step = max(1, order.size // 400)
    for idx in order[: step * 400 : step]:
        y, x = divmod(int(idx), win.shape[1])
        y, x = y + sh // 4, x + sw // 4
        if all(abs(y - a) + abs(x - b) > min(sh, sw) // 6 for a, b in seeds):
            seeds.append((y, x))
        if len(seeds) >= 3:
            break
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.0)
    grad = np.zeros((sh, sw), np.float32)
    for c, weight in ((0, 1.0), (1, 1.5), (2, 1.5)):
        gx = cv2.Sobel(smooth[..., c], cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(smooth[..., c], cv2.CV_32F, 0, 1, ksize=3)
        grad = np.maximum(grad, weight * cv2.magnitude(gx, gy) / 8)
    dil = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    for t in (2.5, 4.0, 6.5):
        edges = cv2.dilate((grad > t).astype(np.uint8), dil)
        free = (1 - edges).astype(np.uint8)
        _, labels = cv2.connectedComponents(free, connectivity=4)
        seen: set[int] = set()
        for y, x in seeds:
            label = int(labels[y, x])
            if label == 0 or label in seen:
                continue
            seen.add(label)
            yield ((labels == label) * 255).astype(np.uint8)
    for channel in (light, paperness):
        lo, hi = float(channel.min()), float(channel.max())
        c8 = ((channel - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)
        _, otsu = cv2.threshold(c8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        yield otsu


def _mask_quad(mask: np.ndarray) -> np.ndarray | None:
    """The quadrilateral of the largest region of a mask (TL, TR, BR, BL), or None."""
    import cv2

    sh, sw = mask.shape
    k = max(3, round(min(sh, sw) / 80)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    m = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    if cv2.contourArea(contour) < MIN_AREA * sh * sw:
        return None
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.045, 0.06, 0.08):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return order_corners(approx.reshape(4, 2).astype(np.float64))
        if len(approx) < 4:
            break
    return None


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as TL, TR, BR, BL (clockwise from the one nearest the frame's top left)."""
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise in image coordinates (y down), starting anywhere
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _max_angle_error(quad: np.ndarray) -> float:
    worst = 0.0
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
        worst = max(worst, abs(math.degrees(math.acos(max(-1.0, min(1.0, cos)))) - 90))
    return worst


def _side_support(lab: np.ndarray, quad: np.ndarray, samples: int = 48) -> list[float]:
    """Per side, the share of points with a clear difference between just inside and just outside
    (Lab distance), inside lighter or differently coloured. Points outside the frame count as
    unsupported."""
    sh, sw = lab.shape[:2]
    quad = np.asarray(quad, dtype=np.float64)
    centre = quad.mean(axis=0)
    d = max(3.0, min(sh, sw) / 100)
    t = np.linspace(0.08, 0.92, samples)[:, None]
    out: list[float] = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        pts = a + (b - a) * t
        direction = b - a
        normal = np.array([direction[1], -direction[0]]) / (np.linalg.norm(direction) + 1e-9)
        if np.dot(centre - (a + b) / 2, normal) < 0:
            normal = -normal  # towards the inside
        inside = np.rint(pts + normal * d).astype(np.int64)
        outside = np.rint(pts - normal * d).astype(np.int64)
        valid = (
            (inside[:, 0] >= 0)
            & (inside[:, 0] < sw)
            & (inside[:, 1] >= 0)
            & (inside[:, 1] < sh)
            & (outside[:, 0] >= 0)
            & (outside[:, 0] < sw)
            & (outside[:, 1] >= 0)
            & (outside[:, 1] < sh)
        )
        if not valid.any():
            out.append(0.0)
            continue
        li = lab[inside[valid, 1], inside[valid, 0]]
        lo = lab[outside[valid, 1], outside[valid, 0]]
        diff = li - lo
        ok = (diff[:, 0] > 8) | (np.linalg.norm(diff, axis=1) > 16)
        out.append(float(ok.sum()) / samples)
    return out


def _line_quads(light: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals from the strongest straight edges (Hough lines of the print-free lightness):
    two roughly parallel lines of each of two directions. Finds pages whose edge is faint in places,
    where no region is bounded all round."""
    import cv2

    sh, sw = light.shape
    l8 = np.clip(light, 0, 255).astype(np.uint8)
    edges = cv2.Canny(cv2.GaussianBlur(l8, (0, 0), 1.2), 8, 24)
    found = cv2.HoughLines(edges, 1, np.pi / 180, threshold=max(30, round(min(sh, sw) * 0.18)))
    if found is None:
        return []
    lines: list[tuple[float, float]] = []
    for rho, theta in found[:, 0, :]:
        # suppress near-duplicates (the strongest comes first)
        if all(
            abs(rho - r) > 12 or min(abs(theta - t), np.pi - abs(theta - t)) > np.radians(6) for r, t in lines
        ):
            lines.append((float(rho), float(theta)))
        if len(lines) >= 14:
            break
    if len(lines) < 4:
        return []
    # two families by direction (theta mod pi near the first line's, or near it + 90°)
    ref = lines[0][1]

    def off(theta: float) -> float:
        dlt = abs(theta - ref) % np.pi
        return min(dlt, np.pi - dlt)

    fam_a = [ln for ln in lines if off(ln[1]) < np.radians(40)]
    fam_b = [ln for ln in lines if off(ln[1]) > np.radians(50)]
    quads: list[np.ndarray] = []
    for i in range(len(fam_a)):
        for j in range(i + 1, len(fam_a)):
            for k in range(len(fam_b)):
                for m in range(k + 1, len(fam_b)):
                    a1, a2, b1, b2 = fam_a[i], fam_a[j], fam_b[k], fam_b[m]
                    pts = [_cross(a1, b1), _cross(a1, b2), _cross(a2, b2), _cross(a2, b1)]
                    if any(p is None for p in pts):
                        continue
                    q = np.array(pts, dtype=np.float64)
                    margin = 0.05 * max(sh, sw)
                    if (q[:, 0] < -margin).any() or (q[:, 0] > sw + margin).any():
                        continue
                    if (q[:, 1] < -margin).any() or (q[:, 1] > sh + margin).any():
                        continue
                    q = order_corners(q)
                    if abs(_area(q)) < MIN_AREA * sh * sw or not _convex(q):
                        continue
                    quads.append(q)
    return quads


def _cross(l1: tuple[float, float], l2: tuple[float, float]) -> np.ndarray | None:
    (r1, t1), (r2, t2) = l1, l2
    a = np.array([[np.cos(t1), np.sin(t1)], [np.cos(t2), np.sin(t2)]])
    if abs(np.linalg.det(a)) < 1e-6:
        return None
    return np.linalg.solve(a, np.array([r1, r2]))


def _convex(q: np.ndarray) -> bool:
    signs = []
    for i in range(4):
        a, b, c = q[i], q[(i + 1) % 4], q[(i + 2) % 4]
        signs.append(np.sign((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])))
    return bool(all(x > 0 for x in signs) or all(x < 0 for x in signs))


def _looks_like_paper(light: np.ndarray, chroma: np.ndarray) -> bool:
    """Most of the frame is low-chroma and about as light as its lightest part: a page filling the
    frame (or a dark, featureless scan), not a photo of something else."""
    top = float(np.percentile(light, 95))
    paper = (chroma < 18) & (light > 0.6 * top)
    return bool(paper.mean() > 0.6)


def _refine(rgb: np.ndarray, quad: np.ndarray, *, radius: float) -> np.ndarray:
    """The quad's sides snapped to the photo at up to 1600 px (see `_snap`)."""
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, 1600 / max(h, w))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.5).astype(np.float32)
    return _snap(grey, quad * scale, radius=radius * scale) / scale


def _snap(grey: np.ndarray, quad: np.ndarray, *, radius: float) -> np.ndarray:
    """Each side moved onto the strongest lightness step within `radius` px along its normal (a line
    fitted through the steps found, the worst 30 % dropped), the corners re-intersected; a side with
    too few clear steps keeps its place."""
    import cv2

    gh, gw = grey.shape[:2]
    grey = grey.astype(np.float32)
    q = np.asarray(quad, dtype=np.float64)
    centre = q.mean(axis=0)
    lines: list[tuple[np.ndarray, np.ndarray] | None] = []
    offsets = np.arange(-radius, radius + 0.25, 0.5)
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        direction = (b - a) / (np.linalg.norm(b - a) + 1e-9)
        normal = np.array([direction[1], -direction[0]])
        if np.dot(centre - (a + b) / 2, normal) < 0:
            normal = -normal
        ts = np.linspace(0.1, 0.9, 40)
        pts = a + (b - a) * ts[:, None]
        xs = pts[:, 0:1] + normal[0] * offsets[None, :]
        ys = pts[:, 1:2] + normal[1] * offsets[None, :]
        inside = (xs.min(axis=1) >= 1) & (ys.min(axis=1) >= 1)
        inside &= (xs.max(axis=1) <= gw - 2) & (ys.max(axis=1) <= gh - 2)
        if inside.sum() < 12:
            lines.append(None)
            continue
        prof = cv2.remap(grey, xs[inside].astype(np.float32), ys[inside].astype(np.float32), cv2.INTER_LINEAR)
        step = np.abs(np.gradient(prof, axis=1))
        j = np.argmax(step, axis=1)
        strong = step[np.arange(len(j)), j] >= 1.5
        found = pts[inside][strong] + normal * offsets[j[strong]][:, None]
        if len(found) < 12:
            lines.append(None)
            continue
        point, dirv = _fit_line(found)
        resid = np.abs((found - point) @ np.array([-dirv[1], dirv[0]]))
        keep = resid <= max(1.0, float(np.percentile(resid, 70)))
        if keep.sum() >= 8:
            point, dirv = _fit_line(found[keep])
        lines.append((point, dirv))
    refined = q.copy()
    for i in range(4):
        prev_line, this_line = lines[i - 1], lines[i]
        if prev_line is None or this_line is None:
            continue
        corner = _intersect(prev_line, this_line)
        if corner is not None and np.linalg.norm(corner - q[i]) <= 3 * radius:
            refined[i] = corner
    return refined


def _fit_line(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - mean)
    return mean, vt[0]


def _intersect(l1: tuple[np.ndarray, np.ndarray], l2: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    p, r = l1
    q, s = l2
    denom = r[0] * s[1] - r[1] * s[0]
    if abs(denom) < 1e-6:
        return None
    t = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / denom
    return p + t * r


# --- rectifying and lighting ---------------------------------------------------------------------


def page_size(quad: np.ndarray) -> tuple[int, int]:
    """Width and height of the rectified page: the quad's aspect (A4 when within 12 %), the long side
    TARGET_LONG_SIDE or at most MAX_UPSCALE times the quad's own."""
    tl, tr, br, bl = np.asarray(quad, dtype=np.float64)
    width = float(np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = float(np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    aspect = max(width, height) / max(min(width, height), 1.0)
    if abs(aspect - A4) / A4 < 0.12:
        aspect = A4
    long_side = min(TARGET_LONG_SIDE, MAX_UPSCALE * max(width, height))
    long_side = max(long_side, min(max(width, height), TARGET_LONG_SIDE))
    short = long_side / aspect
    if width >= height:
        return round(long_side), round(short)
    return round(short), round(long_side)


def rectify(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    import cv2

    w, h = page_size(quad)
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return np.ascontiguousarray(
        cv2.warpPerspective(rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    )


def even_light(rgb: np.ndarray) -> np.ndarray:
    """Each channel divided by its paper background (print dilated away on a small copy, smoothed):
    shadows and light gradients become white paper, the print keeps its colour."""
    import cv2

    h, w = rgb.shape[:2]
    f = 256 / max(h, w)
    small = cv2.resize(rgb, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
    background = cv2.GaussianBlur(background, (0, 0), 4)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(cv2.divide(rgb, np.maximum(background, 1), scale=245))


# --- orientation ---------------------------------------------------------------------------------

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()
DET_SIDE = 448
"""Long side of the detector's input for the orientation check (the whole page)."""
CENTRE = (0.2, 0.8)
"""The orientation check looks at this middle part of the page first (each axis)."""


def _session(task: str) -> Any:
    with _MODELS_LOCK:
        session = _MODELS.get(task)
        if session is None:
            import onnxruntime as ort

            from extractors.ocr.rapid import bundled_models, session_options

            # two threads: the OCR worker waits while a page is prepared
            session = ort.InferenceSession(
                str(bundled_models()[task]),
                sess_options=session_options(2, spinning=False),
                providers=["CPUExecutionProvider"],
            )
            _MODELS[task] = session
        return session


def text_boxes(rgb: np.ndarray, side: int = 0) -> list[tuple[float, float, float, float, float]]:
    """Text lines found by PP-OCR's detector on a small copy: (centre x, centre y, length along the
    line's long axis, thickness, angle of the long axis in degrees) in the image's pixels."""
    import cv2

    h, w = rgb.shape[:2]
    f = (side or DET_SIDE) / max(h, w)
    rw, rh = max(32, round(w * f / 32) * 32), max(32, round(h * f / 32) * 32)
    bgr = cv2.cvtColor(cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    x = ((bgr.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis]
    session = _session("det")
    prob = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
    mask = (prob > 0.3).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = w / rw, h / rh
    boxes = []
    for c in contours:
        if cv2.contourArea(c) < 12:
            continue
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(c)
        if bw < bh:
            bw, bh, angle = bh, bw, angle + 90
        # in image pixels (the scale is the same on both axes up to rounding to 32)
        long_axis = math.radians(angle)
        length = bw * math.hypot(math.cos(long_axis) * sx, math.sin(long_axis) * sy)
        thick = bh * math.hypot(math.sin(long_axis) * sx, math.cos(long_axis) * sy)
        boxes.append((cx * sx, cy * sy, length, thick * 1.6, angle % 180))
    return boxes


def upright_turn(rgb: np.ndarray) -> tuple[int, dict[str, Any]]:
    """Degrees (clockwise: 0, 90, 180, 270) to turn the page so its text reads upright, and the
    evidence. 0 when the evidence is weak: a page is turned only when most text runs say so."""
    # the middle of the page first (a third of the detector's work), the whole page when it holds
    # too few text lines
    h, w = rgb.shape[:2]
    y0, y1, x0, x1 = round(h * CENTRE[0]), round(h * CENTRE[1]), round(w * CENTRE[0]), round(w * CENTRE[1])
    boxes = [
        (x + x0, y + y0, length, thick, angle)
        for x, y, length, thick, angle in text_boxes(rgb[y0:y1, x0:x1], side=round(DET_SIDE * 0.6))
        if length >= 2.5 * thick / 1.6
    ]
    if len(boxes) < 8:
        boxes = [b for b in text_boxes(rgb) if b[2] >= 2.5 * b[3] / 1.6]
    detail: dict[str, Any] = {"lines": len(boxes)}
    if len(boxes) < 4:
        return 0, detail
    horizontal = sum(b[2] for b in boxes if min(b[4], 180 - b[4]) < 30)
    vertical = sum(b[2] for b in boxes if abs(b[4] - 90) < 30)
    detail.update(horizontal=round(horizontal), vertical=round(vertical))
    turn = 0
    page = rgb
    if vertical > 2.0 * horizontal:
        turn = 90
        page = turn_image(rgb, 90)
        h = rgb.shape[0]
        # the boxes of the turned page: (x, y) → (h - y, x), long axis now horizontal
        boxes = [(h - y, x, length, thick, 0.0) for x, y, length, thick, _ in boxes if abs(_ - 90) < 30]
    elif horizontal < 2.0 * vertical:
        return 0, detail  # mixed: leave it
    else:
        boxes = [b for b in boxes if min(b[4], 180 - b[4]) < 30]
    flipped, votes = _upside_down(page, boxes)
    detail.update(votes)
    if flipped is None:
        if turn:
            detail["undecided"] = True
        return turn, detail
    if flipped:
        turn = (turn + 180) % 360
    return turn, detail


TextBox = tuple[float, float, float, float, float]


def _upside_down(rgb: np.ndarray, boxes: list[TextBox]) -> tuple[bool | None, dict[str, Any]]:
    """The text-line classifier's vote on the longest horizontal lines: True (180°), False (upright),
    None (no clear majority)."""
    import cv2

    h, w = rgb.shape[:2]
    longest = sorted(boxes, key=lambda b: -b[2])[:24]
    crops = []
    for cx, cy, length, thick, _ in longest:
        x0, x1 = max(0, round(cx - length / 2)), min(w, round(cx + length / 2))
        y0, y1 = max(0, round(cy - thick / 2)), min(h, round(cy + thick / 2))
        if x1 - x0 < 8 or y1 - y0 < 6:
            continue
        crops.append(cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR))
    if len(crops) < 3:
        return None, {"cls_lines": len(crops)}
    batch = np.zeros((len(crops), 3, 48, 192), np.float32)
    for i, crop in enumerate(crops):
        ch, cw = crop.shape[:2]
        rw = min(192, max(1, math.ceil(48 * cw / ch)))
        resized = cv2.resize(crop, (rw, 48)).astype(np.float32).transpose(2, 0, 1) / 255.0
        batch[i, :, :, :rw] = (resized - 0.5) / 0.5
    session = _session("cls")
    probs = session.run(None, {session.get_inputs()[0].name: batch})[0]
    up = float(np.sum(probs[:, 0] > 0.5))
    down = float(np.sum(probs[:, 1] > 0.5))
    votes = {"cls_up": int(up), "cls_down": int(down)}
    if down >= 2 * max(up, 1) and down >= 3:
        return True, votes
    if up >= 2 * max(down, 1) and up >= 3:
        return False, votes
    return None, votes


def turn_image(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """The image turned clockwise by 90, 180 or 270 degrees."""
    import cv2

    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return np.ascontiguousarray(cv2.rotate(rgb, codes[degrees % 360])) if degrees % 360 else rgb
