"""Phone photos (extractors/photo.py): the page found and rectified, scans untouched, pages turned
upright, key fields read from committed photos, and a photo without a page reported clearly.

Synthetic photos are made here with the tuning set's generator (samples/documents/photos/generate.py)
from committed sample scans, so the page's corners are known exactly."""

from __future__ import annotations

import importlib.util
import io
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from extractors import photo
from extractors.extract import extract_file, read_with_notes
from extractors.images import ImageFile
from extractors.ocr import OcrBackend, get_backend
from extractors.options import ExtractOptions
from extractors.sniff import sniff
from service.rulesets import DocumentKinds, RulesetCatalogue, document_kinds

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "documents"
PHOTOS = SAMPLES / "photos"
KEY_FIELDS = {
    "purchase_contract": ("buyer_names", "buyer_id_numbers", "area_m2", "price_yuan", "signed_on"),
    "business_licence": ("name", "credit_code", "legal_representative", "established_on"),
    "safety_permit": ("permit_no", "enterprise_name", "valid_from", "valid_to"),
}
OPTIONS = ExtractOptions(page_timeout_s=120)


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("photo_generate", PHOTOS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def sample_index() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = json.loads((SAMPLES / "index.json").read_text(encoding="utf-8"))["documents"]
    return docs


@cache
def scan_page(doc_id: str) -> np.ndarray:
    entry = next(e for e in sample_index() if e["id"] == doc_id)
    with Image.open(SAMPLES / entry["path"]) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def synthetic_photo(doc_id: str, seed: int, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image, corners, _ = generator().photograph(scan_page(doc_id), rng, **kwargs)
    return image, corners


def corner_error(found: np.ndarray, truth: np.ndarray) -> float:
    """Largest corner distance, whichever corner each side calls the first."""
    return min(float(np.linalg.norm(np.roll(found, k, axis=0) - truth, axis=1).max()) for k in range(4))


# --- page finding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_id", "seed", "desk", "tilt", "tolerance"),
    [
        ("pc-03-dt-36", 1, "wood", 12.0, 4.0),
        ("sp-02-sp-13", 3, "fabric", 25.0, 4.0),
        ("pc-07-dt-02", 4, "stone", 6.0, 4.0),
        ("bl-03-sp-01", 5, "dark_wood", 18.0, 4.0),
        # a light grey desk under bright light: one edge of the page is faint; 1 % of the photo
        ("bl-03-sp-01", 2, "plain", 20.0, 14.0),
    ],
)
def test_page_found_and_corners_recovered(
    doc_id: str, seed: int, desk: str, tilt: float, tolerance: float
) -> None:
    image, corners = synthetic_photo(doc_id, seed, long_side=1400, tilt_deg=tilt, desk_style=desk)
    search = photo.find_page(image)
    assert search.verdict == "photo", search.reason
    assert search.quad is not None
    assert corner_error(search.quad, corners) <= tolerance
    flat = photo.rectify(image, search.quad)
    h, w = flat.shape[:2]
    # upscaled towards A4 at 150 dpi, never beyond it, never below the photo's own resolution
    own = max(
        np.linalg.norm(search.quad[3] - search.quad[0]), np.linalg.norm(search.quad[1] - search.quad[0])
    )
    assert min(own, photo.TARGET_LONG_SIDE) - 2 <= max(h, w) <= photo.TARGET_LONG_SIDE
    assert abs(max(h, w) / min(h, w) - photo.A4) < 0.05  # A4 pages come back A4


def test_rectified_page_is_the_page() -> None:
    """The warp maps the known corners onto the rectified page's corners: the page's own content
    (the scan, downscaled to the same size) matches the rectified photo closely."""
    import cv2

    page = scan_page("pc-03-dt-36")
    image, _ = synthetic_photo(
        "pc-03-dt-36",
        7,
        long_side=1600,
        tilt_deg=15.0,
        blur=0.5,
        noise=1.0,
        shadow=False,
        desk_style="dark_wood",
    )
    search = photo.find_page(image)
    assert search.quad is not None
    flat = photo.rectify(image, search.quad)
    h, w = flat.shape[:2]
    reference = cv2.resize(page, (w, h), interpolation=cv2.INTER_AREA)
    a = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY).astype(np.float32)
    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    assert float((a * b).mean()) > 0.6  # correlation of the two pages; a shift of a few px drops it


# --- scans left alone ---------------------------------------------------------------------------


def scan_entries() -> list[dict[str, Any]]:
    return [e for e in sample_index() if not e["path"].endswith(".pdf")]


@pytest.mark.parametrize("entry", scan_entries(), ids=lambda e: str(e["id"]))
def test_scans_are_untouched(entry: dict[str, Any]) -> None:
    """Every committed sample scan (readable or not) is passed on bit for bit, with no note."""
    data = (SAMPLES / entry["path"]).read_bytes()
    media_type = sniff(data)
    with ImageFile(data, media_type=media_type, options=ExtractOptions(photo_correction=False)) as plain:
        raw = [plain.page(i) for i in range(plain.page_count)]
    with photo.collect_notes() as notes, ImageFile(data, media_type=media_type, options=OPTIONS) as images:
        prepared = [images.page(i) for i in range(images.page_count)]
    assert len(prepared) == len(raw)
    for a, b in zip(raw, prepared, strict=True):
        assert np.array_equal(a, b)
    assert [n.code for n in notes] == ["page_flat"] * len(raw)
    assert photo.note_problems(notes) == []


# --- orientation --------------------------------------------------------------------------------


@pytest.mark.parametrize("doc_id", ["pc-06-dt-01", "bl-12-sp-12", "sp-05-sp-12"])
@pytest.mark.parametrize("turned", [0, 90, 180, 270])
def test_turned_pages_come_back_upright(doc_id: str, turned: int) -> None:
    import cv2

    page = scan_page(doc_id)
    h, w = page.shape[:2]
    f = photo.TARGET_LONG_SIDE / max(h, w)
    page = cv2.resize(page, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    turn, detail = photo.upright_turn(photo.turn_image(page, turned))
    assert turn == (360 - turned) % 360, detail


def test_turned_photo_is_read_upright(rapid: OcrBackend) -> None:
    """A photo of a page lying turned 90° on the desk: rectified and turned back, noted twice."""
    image, _ = synthetic_photo("pc-06-dt-01", 11, long_side=1600, tilt_deg=10.0, turn=90, desk_style="wood")
    out, notes = photo.prepare_page(image)
    assert [n.code for n in notes] == ["page_rectified", "page_turned"]
    assert out.shape[0] > out.shape[1]  # a portrait contract, upright
    lines = rapid.recognise(out)
    assert any("买卖合同" in ln.text for ln in lines)


# --- reading committed photos -------------------------------------------------------------------


@cache
def specs() -> DocumentKinds:
    return document_kinds(RulesetCatalogue(ROOT / "rulesets"))


@pytest.fixture(scope="module")
def rapid() -> OcrBackend:
    return get_backend("rapidocr", threads=2)


MIN_PAGE_PX = 1000
"""Photos whose page is at least this long in the photo (~85 dpi for A4): enough to read print."""


def photo_entries() -> list[dict[str, Any]]:
    """Of the committed photos whose page is at least MIN_PAGE_PX long in the photo: the first of
    each kind lying upright, the first turned 180° and the first turned 90° or 270°."""
    index = json.loads((PHOTOS / "index.json").read_text(encoding="utf-8"))["documents"]
    picked: dict[str, dict[str, Any]] = {}
    for entry in index:
        truth = json.loads((PHOTOS / entry["truth"]).read_text(encoding="utf-8"))
        q = np.array(truth["page_corners"])
        if max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[3] - q[0])) < MIN_PAGE_PX:
            continue
        turned = truth["turned"]
        key = entry["kind"] if not turned else ("180" if turned == 180 else "quarter")
        picked.setdefault(key, entry)
    return list(picked.values())


@pytest.mark.parametrize("entry", photo_entries(), ids=lambda e: str(e["id"]))
def test_key_fields_read_from_committed_photos(entry: dict[str, Any], rapid: OcrBackend) -> None:
    truth = json.loads((PHOTOS / entry["truth"]).read_text(encoding="utf-8"))
    fields, other = specs()[0][entry["kind"]]
    threshold = specs()[1]
    ex = extract_file(
        PHOTOS / entry["path"],
        kind=entry["kind"],
        fields=fields,
        other_labels=other,
        options=OPTIONS,
        ocr=rapid,
    )
    codes = [p.code for p in ex.problems]
    assert "page_rectified" in codes
    assert ("page_turned" in codes) == bool(truth["turned"])
    confident = {k: f.value for k, f in ex.fields.items() if f.confidence >= threshold}
    keys = KEY_FIELDS[entry["kind"]]
    wrong = {k: v for k, v in confident.items() if k in keys and v != truth["fields"][k]}
    assert wrong == {}
    # OCR confidences on photos are calibrated down (photo.photo_confidence): fewer fields pass,
    # none wrong
    right = [k for k in keys if confident.get(k) == truth["fields"][k]]
    assert len(right) >= 2, (right, ex.problems)


# --- no page in the photo -----------------------------------------------------------------------


def test_photo_without_a_page_is_reported(rapid: OcrBackend, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    desk, _ = generator().desk(rng, 1600, 1200, "wood")
    image = np.clip(desk, 0, 255).astype(np.uint8)
    search = photo.find_page(image)
    assert search.verdict == "no_page"
    out, notes = photo.prepare_page(image)
    assert out is image
    assert [n.code for n in notes] == ["no_page_found"]
    path = tmp_path / "desk.jpg"
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=85)
    path.write_bytes(buf.getvalue())
    doc = read_with_notes(path, options=OPTIONS, ocr=rapid)
    problem = next(p for p in doc.problems if p.code == "no_page_found")
    assert problem.page == 1 and "没有找到" in problem.message


def test_preparation_never_costs_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error inside the photo preparation leaves the page as decoded."""

    def broken(rgb: np.ndarray, *, page: int = 1) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(photo, "prepare_page", broken)
    image, _ = synthetic_photo("pc-03-dt-36", 1, long_side=1200, tilt_deg=10.0)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    data = buf.getvalue()
    with ImageFile(data, media_type=sniff(data), options=OPTIONS) as images:
        assert np.array_equal(images.page(0), image)
