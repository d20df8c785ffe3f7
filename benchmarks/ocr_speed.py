"""OCR speed and accuracy per configuration, on A4 pages of Chinese contract text rendered here, and
the memory of the OCR worker over a long run.

    .venv/bin/python benchmarks/ocr_speed.py [--dpi 150 200 300] [--configs default untuned ...] [--out F]
    .venv/bin/python benchmarks/ocr_speed.py --soak 1000 [--recycle-after 500]
    .venv/bin/python benchmarks/ocr_speed.py --write-test-data     # tests/extractors/data/ocr_*.{png,jpg}

Pages are rendered with Pillow and Debian's fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei):
12 pt body text, a `dense` layout (title + 24 lines, ~520 characters: parties, ID numbers, address,
area, price in figures and in capitals, contract clauses, signatures) and a `sparse` one (title + the
first 14 lines, ~260 characters, like a 15-line contract page); half the pages are `noisy`
(red seal, rotation within ±2°, blur, Gaussian noise, JPEG quality 60). CER is the edit distance
between the printed and the read text divided by the printed length, after NFKC normalisation and with
whitespace removed (line breaks and full-/half-width punctuation do not count). Each configuration is
warmed up on one page, then each page is read once and timed (wall clock, in-process, no worker).

Measured 2026-11-22 on the 2-core development machine (Xeon with AVX-512/AMX; onnxruntime 1.31,
rapidocr 3.10; other sessions' processes held 40-70 % of the CPU throughout, so wall times are
inflated and `cpu` — CPU seconds of this process per page — is the steadier figure). 8 pages per
row (4 dense, 4 sparse, half noisy); seconds per page, median and p95; CER mean over the 8 pages.
Every CER below is 0 once the seal's star ('★', read as a character) is left out; with it, a noisy
page scores 1/517 (dense) or 1/271 (sparse).

    150 dpi           median   p95  dense sparse   cpu   CER    lever changed from `default`
    untuned            7.55   9.40   8.87   6.70   4.79  0      rapidocr's own defaults (below)
    untuned-no-cls     4.07   5.48   4.97   3.88   5.00  0      ... without the angle classifier
    det1280            2.89   4.37   4.13   2.60   3.85  0      detector input 1280 px
    det960             2.56   3.27   3.12   2.02   2.94  .0009  detector input 960 px
    default            2.14   2.96   2.60   1.55   2.27  .0014  RapidSettings(): 736 px, no cls
    det640             1.75   2.88   2.68   1.41   2.19  .0014  detector input 640 px
    cls                2.09   2.98   2.64   1.58   2.50  .0014  angle classifier on
    no-word-boxes      1.89   2.99   2.56   1.50   2.32  .0014  no per-character boxes
    rec-batch-12       2.51   3.79   3.33   1.96   2.90  .0014  12 lines per recognition batch
    threads-1          2.13   2.98   2.81   1.67   2.09  .0014  one intra-op thread
    ort-spinning       2.54   3.68   3.04   1.91   2.87  .0014  onnxruntime threads spin
    openvino           1.07   1.51   1.40   0.82   1.04  .0014  same models on OpenVINO (bf16)

    by resolution     150 dpi (cpu)   300 dpi (cpu)   200 dpi (cpu; from a busier run)
    untuned            5.40 (5.70)     6.90 (6.61)    11.23 (7.07)
    default            1.94 (1.93)     1.84 (1.84)     3.55 (2.47)
    threads-1          1.93 (1.66)     1.78 (1.75)       -
    max2000 (as rapidocr)    -           -             4.27 (2.46)
    openvino           1.01 (0.94)     1.26 (1.07)     1.44 (1.06)

(`untuned` = max_side 2000, detector `min` 736 — the whole page for A4 —, angle classifier on,
onnxruntime threads spinning.) What set the defaults in extractors/ocr/rapid.py (RapidSettings):
- the detector's input is what rapidocr's defaults waste: capped at 736 px on the longer side it
  costs a fraction with the same CER; `--small-print` shows 736 and 640 still read 7 pt print at
  150 dpi and 8 pt at 100 dpi (the 100-dpi losses are the recogniser's: 960 loses the same), while
  480-544 start dropping 7 pt lines — 736 keeps a margin;
- the angle classifier costs ~10 % CPU for nothing on upright scans; a page whose lines come back
  with low confidence is read again turned 180° instead (tests/extractors/test_ocr.py);
- onnxruntime's spinning threads cost ~25 % CPU and wall on a shared machine (also measured A/B with
  interleaved pages: 3.99 → 3.11 s wall, 3.05 → 2.29 s CPU); a memory arena saved a further ~3 %
  and was left off to keep memory flat;
- resolution: recognition crops are resized to 48 px high whatever the scan's resolution, and the
  detector's input is capped, so 200 and 300 dpi cost what 150 dpi does; max_side (1760 vs 2000)
  makes no measurable difference;
- a larger recognition batch pads more (slower); per-character boxes cost ~2 %; one thread uses
  ~8 % less CPU than two — for throughput run two 1-thread workers, for latency one 2-thread worker;
- recognition is what is left (~70 %), linear in the number of characters: a dense page (520
  characters) costs ~1.7x a sparse one. Static int8 quantisation (onnxruntime.quantization, measured
  separately) made the detector 3x faster but the recogniser only ~12 %;
- target ≤0.5 s/page: not reached with onnxruntime (1.8-2.6 s here with about one core free;
  ~1.2-1.5 s on an idle machine, estimated from the CPU time); the same models on OpenVINO (bf16 on
  this CPU's AMX) take 1.0 s here, ~0.6 s dense / ~0.4 s sparse when the machine was quieter: the
  `rapidocr-openvino` backend, when the `openvino` package is installed.

`--soak 1000` (OcrWorker, rapidocr, 2 threads, recycle_after=500, the committed 100-dpi test page):
worker RSS 327.2 → 327.4 MiB from page 50 to 450 in the first process, 297.8 → 298.0 MiB from page
550 to 950 in the second (started by the recycling at page 500): flat; 0.86 s per page through the
worker, 2 process starts.

Why one module of this length: the page renderer, the configurations, the accuracy measure and the worker
soak are one benchmark script, run as a whole."""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extractors.model import Line  # noqa: E402
from extractors.ocr.base import get_backend  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
TEST_DATA = ROOT / "tests" / "extractors" / "data"

# -- contract text ----------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕"
    "丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏韦方邹熊白孟秦邱侯江尹薛段雷龙史陶贺毛郝顾龚邵万武钱戴严"
)
GIVEN = "晓明华丽强军伟芳娜敏静磊洋勇艳杰涛超秀英霞平刚桂兰志红建国文玉海燕云飞鹏辉俊峰宇浩然子涵欣怡"
CITIES = ["北京市", "上海市", "广州市", "深圳市", "成都市", "杭州市"]
DISTRICTS = [
    "朝阳区",
    "海淀区",
    "西城区",
    "东城区",
    "丰台区",
    "浦东新区",
    "徐汇区",
    "天河区",
    "南山区",
    "武侯区",
]
ROADS = ["建国路", "中山路", "人民路", "解放大道", "长安街", "滨江路", "文化路", "新华街", "科技园路"]
ESTATES = ["阳光花园", "金色家园", "翠湖小区", "锦绣华庭", "东方明珠苑", "滨江壹号", "幸福里"]
CLAUSES = (
    "买受人与出卖人本着平等、自愿、公平、诚实信用的原则，就买卖下列房屋事宜达成如下协议，"
    "双方共同遵守。出卖人保证该房屋权属清楚，不存在抵押、查封或其他权利限制，"
    "如因出卖人原因导致买受人不能取得房屋所有权的，出卖人应当退还全部已付房款并按照"
    "已付房款的百分之二十支付违约金。买受人应当按照本合同约定的时间和方式付款，"
    "逾期付款超过三十日的，出卖人有权解除合同。本合同一式四份，双方各执一份，"
    "其余交由不动产登记机构及税务机关，具有同等法律效力。"
)
TITLE = "房屋买卖合同"


def id_number(rng: random.Random) -> str:
    """A resident ID number with a valid check character."""
    body = rng.choice(["110101", "310104", "440106", "510107", "330106"])
    body += (
        f"{rng.randint(1955, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def amount_in_capitals(value: float) -> str:
    import cn2an

    return str(cn2an.an2cn(f"{value:.2f}", "rmb"))


def contract_lines(seed: int, *, layout: str = "dense") -> list[str]:
    """The body lines (without the title) of one contract page; `sparse` keeps the first 14."""
    rng = random.Random(seed)
    price = rng.randint(300_000, 9_800_000) + rng.choice([0, 0, rng.randint(1, 99) / 100])
    area = rng.randint(45, 260) + rng.randint(0, 99) / 100
    city = rng.choice(CITIES)
    address = (
        f"{city}{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randint(1, 399)}号"
        f"{rng.choice(ESTATES)}{rng.randint(1, 30)}号楼{rng.randint(1, 4)}单元{rng.randint(101, 2802)}室"
    )
    y, m, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    buyer, seller = person_name(rng), person_name(rng)
    lines = [
        f"合同编号：{city[:2]}{y}-{rng.randint(100000, 999999)}",
        f"出卖人：{seller}",
        f"证件号码：{id_number(rng)}",
        f"买受人：{buyer}",
        f"证件号码：{id_number(rng)}",
        f"联系电话：1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}",
        "第一条 房屋基本情况",
        f"房屋坐落：{address}",
        f"建筑面积：{area:.2f}平方米，套内面积：{area * 0.82:.2f}平方米",
        f"房屋用途：{rng.choice(['住宅', '商业', '办公'])}，产权证号：第{rng.randint(1000000, 9999999)}号",
        "第二条 成交价格与付款方式",
        f"总价款：{price:,.2f}元",
        f"大写：人民币{amount_in_capitals(price)}",
        f"首付款：{price * 0.3:,.2f}元，于{y}年{m}月{d}日前支付。",
    ]
    if layout == "sparse":
        return lines
    start = rng.randint(0, 30)
    text = CLAUSES[start:] + CLAUSES[:start]
    lines += [text[i : i + 34] for i in range(0, 34 * 6, 34)]
    lines += [f"签订日期：{y}年{m}月{d}日", f"出卖人（签章）：{seller}    买受人（签章）：{buyer}"]
    return lines


# -- rendering --------------------------------------------------------------------------------
def font(size_px: int) -> ImageFont.FreeTypeFont:
    if not FONT.is_file():
        raise SystemExit(f"{FONT} is missing: apt-get install -y fonts-wqy-zenhei")
    return ImageFont.truetype(str(FONT), size_px)


def degrade(img: Image.Image, *, dpi: int, seed: int, rotate: float = 2.0, jpeg: int = 60) -> Image.Image:
    """A scan's defects: rotation within ±`rotate`°, blur, Gaussian noise, JPEG artefacts."""
    rng = random.Random(seed)
    img = img.rotate(rng.uniform(-rotate, rotate), resample=Image.Resampling.BICUBIC, fillcolor="white")
    img = img.filter(ImageFilter.GaussianBlur(radius=0.4 * dpi / 150))
    arr = np.asarray(img).astype(np.float32)
    arr += np.random.default_rng(seed).normal(0, 10, arr.shape[:2])[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=jpeg)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def add_seal(img: Image.Image, cx: float, cy: float, r: float) -> Image.Image:
    """A red seal (ring and star, no text) over whatever is printed there."""
    seal = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(seal)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(210, 30, 30, 170), width=max(2, round(r / 16)))
    star = []
    for k in range(10):
        rad = r * (0.35 if k % 2 == 0 else 0.14)
        ang = np.pi / 2 + k * np.pi / 5
        star.append((cx + rad * np.cos(ang), cy - rad * np.sin(ang)))
    draw.polygon(star, fill=(210, 30, 30, 170))
    return Image.alpha_composite(img.convert("RGBA"), seal).convert("RGB")


def render_page(
    lines: Sequence[str],
    dpi: int,
    *,
    noisy: bool,
    seed: int = 0,
    title: str = TITLE,
    body_pt: float = 12,
) -> np.ndarray:
    """An A4 portrait page at `dpi` (RGB uint8): an 18 pt centred title, `body_pt` lines (12 pt),
    1 inch margins."""
    w, h = round(8.27 * dpi), round(11.69 * dpi)
    px = dpi / 72
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    body, head = font(round(body_pt * px)), font(round(18 * px))
    margin = round(72 * px)
    y = margin
    draw.text(((w - draw.textlength(title, font=head)) / 2, y), title, font=head, fill=(0, 0, 0))
    y += round(18 * px * 2.2)
    for line in lines:
        draw.text((margin, y), line, font=body, fill=(20, 20, 20))
        y += round(body_pt * px * 1.9)
    if noisy:
        img = add_seal(img, w * 0.72, y - 12 * px * 3, 40 * px)
        img = degrade(img, dpi=dpi, seed=seed * 7919 + dpi)
    return np.asarray(img)


@dataclass(frozen=True)
class TestPage:
    seed: int
    layout: str
    noisy: bool

    @property
    def label(self) -> str:
        return f"{self.layout}-{'noisy' if self.noisy else 'clean'}-{self.seed}"

    def lines(self) -> list[str]:
        return contract_lines(self.seed, layout=self.layout)

    def text(self) -> str:
        return "\n".join([TITLE, *self.lines()])

    def render(self, dpi: int) -> np.ndarray:
        return render_page(self.lines(), dpi, noisy=self.noisy, seed=self.seed)


PAGES = [
    TestPage(seed, layout, noisy)
    for seed, layout, noisy in [
        (1, "dense", False),
        (2, "sparse", True),
        (3, "dense", True),
        (4, "sparse", False),
        (5, "dense", False),
        (6, "sparse", True),
        (7, "dense", True),
        (8, "sparse", False),
    ]
]


# -- accuracy ---------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(truth: str, read: str) -> float:
    t = normalise(truth)
    return edit_distance(t, normalise(read)) / max(1, len(t))


def lines_text(lines: Sequence[Line], *, printed_only: bool = False) -> str:
    """The lines' text; `printed_only` leaves out lines without a letter or digit (the seal's star,
    which the models read as '★', is not text of the page)."""
    return "\n".join(line.text for line in lines if not printed_only or any(ch.isalnum() for ch in line.text))


# -- configurations ---------------------------------------------------------------------------
UNTUNED = {
    "max_side": 2000,
    "det_limit": "min",
    "det_side": 736,
    "use_cls": True,
    "flip_check": False,
    "word_boxes": False,
}
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "untuned": ("rapidocr", UNTUNED),
    "untuned-no-cls": ("rapidocr", {**UNTUNED, "use_cls": False}),
    "det1280": ("rapidocr", {"det_side": 1280}),
    "det960": ("rapidocr", {"det_side": 960}),
    "default": ("rapidocr", {}),
    "det640": ("rapidocr", {"det_side": 640}),
    "max2000": ("rapidocr", {"max_side": 2000}),
    "cls": ("rapidocr", {"use_cls": True}),
    "no-word-boxes": ("rapidocr", {"word_boxes": False}),
    "rec-batch-12": ("rapidocr", {"rec_batch": 12}),
    "threads-1": ("rapidocr", {"threads": 1}),
    "ort-spinning": ("rapidocr", {"ort_spinning": True}),
    "openvino": ("rapidocr-openvino", {}),
    "paddleocr": ("paddleocr", {}),
}
"""Name → (backend, options). `default` is RapidSettings() as shipped; the others change one lever
(the `untuned` ones reproduce rapidocr's own defaults). openvino and paddleocr run when installed."""


def median_of(values: Iterable[float]) -> float | None:
    v = list(values)
    return round(statistics.median(v), 3) if v else None


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, /proc/stat), or 0 if unknown."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def bench_config(
    name: str, dpis: Sequence[int], pages: Sequence[TestPage], threads: int, rendered: dict[Any, np.ndarray]
) -> dict[str, Any] | None:
    backend_name, options = CONFIGS[name]
    options = dict(options)
    threads = options.pop("threads", threads)
    try:
        started = time.perf_counter()
        backend = get_backend(backend_name, threads=threads, **options)
        load_s = time.perf_counter() - started
    except ImportError as exc:
        print(f"  {name}: skipped ({exc})", file=sys.stderr)
        return None
    result: dict[str, Any] = {"backend": backend_name, "options": options, "threads": threads}
    result["load_s"] = round(load_s, 2)
    backend.recognise(rendered[(pages[0], dpis[0])])  # warm-up
    per_dpi = {}
    for dpi in dpis:
        rows: list[dict[str, Any]] = []
        machine0, own0, wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        for page in pages:
            image = rendered[(page, dpi)]
            t0, c0 = time.perf_counter(), time.process_time()
            lines = backend.recognise(image)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
            rows.append(
                {
                    "page": page.label,
                    "seconds": round(seconds, 3),
                    "cpu_s": round(cpu, 3),
                    "cer": round(cer(page.text(), lines_text(lines)), 4),
                    "cer_text": round(cer(page.text(), lines_text(lines, printed_only=True)), 4),
                    "chars": len(normalise(page.text())),
                }
            )
        secs = [r["seconds"] for r in rows]
        wall = time.perf_counter() - wall0
        foreign = busy_cpu_seconds() - machine0 - (time.process_time() - own0)
        cores = os.cpu_count() or 1
        per_dpi[dpi] = {
            "median_s": round(statistics.median(secs), 3),
            "p95_s": round(percentile(secs, 0.95), 3),
            "cpu_median_s": median_of(r["cpu_s"] for r in rows),
            "dense_median_s": median_of(r["seconds"] for r in rows if "dense" in r["page"]),
            "sparse_median_s": median_of(r["seconds"] for r in rows if "sparse" in r["page"]),
            "other_load": round(max(0.0, foreign) / (wall * cores), 2),
            "cer_mean": round(statistics.fmean(r["cer"] for r in rows), 4),
            "cer_max": max(r["cer"] for r in rows),
            "cer_text_mean": round(statistics.fmean(r["cer_text"] for r in rows), 4),
            "pages": rows,
        }
        print(
            f"  {name:15s} {dpi:3d} dpi  median {per_dpi[dpi]['median_s']:.3f} s"
            f"  p95 {per_dpi[dpi]['p95_s']:.3f} s"
            f"  (dense {per_dpi[dpi]['dense_median_s']}, sparse {per_dpi[dpi]['sparse_median_s']})"
            f"  cpu {per_dpi[dpi]['cpu_median_s']:.3f} s  others' load {per_dpi[dpi]['other_load']:.0%}"
            f"  CER mean {per_dpi[dpi]['cer_mean']:.4f} max {per_dpi[dpi]['cer_max']:.4f}"
            f" (without the seal's ★: {per_dpi[dpi]['cer_text_mean']:.4f})",
            flush=True,
        )
    result["dpi"] = per_dpi
    close = getattr(backend, "close", None)
    if callable(close):
        close()
    return result


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    pages = PAGES[: args.pages]
    rendered = {(p, dpi): p.render(dpi) for p in pages for dpi in args.dpi}
    out: dict[str, Any] = {"configs": {}}
    for name in args.configs:
        res = bench_config(name, args.dpi, pages, args.threads, rendered)
        if res is not None:
            out["configs"][name] = res
    return out


# -- small print ------------------------------------------------------------------------------
def run_small_print(args: argparse.Namespace) -> dict[str, Any]:
    """CER of sparse pages printed small (7 and 8 pt at 150 dpi, 8 and 10 pt at 100 dpi, clean and
    noisy) per detector input size: where shrinking the detector's input starts to lose lines."""
    cases = [(150, 7.0), (150, 8.0), (100, 8.0), (100, 10.0)]
    pages = [TestPage(21, "sparse", False), TestPage(22, "sparse", True)]
    out: dict[str, Any] = {}
    for side in args.det_sides:
        backend = get_backend("rapidocr", threads=args.threads, det_side=side)
        for dpi, pt in cases:
            cers = []
            for page in pages:
                image = render_page(page.lines(), dpi, noisy=page.noisy, seed=page.seed, body_pt=pt)
                cers.append(round(cer(page.text(), lines_text(backend.recognise(image))), 4))
            out[f"det{side} {dpi}dpi {pt:g}pt"] = cers
            print(f"  det_side {side:4d}  {dpi} dpi {pt:4.1f} pt  CER clean/noisy {cers}", flush=True)
    return {"small_print": out}


# -- worker soak ------------------------------------------------------------------------------
def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    """Read the same page `--soak` times through one OcrWorker; the worker's RSS every 50 pages."""
    from extractors.ocr.worker import OcrWorker

    image = soak_page()
    samples: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with OcrWorker(
        args.backend, threads=args.threads, recycle_after=args.recycle_after, timeout=60
    ) as worker:
        worker.start()
        samples.append({"page": 0, "rss_mib": round(worker.rss_mib() or 0, 1), "pid": worker.pid})
        for i in range(1, args.soak + 1):
            lines = worker.recognise(image)
            if not lines:
                raise SystemExit(f"page {i}: nothing read")
            if i % 50 == 0 or i == args.soak:
                now = worker.rss_mib()
                samples.append(
                    {"page": i, "rss_mib": None if now is None else round(now, 1), "pid": worker.pid}
                )
                print(f"  page {i:5d}  worker RSS {samples[-1]['rss_mib']} MiB  pid {worker.pid}", flush=True)
        starts = worker.starts
    elapsed = time.perf_counter() - t0
    rss = [s["rss_mib"] for s in samples[1:] if s["rss_mib"] is not None]
    return {
        "backend": args.backend,
        "pages": args.soak,
        "recycle_after": args.recycle_after,
        "process_starts": starts,
        "seconds": round(elapsed, 1),
        "seconds_per_page": round(elapsed / args.soak, 3),
        "rss_first_mib": rss[0] if rss else None,
        "rss_min_mib": min(rss) if rss else None,
        "rss_max_mib": max(rss) if rss else None,
        "rss_last_mib": rss[-1] if rss else None,
        "samples": samples,
    }


def soak_page() -> np.ndarray:
    """The committed test page if present (no font needed), else a rendered sparse page."""
    path = TEST_DATA / "ocr_page.jpg"
    if path.is_file():
        return np.asarray(Image.open(path).convert("RGB"))
    return PAGES[1].render(150)


# -- test data --------------------------------------------------------------------------------
LINE_TEXT = "总价款：1,580,000.00元"
PAGE_LINES = [
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


def write_test_data() -> list[Path]:
    """Render the images the OCR tests read, so the tests need no font: one line of text (PNG) and an
    A4 page at 100 dpi with a seal, 1° rotation, noise and JPEG artefacts."""
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    f = font(40)
    probe = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    width = int(probe.textlength(LINE_TEXT, font=f)) + 60
    img = Image.new("RGB", (width, 90), "white")
    ImageDraw.Draw(img).text((30, 22), LINE_TEXT, font=f, fill=(10, 10, 10))
    line_path = TEST_DATA / "ocr_line.png"
    img.convert("L").save(line_path, optimize=True)

    dpi = 100
    w, h = round(8.27 * dpi), round(11.69 * dpi)
    px = dpi / 72
    page = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(page)
    head, body = font(round(20 * px)), font(round(13 * px))
    margin = round(60 * px)
    draw.text(((w - draw.textlength(TITLE, font=head)) / 2, margin), TITLE, font=head, fill=(0, 0, 0))
    y = margin + round(20 * px * 2.4)
    for line in PAGE_LINES:
        draw.text((margin, y), line, font=body, fill=(20, 20, 20))
        y += round(13 * px * 2.0)
    page = add_seal(page, w * 0.7, y + 40 * px, 38 * px)
    page = degrade(page, dpi=dpi, seed=11, rotate=1.0, jpeg=80)
    page_path = TEST_DATA / "ocr_page.jpg"
    page.save(page_path, "JPEG", quality=80)
    return [line_path, page_path]


# -- main -------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dpi", type=int, nargs="+", default=[150, 200, 300])
    parser.add_argument("--pages", type=int, default=len(PAGES), help="how many of the 8 test pages")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--soak", type=int, default=0, help="pages to read through one OcrWorker")
    parser.add_argument("--recycle-after", type=int, default=500)
    parser.add_argument("--backend", default="rapidocr", help="backend for --soak")
    parser.add_argument("--small-print", action="store_true", help="CER of small print per det_side")
    parser.add_argument("--det-sides", type=int, nargs="+", default=[544, 640, 736, 960])
    parser.add_argument("--write-test-data", action="store_true")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    if args.write_test_data:
        for path in write_test_data():
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")
        return
    run: Callable[[argparse.Namespace], dict[str, Any]] = run_speed
    if args.soak:
        run = run_soak
    elif args.small_print:
        run = run_small_print
    results = run(args)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if args.soak:
        print(json.dumps({k: v for k, v in results.items() if k != "samples"}, ensure_ascii=False))


if __name__ == "__main__":
    main()
