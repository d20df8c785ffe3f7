#!/usr/bin/env python3
"""Phone photos of committed sample scans, with their truth: the photo tuning set.

Takes readable scans of ../<kind>/ (eight per kind, evenly spaced in id order) and photographs them
synthetically: the page lies on a desk (procedural wood, fabric, stone or plain textures, light or
dark), seen at an angle (perspective 5-25°, turned in the plane by up to ±12°), sometimes turned
90° or 180° on the desk, with a soft shadow under the page, gradient light, a cast shadow across part
of the page, slight blur, sensor noise and JPEG compression, at 1200-2000 px on the long side.

Writes `<kind>/<id>.jpg` + `<id>.truth.json` (the source's fields; layout "photo", the source's layout,
the degradations, the page's corners in the photo) and `index.json` (same format as ../index.json,
paths relative to this folder). Deterministic: every choice is seeded by the photo's id. Needs numpy,
Pillow and OpenCV (cv2, installed with rapidocr). Run:

    .venv/bin/python samples/documents/photos/generate.py
"""

from __future__ import annotations

import io
import json
import math
import shutil
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
KINDS = ("purchase_contract", "business_licence", "safety_permit")
PER_KIND = 8
TURNS = (0, 0, 0, 90, 0, 180, 0, 270)
"""Quarter turns of the page on the desk (degrees clockwise), by position in the kind's selection."""


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode("utf-8")))


# --- desks ---------------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    small = rng.standard_normal((max(2, h // scale), max(2, w // scale))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def desk(rng: np.random.Generator, w: int, h: int, style: str | None = None) -> tuple[np.ndarray, str]:
    """A desk texture (RGB float32 0..255) and its style name."""
    style = style or str(rng.choice(["wood", "dark_wood", "fabric", "stone", "plain", "light_wood"]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if style in ("wood", "dark_wood", "light_wood"):
        base = {
            "wood": (150, 100, 60),
            "dark_wood": (80, 50, 32),
            "light_wood": (205, 175, 135),
        }[style]
        angle = rng.uniform(-0.3, 0.3)
        u = xx * math.sin(angle) + yy * math.cos(angle)
        warp = _smooth_noise(rng, h, w, 60) * 25
        grain = np.sin((u + warp) / rng.uniform(6, 14)) * 0.5 + 0.5
        fine = _smooth_noise(rng, h, w, 3) * 0.15
        tone = 0.75 + 0.35 * grain + fine
        img = np.stack([tone * c for c in base], axis=-1)
    elif style == "fabric":
        base = np.array(rng.choice([(60, 80, 120), (90, 110, 80), (120, 60, 60), (70, 70, 75)]), np.float32)
        weave = (np.sin(xx * 1.7) * np.sin(yy * 1.7)) * 0.08
        tone = 0.9 + weave + _smooth_noise(rng, h, w, 2) * 0.06 + _smooth_noise(rng, h, w, 80) * 0.08
        img = tone[..., None] * base
    elif style == "stone":
        base = np.array(rng.choice([(170, 170, 165), (110, 110, 115), (200, 195, 185)]), np.float32)
        tone = 0.85 + _smooth_noise(rng, h, w, 25) * 0.08 + _smooth_noise(rng, h, w, 4) * 0.07
        img = tone[..., None] * base
        for _ in range(int(rng.integers(20, 60))):  # specks
            cx, cy, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(1, 4))
            cv2.circle(img, (cx, cy), r, tuple(float(v) * 0.6 for v in base), -1)
    else:  # plain: a grey or beige laminate with large-scale variation
        base = np.array(rng.choice([(185, 180, 170), (140, 145, 150), (215, 210, 200)]), np.float32)
        tone = 0.95 + _smooth_noise(rng, h, w, 150) * 0.05 + _smooth_noise(rng, h, w, 2) * 0.02
        img = tone[..., None] * base
    return np.clip(img, 0, 255).astype(np.float32), style


# --- the photograph ------------------------------------------------------------------------------


def page_quad(
    rng: np.random.Generator, page_w: int, page_h: int, frame_w: int, frame_h: int, tilt_deg: float
) -> np.ndarray:
    """Where the page's corners (TL, TR, BR, BL of the page image) land in the photo: a camera tilted
    by `tilt_deg` towards the page's far edge (keystone), turned in the plane, off-centre."""
    fill = rng.uniform(0.62, 0.86)
    scale = fill * min(frame_w / page_w, frame_h / page_h)
    w, h = page_w * scale, page_h * scale
    # keystone: the far edge shrinks with the tilt; which edge is far is random
    k = math.tan(math.radians(tilt_deg)) * 0.55
    rect = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], np.float64)
    side = int(rng.integers(0, 4))  # 0 top far, 1 right, 2 bottom, 3 left
    far = {0: (0, 1), 1: (1, 2), 2: (2, 3), 3: (3, 0)}[side]
    quad = rect.copy()
    centre_far = (rect[far[0]] + rect[far[1]]) / 2
    for i in far:
        quad[i] = centre_far + (rect[i] - centre_far) * (1 - k)
    # the far edge also looks shorter along the viewing direction
    near = [i for i in range(4) if i not in far]
    centre_near = (rect[near[0]] + rect[near[1]]) / 2
    for i in far:
        quad[i] = quad[i] + (centre_near - centre_far) * k * 0.5
    a = math.radians(rng.uniform(-12, 12))
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    quad = quad @ rot.T
    quad += rng.normal(0, 0.008 * max(w, h), quad.shape)  # a hand-held camera is never exact
    # fit in the frame with a margin, off-centre where there is room
    span = quad.max(axis=0) - quad.min(axis=0)
    if span[0] > frame_w * 0.94 or span[1] > frame_h * 0.94:
        quad *= min(frame_w * 0.94 / span[0], frame_h * 0.94 / span[1])
        span = quad.max(axis=0) - quad.min(axis=0)
    room = np.array([frame_w, frame_h]) - span
    offset = quad.min(axis=0)
    pos = np.array([rng.uniform(0.2, 0.8) * room[0], rng.uniform(0.2, 0.8) * room[1]])
    return quad - offset + pos


def photograph(
    page: np.ndarray,
    rng: np.random.Generator,
    *,
    long_side: int,
    tilt_deg: float,
    turn: int = 0,
    desk_style: str | None = None,
    shadow: bool = True,
    blur: float = 0.8,
    noise: float = 3.0,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Photograph an RGB page lying on a desk. Returns the photo (RGB uint8), the page's corners in it
    (TL, TR, BR, BL of the page image before `turn`, float (4, 2)) and the degradations applied."""
    degr: list[str] = []
    src = page
    if turn:
        src = np.ascontiguousarray(np.rot90(page, k=-(turn // 90)))  # clockwise
        degr.append(f"turned:{turn}")
    ph, pw = src.shape[:2]
    landscape_page = pw > ph
    # mostly the phone is held like the page
    landscape = landscape_page if rng.random() < 0.8 else not landscape_page
    short_side = round(long_side * 0.75)
    frame_w, frame_h = (long_side, short_side) if landscape else (short_side, long_side)
    quad = page_quad(rng, pw, ph, frame_w, frame_h, tilt_deg)
    degr.append(f"perspective:{tilt_deg:.1f}")
    background, style = desk(rng, frame_w, frame_h, desk_style)
    degr.append(f"desk:{style}")
    # downscale the page first to about its size in the photo (no aliasing), then warp
    edges = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    factor = min(1.0, 1.2 * max(edges[0], edges[2]) / pw)
    if factor < 1.0:
        src = cv2.resize(src, (round(pw * factor), round(ph * factor)), interpolation=cv2.INTER_AREA)
        ph, pw = src.shape[:2]
    src_pts = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    m = cv2.getPerspectiveTransform(src_pts, quad.astype(np.float32))
    warped = cv2.warpPerspective(src.astype(np.float32), m, (frame_w, frame_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (frame_w, frame_h), flags=cv2.INTER_LINEAR)
    # soft shadow of the page on the desk
    off = rng.uniform(4, 14, 2)
    shifted = cv2.warpAffine(mask, np.float32([[1, 0, off[0]], [0, 1, off[1]]]), (frame_w, frame_h))
    drop = cv2.GaussianBlur(shifted, (0, 0), 9) * rng.uniform(0.25, 0.5)
    background = background * (1 - drop[..., None])
    img = warped * mask[..., None] + background * (1 - mask[..., None])
    # light: a gradient over the whole frame
    yy, xx = np.mgrid[0:frame_h, 0:frame_w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    g = (xx / frame_w - 0.5) * math.cos(ang) + (yy / frame_h - 0.5) * math.sin(ang)
    strength = rng.uniform(0.2, 0.45)
    light = 1.0 - strength * (g + 0.5) + rng.uniform(-0.05, 0.08)
    img *= light[..., None]
    degr.append(f"gradient_light:{strength:.2f}")
    if shadow:  # a cast shadow (the phone or a hand) with a soft edge over part of the page
        cx, cy = quad.mean(axis=0)
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(0.1, 0.35) * min(frame_w, frame_h)
        nx, ny = math.cos(a), math.sin(a)
        edge = (xx - cx) * nx + (yy - cy) * ny - d
        # the shadow's edge is curved a little
        edge += 0.0008 * ((xx - cx) * ny - (yy - cy) * nx) ** 2 * rng.uniform(-0.5, 0.5)
        soft = rng.uniform(15, 50)
        depth = rng.uniform(0.3, 0.55)
        shade = 1.0 - depth / (1.0 + np.exp(-edge / soft))
        img *= shade[..., None]
        degr.append(f"cast_shadow:{depth:.2f}")
    # a warm or cool cast
    tint = np.array([1.0, 1.0, 1.0], np.float32) + rng.uniform(-0.06, 0.06, 3).astype(np.float32)
    img *= tint
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
        degr.append(f"blur:{blur:.2f}")
    if noise > 0:
        img += rng.normal(0, noise, img.shape).astype(np.float32)
        degr.append(f"noise:{noise:.1f}")
    out = np.clip(img, 0, 255).astype(np.uint8)
    corners = quad.copy()
    if turn:  # corners of the page as it was printed: TL, TR, BR, BL of the unturned page
        corners = np.roll(quad, -(turn // 90), axis=0)
    return out, corners, degr


# --- the tuning set ------------------------------------------------------------------------------


def selection() -> list[dict[str, Any]]:
    index = json.loads((DOCS / "index.json").read_text(encoding="utf-8"))["documents"]
    picked: list[dict[str, Any]] = []
    for kind in KINDS:
        scans = sorted(
            (e for e in index if e["kind"] == kind and e["readable"] and not e["path"].endswith(".pdf")),
            key=lambda e: e["id"],
        )
        n = len(scans)
        for k in range(PER_KIND):
            picked.append(scans[round(k * (n - 1) / (PER_KIND - 1))])
    return picked


def load_page(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.seek(0)
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def main() -> None:
    for kind in KINDS:
        shutil.rmtree(HERE / kind, ignore_errors=True)
        (HERE / kind).mkdir(parents=True)
    documents = []
    total = 0
    per_kind: dict[str, int] = {}
    for source in selection():
        kind = source["kind"]
        position = per_kind.get(kind, 0)
        per_kind[kind] = position + 1
        source_id = source["id"]
        photo_id = f"ph-{source_id}"
        rng = rng_for(photo_id)
        truth_in = json.loads((DOCS / source["truth"]).read_text(encoding="utf-8"))
        page = load_page(DOCS / source["path"])
        long_side = int(rng.integers(1200, 2001))
        tilt = float(rng.uniform(5, 25))
        turn = TURNS[position % len(TURNS)]
        blur = float(rng.uniform(0.4, 1.3))
        noise = float(rng.uniform(1.5, 5))
        photo, corners, degr = photograph(
            page,
            rng,
            long_side=long_side,
            tilt_deg=tilt,
            turn=turn,
            blur=blur,
            noise=noise,
            shadow=bool(rng.random() < 0.75),
        )
        quality = int(rng.integers(60, 88))
        degr.append(f"jpeg:q{quality}")
        buf = io.BytesIO()
        Image.fromarray(photo).save(buf, format="JPEG", quality=quality)
        data = buf.getvalue()
        total += len(data)
        rel = f"{kind}/{photo_id}.jpg"
        (HERE / rel).write_bytes(data)
        truth = {
            "kind": kind,
            "fields": truth_in["fields"],
            "readable": True,
            "layout": "photo",
            "source": f"../{source['path']}",
            "source_layout": truth_in.get("layout"),
            "format": "jpeg",
            "dpi": None,
            "pages": 1,
            "size": [photo.shape[1], photo.shape[0]],
            "degradations": degr,
            "turned": turn,
            "page_corners": [[round(float(x), 1), round(float(y), 1)] for x, y in corners],
            "corner_order": "top-left, top-right, bottom-right, bottom-left of the printed page, photo px",
            "text_layer": False,
            "labels": truth_in.get("labels", {}),
            "printed": truth_in.get("printed", {}),
            "description": f"{source_id} 的手机照片",
        }
        truth_rel = f"{kind}/{photo_id}.truth.json"
        text = json.dumps(truth, ensure_ascii=False, indent=2) + "\n"
        (HERE / truth_rel).write_text(text, encoding="utf-8")
        documents.append(
            {
                "id": photo_id,
                "kind": kind,
                "path": rel,
                "truth": truth_rel,
                "format": "jpeg",
                "readable": True,
                "layout": "photo",
                "dpi": None,
                "pages": 1,
                "case": source.get("case"),
                "description": truth["description"],
                "source": source_id,
                "degradations": degr,
            }
        )
        print(f"{rel}: {photo.shape[1]}x{photo.shape[0]} {len(data) / 1024:.0f} KiB {', '.join(degr)}")
    index = {
        "description": "Phone photos of committed sample scans (generate.py here); truth from the source.",
        "documents": documents,
    }
    (HERE / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{len(documents)} photos, {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
