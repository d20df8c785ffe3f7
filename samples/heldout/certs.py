"""Layouts of the 2019-edition 营业执照 and of the 安全生产许可证 (建筑施工企业)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from contracts import Built
from data import Enterprise, capitals, cn_date, ymd
from render import INK, PT_MM, Page, box_stamp, qr, seal, text_width

SCOPES = [
    "房屋建筑工程施工总承包；市政公用工程施工总承包；建筑装修装饰工程专业承包；钢结构工程专业承包；地基基础工程专业承包；"
    "建筑劳务分包；机电设备安装（不含特种设备）；建筑材料销售；工程机械设备租赁。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "许可项目：建设工程施工；建设工程设计；住宅室内装饰装修。（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件或许可证件为准）"
    "一般项目：园林绿化工程施工；土石方工程施工；对外承包工程；建筑工程机械与设备租赁；金属结构制造。（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
    "市政道路工程、桥梁工程、城市及道路照明工程、给排水管道工程施工；环保工程施工；劳务派遣（不含涉外）；人力资源服务（不含职业中介活动）；"
    "企业管理咨询；会议及展览服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
]
TYPES = [
    "有限责任公司（自然人投资或控股）",
    "其他有限责任公司",
    "有限责任公司（非自然人投资或控股的法人独资）",
    "股份有限公司（非上市、自然人投资或控股）",
]
AUTHORITIES = [
    "成都市市场监督管理局",
    "成都市武侯区市场监督管理局",
    "成都市成华区市场监督管理局",
    "成都高新技术产业开发区市场监督管理局",
    "成都市双流区市场监督管理局",
]


def _wrap(
    pg: Page, x: float, y: float, width: float, text: str, font: str, size: float, lead: float, color=INK
) -> tuple[float, list[list[float]]]:
    line = ""
    boxes = []
    for ch in text:
        if line and text_width(line + ch, font, size) > width and ch not in "，。；、）":
            pg.text(x, y, line, font, size, color=color)
            boxes.append(
                [
                    round(x, 1),
                    round(y - size * PT_MM, 1),
                    round(x + text_width(line, font, size), 1),
                    round(y + 1, 1),
                ]
            )
            y += lead
            line = ""
        line += ch
    if line:
        pg.text(x, y, line, font, size, color=color)
        boxes.append(
            [
                round(x, 1),
                round(y - size * PT_MM, 1),
                round(x + text_width(line, font, size), 1),
                round(y + 1, 1),
            ]
        )
    return y, boxes


def capital_text(v: Decimal | None, rng: random.Random) -> str:
    v = v or Decimal(rng.choice([1000000, 5000000, 20000000]))
    wan = v / 10000
    if rng.random() < 0.5:
        return f"{capitals(wan)[:-2]}万元整"  # 伍仟万元整 (capitals of the 万 count)
    return f"（人民币）{wan:f}万元".replace(".00", "")


def licence(e: Enterprise, rng: random.Random, variant: str, fonts: tuple[str, str]) -> Built:
    """variant: original | copy (the copy is made from the rendered original by the caller)."""
    lab, val = fonts
    pg = Page(297, 210)
    boxes: dict[str, list[list[float]]] = {}
    est = e.established_on or date(2015, 3, 2)
    # decorative double frame
    pg.rect(8, 8, 289, 202, 1.6, (150, 110, 40))
    pg.rect(11, 11, 286, 199, 0.4, (150, 110, 40))
    for k in range(0, 270, 9):
        pg.poly([(14 + k, 9.5), (18.5 + k, 8.2), (23 + k, 9.5), (18.5 + k, 10.8)], (190, 150, 70))
    # code top-left
    pg.text(22, 26, "统一社会信用代码", lab, 10)
    pg.text(22, 35, e.credit_code, "nsansb" if lab != "song" else "hei", 14)
    boxes["credit_code"] = [[1, 22, 29, 22 + round(text_width(e.credit_code, "hei", 14), 1), 36]]
    pg.text(22, 43, f"（{rng.randrange(1, 3)}-1）", lab, 9)
    # QR top-right
    qr(pg, 248, 17, 26, f"http://www.gsxt.gov.cn/index?uniscid={e.credit_code}")
    for i, t in enumerate(
        ["扫描二维码登录", "‘国家企业信用", "信息公示系统’", "了解更多登记、", "备案、许可、监", "管信息。"]
    ):
        pg.text(222, 21 + i * 4, t, lab, 7)
    # title
    title_font = "nserifb" if lab != "hei" else "hei"
    pg.ctext(148.5, 48, "营　业　执　照", title_font, 38, color=(170, 30, 30))
    copy_no = rng.random() < 0.6
    if copy_no:
        pg.ctext(148.5, 58, "（副　　本）", lab, 13)
    rep = e.legal_rep
    lx, rx = 32.0, 160.0
    lw, vw = 27.0, 92.0
    y = 76.0
    lead = 7.2
    size_l, size_v = 11.0, 11.5
    capital = capital_text(e.capital_yuan, rng)
    term_end = rng.choice(
        ["长期", ymd(date(est.year + 30, est.month, min(est.day, 28)) - timedelta(days=1), "pad")]
    )
    term = f"{ymd(est, 'pad')} 至 {term_end}"
    left = [
        ("名　　称", e.name, "name"),
        ("类　　型", rng.choice(TYPES), None),
        ("法定代表人", rep, "legal_representative"),
        ("经营范围", rng.choice(SCOPES), None),
    ]
    right = [
        ("注册资本", capital, None),
        ("成立日期", ymd(est, rng.choice(["pad", "pad", "plain"])), "established_on"),
        ("营业期限", term, None),
        (
            "住　　所",
            e.address + rng.choice(["", "", "附1号", f"{rng.randrange(2, 20)}楼{rng.randrange(1, 20)}号"]),
            "address",
        ),
    ]
    for label, value, tag in left:
        pg.text(lx, y, label, lab, size_l)
        yy, bx = _wrap(
            pg,
            lx + lw,
            y,
            vw,
            value,
            val,
            size_v if tag != "name" else 12,
            lead * (0.8 if label == "经营范围" else 1),
        )
        if tag:
            boxes[tag] = [[1, *b] for b in bx]
        y = yy + lead * 1.15
        if label == "经营范围":
            break
    y = 76.0
    for label, value, tag in right:
        pg.text(rx, y, label, lab, size_l)
        yy, bx = _wrap(pg, rx + lw, y, 95, value, val, size_v, lead)
        if tag:
            boxes[tag] = [[1, *b] for b in bx]
        y = yy + lead * 1.15
    # authority and date under a seal
    auth = rng.choice(AUTHORITIES)
    reg = date(rng.randrange(2020, 2026), rng.randrange(1, 13), rng.randrange(1, 28))
    pg.text(200, 172, "登记机关", lab, 12)
    pg.text(
        222, 185, ymd(reg, "pad").replace("年", " 年 ").replace("月", " 月 ").replace("日", " 日"), val, 12
    )
    seal(pg, 238, 178, 21, auth, "", rot=rng.uniform(-8, 8))
    pg.ctext(148.5, 193, "国家企业信用信息公示系统网址：http://www.gsxt.gov.cn", lab, 8)
    pg.ctext(
        148.5,
        197.5,
        "市场主体应当于每年1月1日至6月30日通过国家企业信用信息公示系统报送公示年度报告。",
        lab,
        8,
    )
    pg.text(20, 197.5, "国家市场监督管理总局监制", lab, 7)
    after = None
    stamp_over: list[str] = []
    if variant == "copy":
        after_pg = Page(297, 210)
        roll = rng.random()
        if roll < 0.5:
            box_stamp(after_pg, rx + 10, 150, ["与原件核对一致"], 13)
            stamp_over.append("address")
        else:
            box_stamp(after_pg, lx + 40, 78, ["复印件与原件一致", "仅供办理行政许可使用"], 11)
            stamp_over.append("name")
        seal(after_pg, rx + 70, 120, 19, e.name, "", rot=rng.uniform(-20, 20))
        stamp_over.append("established_on")
        after = [after_pg]
    fields = {
        "name": e.name,
        "credit_code": e.credit_code,
        "legal_representative": rep,
        "address": right[3][1],
        "established_on": est.isoformat(),
    }
    printed = {
        "established_on": right[1][1],
        "term": term,
        "registered_capital": capital,
        "registered_on": ymd(reg, "pad"),
    }
    return Built(
        [pg],
        fields,
        printed,
        {
            "name": "名称",
            "credit_code": "统一社会信用代码",
            "legal_representative": "法定代表人",
            "address": "住所",
            "established_on": "成立日期",
        },
        boxes,
        variant,
        stamp_over,
        after,
        landscape=True,
    )


# ---------------------------------------------------------------------------------------------

BRACKETS = [
    ("（", "）", "〔", "〕"),
    ("(", ")", "[", "]"),
    ("（", "）", "【", "】"),
    ("(", ")", "〔", "〕"),
    ("（", "）", "[", "]"),
]


def permit_number(prov: str, year: int, serial: str, style: int) -> str:
    a, b, c, d = BRACKETS[style]
    return f"{a}{prov}{b}JZ安许证字{c}{year}{d}{serial}"


def safety_permit(
    e: Enterprise,
    number: str,
    start: date,
    end: date,
    issued: date,
    rng: random.Random,
    fonts: tuple[str, str],
    landscape: bool,
) -> Built:
    lab, val = fonts
    W, H = (297, 210) if landscape else (210, 297)
    pg = Page(W, H)
    boxes: dict[str, list[list[float]]] = {}
    col = (30, 60, 120) if rng.random() < 0.5 else (120, 60, 20)
    pg.rect(10, 10, W - 10, H - 10, 2.0, col)
    pg.rect(14, 14, W - 14, H - 14, 0.5, col)
    cx = W / 2
    top = 30 if landscape else 45
    pg.circle(cx, top, 9, 0.8, (200, 160, 40))
    pg.circle(cx, top, 6, 0.4, (200, 160, 40))
    pg.ctext(cx, top + 22, "安全生产许可证", "nserifb" if lab != "hei" else "hei", 30 if landscape else 28)
    if rng.random() < 0.5:
        pg.ctext(cx, top + 32, "（副　本）", lab, 13)
    y = top + (44 if landscape else 50)
    x_lab = 40 if landscape else 28
    x_val = x_lab + 32
    num_line_y = y
    pg.text(x_lab + (60 if landscape else 30), num_line_y, "编号：", lab, 13)
    nx = x_lab + (60 if landscape else 30) + text_width("编号：", lab, 13) + 1
    pg.text(nx, num_line_y, number, val, 13)
    boxes["permit_no"] = [
        [
            1,
            round(nx, 1),
            round(num_line_y - 5, 1),
            round(nx + text_width(number, val, 13), 1),
            round(num_line_y + 1, 1),
        ]
    ]
    y += 14
    style = rng.randrange(4)
    fp = ymd(start, "pad" if style != 1 else "plain")
    tp = ymd(end, "pad" if style != 1 else "plain")
    if style == 0:
        period = f"{fp}至{tp}"
    elif style == 1:
        period = f"{fp}—{tp}"
    elif style == 2:
        period = f"自{fp}至{tp}"
    else:
        period = f"{cn_date(start)}至{cn_date(end)}"
    principal = e.legal_rep
    items = [
        ("单 位 名 称", e.name, "enterprise_name"),
        ("主要负责人", principal, None),
        ("单 位 地 址", e.address, None),
        ("经 济 类 型", rng.choice(["有限责任公司", "股份有限公司", "私营企业"]), None),
        ("许 可 范 围", "建筑施工", None),
        ("有  效  期", period, "valid"),
    ]
    lead = 12 if landscape else 14
    size = 13
    for label, value, tag in items:
        pg.text(x_lab, y, label, lab, size)
        if rng.random() < 0.3 or landscape:
            pg.line(x_val - 1, y + 1.5, W - x_lab, y + 1.5, 0.2, (120, 120, 120))
        yy, bx = _wrap(pg, x_val, y, W - x_val - x_lab, value, val, size, lead * 0.75)
        if tag == "valid":
            boxes["valid_from"] = boxes["valid_to"] = [[1, *b] for b in bx]
        elif tag:
            boxes[tag] = [[1, *b] for b in bx]
        y = yy + lead
    auth = "四川省住房和城乡建设厅"
    by = H - (45 if landscape else 60)
    pg.text(W - 120, by, "发证机关：", lab, 13)
    pg.text(W - 120 + text_width("发证机关：", lab, 13), by, auth, val, 13)
    idate = ymd(issued, "pad") if rng.random() < 0.6 else cn_date(issued)
    pg.text(W - 120, by + 12, "发证日期：", lab, 13)
    pg.text(W - 120 + text_width("发证日期：", lab, 13), by + 12, idate, val, 13)
    seal(pg, W - 60, by + 2, 21, auth, "", rot=rng.uniform(-10, 10))
    pg.ctext(cx, H - 18, "中华人民共和国住房和城乡建设部监制", lab, 9)
    fields = {
        "permit_no": number,
        "enterprise_name": e.name,
        "valid_from": start.isoformat(),
        "valid_to": end.isoformat(),
    }
    printed = {"permit_no": number, "period": period, "issued": idate}
    return Built(
        [pg],
        fields,
        printed,
        {"permit_no": "编号", "enterprise_name": "单位名称", "valid_from": "有效期", "valid_to": "有效期"},
        boxes,
        "landscape" if landscape else "portrait",
        [],
        None,
        landscape,
    )
