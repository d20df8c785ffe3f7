# ruff: noqa: E501  (Chinese model-contract text is kept on one line per clause)
"""Layouts of purchase contracts: the 2014 national model (GF-2014-0171 预售 / GF-2014-0172 现售), two
city models of second-hand contracts (Beijing-style 存量房屋买卖合同 自行成交版, Shanghai-style
房地产买卖合同) and the bordered 房屋买卖合同信息表 / 契税申报附表."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from data import Person, capitals, date_parts, money, two, ymd
from render import PT_MM, RED, B, Doc, F, K, Page, Seg, X, seal, text_width


@dataclass
class Deal:
    buyers: list[Person]
    seller_name: str
    seller_code: str  # USCC of a developer, or ID number of a person seller
    seller_person: Person | None
    seller_rep: str
    seller_agent: Person | None
    buyer_agent: Person | None
    co_owner: Person | None  # the seller's co-owner (second-hand)
    district: str
    road: str
    building: str
    unit: str
    room: str
    floor: int
    area: Decimal
    inner: Decimal
    unit_price: Decimal
    price: Decimal
    method: int  # national model 第六条: 1 套内 2 建筑面积 3 按套
    signed_on: date
    contract_no: str
    project: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"成都市{self.district}{self.road}{self.building}栋{self.unit}单元{self.room}号"


@dataclass
class Built:
    pages: list[Page]
    fields: dict[str, Any]
    printed: dict[str, Any]
    labels: dict[str, str]
    boxes: dict[str, list[list[float]]]
    layout: str
    stamp_over_fields: list[str] = field(default_factory=list)
    after: list[Page] | None = None  # stamps put on after copying (drawn over the degraded image)
    landscape: bool = False


def contract_fields(d: Deal) -> dict[str, Any]:
    return {
        "buyer_names": [b.name for b in d.buyers],
        "buyer_id_numbers": [b.id_number for b in d.buyers],
        "seller": d.seller_name,
        "house_address": d.address,
        "area_m2": two(d.area),
        "price_yuan": two(d.price),
        "signed_on": d.signed_on.isoformat(),
        "usage": "residential",
    }


def _tick(options: list[str], chosen: int, style: str = "in") -> list[Seg]:
    out: list[Seg] = []
    for i, o in enumerate(options):
        if i == chosen:
            out += [B("【"), K(), B(o + "】")] if style == "in" else [B("【" + o), K(), B("】")]
        else:
            out.append(B(f"【{o}】"))
    return out


def _dparts(d: date, style: str, tag: str | None) -> list[Seg]:
    y, m, dd = date_parts(d, style)
    return [F(y, tag, 2.5), B("年"), F(m, tag, 1.6), B("月"), F(dd, tag, 1.6), B("日")]


def _party_person(
    doc: Doc,
    role: str,
    p: Person,
    rng: random.Random,
    name_tag: str | None,
    id_tag: str | None,
    agent: Person | None,
    tick_style: str,
) -> None:
    doc.para([B(f"{role}："), F(p.name, name_tag, 6)])
    doc.para([B("【法定代表人】："), X(6)])
    doc.para(
        [B("【国籍】【户籍所在地】："), F(rng.choice(["中国", "中国四川省成都市", "四川省成都市"]), None, 6)]
    )
    doc.para(
        [
            B("证件类型："),
            *_tick(["居民身份证", "护照", "营业执照"], 0, tick_style),
            B("【 】，证号："),
            F(p.id_number, id_tag, 10),
        ]
    )
    doc.para([B("出生日期："), *_dparts(p.birth, "plain", None), B("，性别："), F(p.gender, None, 2)])
    doc.para([B("通讯地址："), F(p.address, None, 12)])
    doc.para([B("邮政编码："), F(p.postcode, None, 4), B("   联系电话："), F(p.phone, None, 7)])
    if agent is not None:
        doc.para([B("【委托代理人】【法定代理人】："), F(agent.name, None, 5)])
        doc.para([B("【国籍】【户籍所在地】："), F("中国", None, 4)])
        doc.para(
            [
                B("证件类型："),
                *_tick(["居民身份证", "护照", "营业执照"], 0, tick_style),
                B("【 】，证号："),
                F(agent.id_number, None, 10),
            ]
        )
        doc.para(
            [B("出生日期："), *_dparts(agent.birth, "plain", None), B("，性别："), F(agent.gender, None, 2)]
        )
        doc.para([B("通讯地址："), F(agent.address, None, 12)])
        doc.para([B("邮政编码："), F(agent.postcode, None, 4), B("   联系电话："), F(agent.phone, None, 7)])
    else:
        doc.para([B("【委托代理人】【法定代理人】："), X(6)])
        doc.para([B("证件类型：【居民身份证】【护照】【营业执照】【 】，证号："), X(8)])
    doc.space(1.5)


# ---------------------------------------------------------------------------------------------
# GF-2014-0171 / GF-2014-0172


def national_model(d: Deal, rng: random.Random, presale: bool, fonts: tuple[str, str]) -> Built:
    body, fill = fonts
    doc = Doc(font=body, fill_font=fill, size=rng.choice([10.5, 11.0]), lead=rng.uniform(1.75, 1.95))
    code = "GF—2014—0171" if presale else "GF—2014—0172"
    kind = "预售" if presale else "现售"
    measured = "预测" if presale else "实测"
    tick_style = rng.choice(["in", "after"])
    date_style = rng.choice(["plain", "pad", "cn", "plain"])
    # cover
    p = doc.page
    p.text(25, 30, "合同编号：", body, 11)
    p.text(25 + text_width("合同编号：", body, 11) + 2, 30, d.contract_no, fill, 12)
    p.line(25 + text_width("合同编号：", body, 11), 31.2, 100, 31.2, 0.25)
    p.ctext(105, 95, "商品房买卖合同", "nserifb" if body != "hei" else "hei", 30)
    p.ctext(105, 112, f"（{kind}）", body, 20)
    p.ctext(105, 126, "示范文本", body, 18)
    p.ctext(105, 240, "中华人民共和国住房和城乡建设部", body, 14)
    p.ctext(105, 250, "中华人民共和国国家工商行政管理总局", body, 14)
    p.ctext(105, 260, "制定", body, 14)
    p.ctext(105, 275, "二〇一四年四月", body, 12)
    p.rtext(185, 22, code, "hei", 12)
    # 说明 and terms
    doc.new_page()
    doc.heading("说　　明", 14)
    notes = [
        "1．本合同文本为示范文本，由中华人民共和国住房和城乡建设部、中华人民共和国国家工商行政管理总局共同制定。各地可在有关法律法规、规定的范围内，结合实际情况调整合同相应内容。",
        "2．签订本合同前，出卖人应当向买受人出示有关权属证书或证明文件。",
        "3．出卖人应当就合同重大事项对买受人尽到提示义务。买受人应当审慎签订合同，在签订本合同前，要仔细阅读合同条款，特别是审阅其中具有选择性、补充性、修改性的内容，注意防范潜在的市场风险和交易风险。",
        "4．本合同文本【】中选择内容，以划√方式选定；对于实际情况未发生或买卖双方不作约定时，应当在空格部位打×，以示删除。",
        "5．出卖人与买受人可以针对本合同文本中没有约定或者约定不明确的内容，根据所售项目的具体情况在相关条款后的空白行中进行补充约定，也可以另行签订补充协议。",
        "6．双方当事人可以根据实际情况决定本合同原件的份数，并在签订合同时认真核对，以确保各份合同内容一致；在任何情况下，出卖人和买受人都应当至少持有一份合同原件。",
    ]
    for n in notes:
        doc.para([B(n)], first=text_width("　　", body, doc.size))
    doc.heading("专业术语解释", 12)
    for n in [
        "1．商品房"
        + ("预售" if presale else "现售")
        + "：是指房地产开发企业将"
        + ("正在建设中的" if presale else "竣工验收合格的")
        + "商品房出售给买受人，并由买受人支付房价款的行为。",
        "2．法定代理人：是指依照法律规定直接取得代理权的人。",
        "3．套内建筑面积：是指成套房屋的套内建筑面积，由套内使用面积、套内墙体面积、套内阳台建筑面积三部分组成。",
        "4．房屋的建筑面积：是指房屋外墙（柱）勒脚以上各层的外围水平投影面积，包括阳台、挑廊、地下室、室外楼梯等，且具备有上盖，结构牢固，层高2.20M以上（含2.20M）的永久性建筑。",
        "5．不可抗力：是指不能预见、不能避免并不能克服的客观情况。",
    ]:
        doc.para([B(n)], first=text_width("　　", body, doc.size))
    # chapter 1
    doc.new_page()
    doc.heading("商品房买卖合同（" + kind + "）", 15)
    doc.para(
        [
            B(
                "出卖人向买受人出售其开发建设的房屋，双方当事人应当在自愿、平等、公平及诚实信用的基础上，根据《中华人民共和国合同法》《中华人民共和国物权法》《中华人民共和国城市房地产管理法》等法律、法规的规定，就商品房买卖相关内容协商达成一致意见，签订本商品房买卖合同。"
            )
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.heading("第一章　合同当事人", 12)
    doc.para([B("出卖人："), F(d.seller_name, "seller", 10)])
    doc.para([B("通讯地址："), F(d.extras["seller_address"], None, 12)])
    doc.para([B("邮政编码："), F(d.extras["seller_post"], None, 4)])
    lic_label = rng.choice(["营业执照注册号：", "统一社会信用代码：", "营业执照注册号（统一社会信用代码）："])
    doc.para([B(lic_label), F(d.seller_code, None, 10)])
    doc.para([B("企业资质证书号："), F(d.extras["qualification"], None, 8)])
    doc.para(
        [
            B("法定代表人："),
            F(d.seller_rep, None, 4),
            B("   联系电话："),
            F(d.extras["seller_phone"], None, 6),
        ]
    )
    if d.seller_agent is not None:
        doc.para(
            [
                B("委托代理人："),
                F(d.seller_agent.name, None, 4),
                B("   联系电话："),
                F(d.seller_agent.phone, None, 6),
            ]
        )
        doc.para([B("委托代理人证件号码："), F(d.seller_agent.id_number, None, 10)])
    else:
        doc.para([B("委托代理人："), X(5), B("   联系电话："), X(5)])
    if d.extras.get("broker"):
        doc.para([B("委托销售经纪机构："), F(d.extras["broker"], None, 10)])
        doc.para([B("通讯地址："), F(d.extras["broker_address"], None, 10)])
        doc.para([B("营业执照注册号："), F(d.extras["broker_code"], None, 10)])
        doc.para([B("经纪机构备案证明号："), F(d.extras["broker_filing"], None, 6)])
    else:
        doc.para([B("委托销售经纪机构："), X(8)])
        doc.para([B("营业执照注册号："), X(8), B("  经纪机构备案证明号："), X(5)])
    doc.space(2)
    for i, b in enumerate(d.buyers):
        agent = d.buyer_agent if i == 0 else None
        _party_person(doc, "买受人", b, rng, "buyer_names", "buyer_id_numbers", agent, tick_style)
    # chapter 2
    doc.heading("第二章　商品房基本状况", 12)
    doc.para(
        [
            B(
                "第一条　项目建设依据",
            )
        ]
    )
    land_date = date(2085 + rng.randrange(0, 5), rng.randrange(1, 13), rng.randrange(1, 28))
    doc.para(
        [
            B("1．出卖人以"),
            *_tick(["出让", "划拨"], 0, tick_style),
            B("方式取得坐落于"),
            F(d.district + d.road + "地块", None, 8),
            B("地块的建设用地使用权。该地块【国有土地使用证号】"),
            F(d.extras["land_cert"], None, 8),
            B("，土地使用权面积为"),
            F(d.extras["land_area"], None, 4),
            B("平方米。买受人购买的商品房所占用的土地用途为"),
            F("城镇住宅用地", None, 5),
            B("，土地使用权终止日期为"),
            *_dparts(land_date, "plain", None),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("2．出卖人经批准，在上述地块上建设的商品房项目核准名称为"),
            F(d.project, None, 6),
            B("，建设工程规划许可证号为"),
            F(d.extras["plan_permit"], None, 8),
            B("，建筑工程施工许可证号为"),
            F(d.extras["build_permit"], None, 8),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    if presale:
        doc.para([B("第二条　预售依据")])
        doc.para(
            [
                B("该商品房已由"),
                F("成都市住房和城乡建设局", None, 8),
                B("批准预售，预售许可证号为"),
                F(d.extras["sale_permit"], None, 8),
                B("。"),
            ],
            first=text_width("　　", body, doc.size),
        )
    else:
        doc.para([B("第二条　销售依据")])
        doc.para(
            [
                B("该商品房已取得"),
                *_tick(["房屋所有权证", "不动产权证书"], 1, tick_style),
                B("，证号为"),
                F(d.extras["sale_permit"], None, 8),
                B("；该商品房已于"),
                *_dparts(d.extras["completed_on"], "plain", None),
                B("通过竣工验收。"),
            ],
            first=text_width("　　", body, doc.size),
        )
    doc.para([B("第三条　商品房基本情况")])
    doc.para(
        [B("1．该商品房的规划用途为"), *_tick(["住宅", "办公", "商业"], 0, tick_style), B("【 】。")],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("2．该商品房所在建筑物的主体结构为"),
            F("钢筋混凝土", None, 5),
            B("，建筑总层数为"),
            F(str(d.extras["storeys"]), None, 2),
            B("层，其中地上"),
            F(str(d.extras["storeys"]), None, 2),
            B("层，地下"),
            F(str(d.extras["basement"]), None, 2),
            B("层。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("3．该商品房为第一条规定项目中的"),
            F(d.building, None, 2),
            B("【幢】【座】"),
            F(d.unit, None, 2),
            B("【单元】【层】"),
            F(d.room, None, 3),
            B("号。房屋竣工后，如房号发生改变，不影响该商品房的特定位置。该商品房的平面图见附件一。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    shared = d.area - d.inner
    doc.para(
        [
            B("4．该商品房的房产测绘机构为"),
            F(d.extras["surveyor"], None, 8),
            B(f"，其{measured}建筑面积共"),
            F(money(d.area, False), "area_m2", 3),
            B("平方米，其中套内建筑面积"),
            F(money(d.inner, False), None, 3),
            B("平方米，分摊共有建筑面积"),
            F(money(shared, False), None, 3),
            B("平方米。该商品房共用部位见附件二。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("该商品房层高为"),
            F(d.extras["height"], None, 2),
            B("米，有"),
            F("2", None, 1.5),
            B("个阳台，其中"),
            F("1", None, 1.5),
            B("个阳台为封闭式，"),
            F("1", None, 1.5),
            B("个阳台为非封闭式。阳台是否封闭以规划设计文件为准。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第四条　抵押情况")])
    doc.para(
        [
            B("与该商品房有关的抵押情况为"),
            *_tick(["抵押", "未抵押"], 1, tick_style),
            B("。抵押人："),
            X(5),
            B("，抵押权人："),
            X(5),
            B("，抵押登记机构："),
            X(5),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第五条　房屋权利状况承诺")])
    doc.para(
        [
            B(
                "出卖人对该商品房享有合法权利；该商品房没有出售给除本合同买受人以外的其他人；该商品房没有司法查封或其他限制转让的情况。如该商品房权利状况与上述情况不符，导致不能完成本合同登记备案或房屋所有权转移登记的，买受人有权解除合同。"
            )
        ],
        first=text_width("　　", body, doc.size),
    )
    # chapter 3
    doc.heading("第三章　商品房价款", 12)
    doc.para([B("第六条　计价方式与价款")])
    doc.para(
        [B("出卖人与买受人按照下列第"), F(str(d.method), None, 1.5), B("种方式计算该商品房价款：")],
        first=text_width("　　", body, doc.size),
    )
    cur = rng.choice(["人民币", "人民币"])
    cap = capitals(d.price)
    cap_short = cap[:-2] if cap.endswith("元整") else cap
    for m, text in (
        (1, "按照套内建筑面积计算，该商品房单价为每平方米"),
        (2, "按照建筑面积计算，该商品房单价为每平方米"),
    ):
        if m == d.method:
            unit = d.price / (d.inner if m == 1 else d.area)
            doc.para(
                [
                    B(f"{m}．{text}"),
                    F(cur, None, 2),
                    B("（币种）"),
                    F(money(unit.quantize(Decimal("0.01")), False), None, 4),
                    B("元，总价款为"),
                    F(cur, None, 2),
                    B("（币种）"),
                    F(money(d.price, rng.random() < 0.5), "price_yuan", 5),
                    B("元（大写"),
                    F(cap_short, "price_yuan_capital", 8),
                    B("元整）。" if cap.endswith("元整") else "）。"),
                ],
                first=text_width("　　", body, doc.size),
            )
        else:
            doc.para(
                [
                    B(f"{m}．{text}"),
                    X(2),
                    B("（币种）"),
                    X(3),
                    B("元，总价款为"),
                    X(2),
                    B("（币种）"),
                    X(4),
                    B("元（大写"),
                    X(5),
                    B("元整）。"),
                ],
                first=text_width("　　", body, doc.size),
            )
    if d.method == 3:
        doc.para(
            [
                B("3．按照套计算，该商品房总价款为"),
                F(cur, None, 2),
                B("（币种）"),
                F(money(d.price, rng.random() < 0.5), "price_yuan", 5),
                B("元（大写"),
                F(cap_short, "price_yuan_capital", 8),
                B("元整）。" if cap.endswith("元整") else "）。"),
            ],
            first=text_width("　　", body, doc.size),
        )
    else:
        doc.para(
            [
                B("3．按照套计算，该商品房总价款为"),
                X(2),
                B("（币种）"),
                X(4),
                B("元（大写"),
                X(5),
                B("元整）。"),
            ],
            first=text_width("　　", body, doc.size),
        )
    doc.para(
        [
            B("4．按照"),
            X(3),
            B("计算，该商品房总价款为"),
            X(2),
            B("（币种）"),
            X(4),
            B("元（大写"),
            X(5),
            B("元整）。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第七条　付款方式及期限")])
    deposit = Decimal(rng.choice([20000, 30000, 50000, 100000]))
    first_pay = (d.price * Decimal(rng.choice(["0.3", "0.35", "0.4"]))).quantize(Decimal("1"))
    doc.para(
        [
            B("（一）签订本合同前，买受人已向出卖人支付定金"),
            F(cur, None, 2),
            B("（币种）"),
            F(money(deposit, False), None, 3),
            B("元（大写"),
            F(capitals(deposit), None, 4),
            B("），该定金于"),
            *_tick(["本合同签订", "交付首付款"], 0, tick_style),
            B("【 】时【抵作】【 】商品房价款。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    pay_by = d.signed_on + timedelta(days=rng.randrange(3, 20))
    doc.para(
        [
            B("（二）买受人采取下列第"),
            F("3", None, 1.5),
            B("种方式付款：1．一次性付款；2．分期付款；3．贷款方式付款："),
            *_tick(["公积金贷款", "商业贷款"], 1, tick_style),
            B("。买受人应当于"),
            *_dparts(pay_by, "plain", None),
            B("前支付首期价款"),
            F(cur, None, 2),
            B("（币种）"),
            F(money(first_pay, False), None, 4),
            B("元，占全部价款的"),
            F(str(round(first_pay * 100 / d.price)), None, 1.5),
            B("%。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第八条　逾期付款责任")])
    doc.para(
        [
            B("除不可抗力外，买受人未按照约定时间付款的，双方同意按照下列方式处理：逾期在"),
            F("60", None, 1.5),
            B("日之内，买受人按日计算向出卖人支付逾期应付款万分之"),
            F("五", None, 1.5),
            B("的违约金。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    # chapter 4–10 (condensed, with distractor dates)
    doc.heading("第四章　商品房交付条件与交付手续", 12)
    deliver = d.extras["deliver_on"]
    doc.para([B("第九条　商品房交付条件")])
    doc.para(
        [
            B("该商品房交付时应当符合下列第1、2、"),
            F("3", None, 1.5),
            B(
                "项所列条件：1．该商品房已取得建设工程竣工验收备案证明文件；2．该商品房已取得房屋测绘报告；3．"
            ),
            X(6),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第十条　交付时间和手续")])
    doc.para(
        [
            B("出卖人应当在"),
            *_dparts(deliver, "plain", None),
            B("前向买受人交付该商品房。该商品房达到第九条约定的交付条件后，出卖人应当在交付日期届满前"),
            F("10", None, 1.5),
            B(
                "日（不少于10日）将查验房屋的时间、办理交付手续的时间地点以及应当携带的证件材料的通知书面送达买受人。"
            ),
        ],
        first=text_width("　　", body, doc.size),
    )
    if presale:
        doc.heading("第五章　面积差异处理方式", 12)
        doc.para([B("第十一条　面积差异处理")])
        doc.para(
            [
                B(
                    "该商品房交付时，出卖人应当向买受人出示房屋测绘报告，并向买受人提供该商品房的面积实测数据（以下简称实测面积）。实测面积与第三条载明的预测面积发生误差的，双方同意按照第"
                ),
                F("1", None, 1.5),
                B(
                    "种方式处理：1．根据第六条按照套内建筑面积计价的约定，双方同意按照下列原则处理：套内建筑面积误差比绝对值在3%以内（含3%）的，据实结算房价款。"
                ),
            ],
            first=text_width("　　", body, doc.size),
        )
    doc.heading("第" + ("六" if presale else "五") + "章　商品房质量及保修责任", 12)
    doc.para(
        [
            B(
                "出卖人承诺该商品房使用合格的建筑材料、构配件，该商品房质量符合国家和地方工程建设强制性标准；该商品房的保修期自房屋交付之日起计算，具体保修范围、期限和责任见附件八。"
            )
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.heading("第" + ("七" if presale else "六") + "章　合同备案与房屋登记", 12)
    doc.para(
        [
            B("出卖人应当自本合同签订之日起"),
            F("30", None, 1.5),
            B(
                "日内（不超过30日）办理商品房"
                + ("预售" if presale else "现售")
                + "合同登记备案手续，并将本合同登记备案情况告知买受人。"
                "双方同意共同向房屋登记机构申请办理该商品房的房屋所有权转移登记。"
            ),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.heading("第" + ("八" if presale else "七") + "章　其他事项", 12)
    doc.para([B("第二十九条　争议解决方式")])
    doc.para(
        [
            B(
                "本合同在履行过程中发生的争议，由双方当事人协商解决，也可通过消费者协会等相关机构调解；或按照下列第"
            ),
            F("2", None, 1.5),
            B("种方式解决：1．提交"),
            X(4),
            B("仲裁委员会仲裁；2．依法向"),
            F("房屋所在地", None, 4),
            B("人民法院起诉。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第三十条　补充协议")])
    doc.para(
        [B("对本合同中未约定或约定不明的内容，双方可根据具体情况签订书面补充协议（补充协议见附件十一）。")],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第三十一条　合同生效")])
    copies = rng.choice(["四", "五", "六"])
    doc.para(
        [
            B("本合同自双方签字或盖章之日起生效。本合同的解除应当采用书面形式。本合同及附件共"),
            F(str(rng.randrange(18, 40)), None, 1.5),
            B("页，一式"),
            F(copies, None, 1.5),
            B("份，其中出卖人"),
            F("二", None, 1.5),
            B("份，买受人"),
            F("二", None, 1.5),
            B("份，【"),
            F("房屋登记机构", None, 4),
            B("】【 】"),
            F("一", None, 1.5),
            B("份。合同附件与本合同具有同等法律效力。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    # signatures
    doc.need(70)
    doc.space(6)
    y0 = doc.y
    half = (doc.w - doc.ml - doc.mr) / 2
    doc.para([B("出卖人（签字或盖章）：")], x0=doc.ml, width=half)
    doc.para([B("【法定代表人】（签字或盖章）："), F(d.seller_rep, None, 3)], x0=doc.ml, width=half)
    doc.para(
        [B("【委托代理人】（签字或盖章）："), F(d.seller_agent.name, None, 3) if d.seller_agent else X(3)],
        x0=doc.ml,
        width=half,
    )
    doc.para([B("签订时间："), *_dparts(d.signed_on, date_style, "signed_on")], x0=doc.ml, width=half)
    doc.para([B("签订地点："), F("成都市", None, 4)], x0=doc.ml, width=half)
    yl = doc.y
    doc.y = y0
    xr = doc.ml + half + 4
    doc.para(
        [B("买受人（签字或盖章）："), F("、".join(b.name for b in d.buyers), None, 3)], x0=xr, width=half
    )
    doc.para([B("【法定代表人】（签字或盖章）："), X(3)], x0=xr, width=half)
    doc.para(
        [
            B("【委托代理人】【法定代理人】（签字或盖章）："),
            F(d.buyer_agent.name, None, 3) if d.buyer_agent else X(3),
        ],
        x0=xr,
        width=half,
    )
    doc.para([B("签订时间："), *_dparts(d.signed_on, date_style, "signed_on")], x0=xr, width=half)
    doc.para([B("签订地点："), F("成都市", None, 4)], x0=xr, width=half)
    doc.y = max(doc.y, yl)
    stamp_over = []
    sx = doc.ml + half * 0.45
    sy = y0 + 15
    seal(doc.page, sx, sy, 20, d.seller_name, "合同专用章", rot=rng.uniform(-15, 15))
    if rng.random() < 0.5:
        stamp_over.append("signed_on")
    # page numbers
    total = len(doc.pages)
    for i, pg in enumerate(doc.pages[1:], start=2):
        pg.ctext(105, 287, f"第 {i - 1} 页 共 {total - 1} 页", body, 9)
    printed = {
        "area_m2": money(d.area, False),
        "price_yuan": None,
        "signed_on": "".join(date_parts(d.signed_on, date_style)[i] + "年月日"[i] for i in range(3)),
    }
    return Built(
        doc.pages,
        contract_fields(d),
        printed,
        {
            "buyer_names": "买受人",
            "buyer_id_numbers": "证号",
            "seller": "出卖人",
            "area_m2": f"{measured}建筑面积共",
            "price_yuan": "总价款为",
            "signed_on": "签订时间",
        },
        doc.boxes,
        "GF-2014-0171" if presale else "GF-2014-0172",
        stamp_over,
    )


# ---------------------------------------------------------------------------------------------
# Second-hand: Beijing-style 存量房屋买卖合同（自行成交版）


def _seller_person_block(
    doc: Doc,
    label: str,
    p: Person,
    rng: random.Random,
    co: Person | None,
    agent: Person | None,
    tag_name: str | None,
    tag_id: str | None,
    style: str,
) -> None:
    doc.para([B(label), F(p.name, tag_name, 6)])
    doc.para([B("【本人】【法定代表人】姓名："), F(p.name, None, 4), B("  国籍："), F("中国", None, 2)])
    doc.para([*_tick(["身份证", "护照", "营业执照"], 0, style), B("【 】："), F(p.id_number, tag_id, 10)])
    doc.para([B("出生日期："), F(ymd(p.birth, "plain"), None, 6), B("  性别："), F(p.gender, None, 1.5)])
    doc.para([B("通讯地址："), F(p.address, None, 12)])
    doc.para([B("邮政编码："), F(p.postcode, None, 4), B("  联系电话："), F(p.phone, None, 6)])
    if co is not None:
        doc.para([B("共有权人："), F(co.name, None, 4), B("  国籍："), F("中国", None, 2)])
        doc.para(
            [
                *_tick(["身份证", "护照"], 0, style),
                B("【 】："),
                F(co.id_number, None, 10),
                B("  联系电话："),
                F(co.phone, None, 5),
            ]
        )
    if agent is not None:
        doc.para([B("【委托代理人】【 】姓名："), F(agent.name, None, 4), B("  国籍："), F("中国", None, 2)])
        doc.para(
            [B("身份证号码："), F(agent.id_number, None, 10), B("  联系电话："), F(agent.phone, None, 5)]
        )
    else:
        doc.para([B("【委托代理人】【 】姓名："), X(4)])
    doc.space(2)


def beijing_secondhand(d: Deal, rng: random.Random, fonts: tuple[str, str]) -> Built:
    body, fill = fonts
    doc = Doc(font=body, fill_font=fill, size=10.5, lead=rng.uniform(1.7, 1.9))
    style = rng.choice(["in", "after"])
    p = doc.page
    p.text(25, 28, "合同编号：", body, 11)
    p.text(48, 28, d.contract_no, fill, 12)
    p.line(46, 29.3, 110, 29.3, 0.25)
    p.ctext(105, 90, "存量房屋买卖合同", "nserifb" if body != "hei" else "hei", 28)
    p.ctext(105, 106, "（自行成交版）", body, 16)
    p.ctext(105, 250, "成都市住房和城乡建设局　成都市市场监督管理局　制定", body, 12)
    p.ctext(105, 262, "二〇二五年版", body, 12)
    doc.new_page()
    doc.heading("存量房屋买卖合同", 15)
    seller = d.seller_person
    assert seller is not None
    lab_s = rng.choice(["出卖人（甲方）：", "出卖人："])
    lab_b = "买受人（乙方）：" if "甲方" in lab_s else "买受人："
    _seller_person_block(doc, lab_s, seller, rng, d.co_owner, d.seller_agent, "seller", None, style)
    for i, b in enumerate(d.buyers):
        _seller_person_block(
            doc,
            lab_b,
            b,
            rng,
            None,
            d.buyer_agent if i == len(d.buyers) - 1 else None,
            "buyer_names",
            "buyer_id_numbers",
            style,
        )
    doc.para(
        [
            B(
                "根据《中华人民共和国民法典》《中华人民共和国城市房地产管理法》及其他有关法律、法规之规定，出卖人和买受人在平等、自愿、协商一致的基础上，就买卖存量房屋达成如下协议："
            )
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第一条　房屋基本情况")])
    doc.para(
        [
            B("（一）房屋坐落：成都市"),
            F(d.district, "house_address", 3),
            B("【区(县)】"),
            F(d.road, "house_address", 5),
            B("【小区(街道)】"),
            F(d.building, "house_address", 1.5),
            B("【幢】"),
            X(1.5),
            B("【座】"),
            X(1.5),
            B("【号(楼)】"),
            F(d.unit, "house_address", 1.5),
            B("单元"),
            F(d.room, "house_address", 2.5),
            B("号(室)。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    inner_first = rng.random() < 0.4
    area_seg = [B("房屋建筑面积"), F(money(d.area, False), "area_m2", 3), B("平方米")]
    inner_seg = [B("套内建筑面积"), F(money(d.inner, False), None, 3), B("平方米")]
    doc.para(
        [
            B("（二）该房屋"),
            *([*inner_seg, B("，"), *area_seg] if inner_first else [*area_seg, B("，其中"), *inner_seg]),
            B("；房屋规划设计用途为"),
            F("住宅", None, 2),
            B("；该房屋所在楼栋共"),
            F(str(d.extras["storeys"]), None, 1.5),
            B("层，该房屋所在楼层为第"),
            F(str(d.floor), None, 1.5),
            B("层。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("（三）房屋权属证书号："),
            *_tick(["房屋所有权证", "不动产权证书"], 1, style),
            F(d.extras["cert_no"], None, 8),
            B("；填发单位："),
            F("成都市不动产登记中心", None, 6),
            B("；登记日期："),
            F(ymd(d.extras["registered_on"], "pad"), None, 5),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第二条　房屋权属状况")])
    doc.para(
        [
            B("（一）该房屋所有权证证载所有权人为"),
            F(seller.name + ("、" + d.co_owner.name if d.co_owner else ""), None, 4),
            B("，该房屋为"),
            *_tick(["单独所有", "共同共有", "按份共有"], 1 if d.co_owner else 0, style),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("（二）该房屋抵押状况为"),
            *_tick(["未设定抵押", "已设定抵押"], 0, style),
            B("；出卖人保证该房屋没有产权纠纷，未被限制转让。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第三条　成交价格、付款方式及资金划转方式")])
    cap = capitals(d.price)
    price_first = rng.random() < 0.6
    price_segs = [
        B("该房屋成交价格为：人民币"),
        F(money(d.price, True), "price_yuan", 5),
        B("元（小写），"),
        F(cap, "price_yuan_capital", 8),
        B("（大写）"),
    ]
    unit_segs = [B("单价为每平方米人民币"), F(money(d.unit_price, False), None, 3), B("元")]
    doc.para(
        [
            B("（一）经买卖双方协商一致，"),
            *([*price_segs, B("；"), *unit_segs] if price_first else [*unit_segs, B("，"), *price_segs]),
            B("。其中附属设施设备、装饰装修价款人民币"),
            F(money(d.extras["fixtures"], False), None, 3),
            B("元。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("（二）买受人于本合同签订之日向出卖人支付定金人民币"),
            F(money(d.extras["deposit"], False), None, 3),
            B("元，定金在支付房价款时抵作房价款。付款方式："),
            *_tick(["自行交割", "资金监管", "贷款"], rng.randrange(3), style),
            B("。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第四条　房屋交付")])
    doc.para(
        [
            B("出卖人应当在"),
            *_dparts(d.extras["deliver_on"], "plain", None),
            B("前将该房屋交付给买受人，并结清交付前的水、电、燃气、物业管理等费用。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第五条　税费")])
    doc.para(
        [B("本合同履行过程中所发生的税费，由双方按照国家及本市的相关规定各自承担。")],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第六条　违约责任")])
    doc.para(
        [
            B(
                "出卖人逾期交付房屋的，自约定的交付期限届满之次日起至实际交付之日止，出卖人按日计算向买受人支付已付款万分之"
            ),
            F("五", None, 1.5),
            B("的违约金。买受人逾期付款的，按日计算向出卖人支付逾期应付款万分之"),
            F("五", None, 1.5),
            B("的违约金。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para([B("第七条　争议解决方式")])
    doc.para(
        [B("本合同项下发生的争议，由双方协商解决；协商不成的，依法向房屋所在地人民法院起诉。")],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("第八条　本合同自双方签字（盖章）之日起生效，一式"),
            F("三", None, 1.5),
            B("份，具有同等法律效力。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.need(55)
    doc.space(8)
    y0 = doc.y
    half = (doc.w - doc.ml - doc.mr) / 2
    doc.para([B("出卖人（签章）："), F(seller.name, None, 3)], x0=doc.ml, width=half)
    if d.co_owner:
        doc.para([B("共有权人（签章）："), F(d.co_owner.name, None, 3)], x0=doc.ml, width=half)
    doc.para(
        [B("【委托代理人】（签章）："), F(d.seller_agent.name, None, 3) if d.seller_agent else X(3)],
        x0=doc.ml,
        width=half,
    )
    yl = doc.y
    doc.y = y0
    xr = doc.ml + half + 4
    doc.para([B("买受人（签章）："), F("、".join(b.name for b in d.buyers), None, 3)], x0=xr, width=half)
    doc.para(
        [B("【委托代理人】（签章）："), F(d.buyer_agent.name, None, 3) if d.buyer_agent else X(3)],
        x0=xr,
        width=half,
    )
    doc.y = max(yl, doc.y) + 3
    style_d = rng.choice(["pad", "plain", "cn"])
    doc.para(
        [
            B("签订日期："),
            *_dparts(d.signed_on, style_d, "signed_on"),
            B("　　签订地点："),
            F("成都市" + d.district, None, 4),
        ]
    )
    # finger prints near the names
    for k in range(1 + len(d.buyers)):
        fx = doc.ml + 40 + (k % 2) * (half + 4)
        doc.page.circle(fx, y0 + 5 + 6 * (k // 2), 3.2, 0.5, RED, "seal", ry=4.2, fill=(235, 120, 120))
    total = len(doc.pages)
    for i, pg in enumerate(doc.pages[1:], start=2):
        pg.ctext(105, 287, f"- {i - 1} -", body, 9)
    printed = {
        "price_yuan": money(d.price, True),
        "price_yuan_capital": cap,
        "area_m2": money(d.area, False),
        "signed_on": "".join(date_parts(d.signed_on, style_d)[i] + "年月日"[i] for i in range(3)),
    }
    assert total >= 2
    return Built(
        doc.pages,
        contract_fields(d) | {"house_address": d.address},
        printed,
        {
            "seller": lab_s.rstrip("："),
            "buyer_names": lab_b.rstrip("："),
            "buyer_id_numbers": "【身份证】",
            "area_m2": "房屋建筑面积",
            "price_yuan": "成交价格为",
            "signed_on": "签订日期",
        },
        doc.boxes,
        "beijing",
    )


# ---------------------------------------------------------------------------------------------
# Second-hand: Shanghai-style 房地产买卖合同


def shanghai_secondhand(d: Deal, rng: random.Random, fonts: tuple[str, str]) -> Built:
    body, fill = fonts
    doc = Doc(font=body, fill_font=fill, size=10.5, lead=rng.uniform(1.75, 1.95))
    style = rng.choice(["in", "after"])
    p = doc.page
    p.ctext(105, 80, "房地产买卖合同", "nserifb" if body != "hei" else "hei", 30)
    p.ctext(105, 100, "（存量房）", body, 15)
    p.text(60, 150, "合同编号：", body, 12)
    p.text(85, 150, d.contract_no, fill, 12)
    p.line(83, 151.3, 150, 151.3, 0.25)
    p.ctext(105, 250, "成都市房地产交易中心　监制", body, 12)
    doc.new_page()
    doc.heading("房地产买卖合同", 15)
    seller = d.seller_person
    assert seller is not None
    lab_s, lab_b = rng.choice(
        [("甲方（出卖人）：", "乙方（买受人）："), ("出卖人（甲方）：", "买受人（乙方）：")]
    )
    doc.para(
        [
            B(lab_s),
            F(seller.name, "seller", 6),
            B("  "),
            *_tick(["身份证", "护照", "其他"], 0, style),
            B("号码："),
            F(seller.id_number, None, 10),
        ]
    )
    doc.para([B("住址："), F(seller.address, None, 12), B("  邮编："), F(seller.postcode, None, 3)])
    if d.co_owner:
        doc.para(
            [
                B("共有人："),
                F(d.co_owner.name, None, 4),
                B("  身份证号码："),
                F(d.co_owner.id_number, None, 10),
            ]
        )
    if d.seller_agent:
        doc.para(
            [
                B("甲方委托代理人："),
                F(d.seller_agent.name, None, 4),
                B("  身份证号码："),
                F(d.seller_agent.id_number, None, 10),
            ]
        )
    doc.space(2)
    one_line = len(d.buyers) == 2 and rng.random() < 0.5
    if one_line:
        doc.para(
            [B(lab_b), F(d.buyers[0].name, "buyer_names", 3), B("、"), F(d.buyers[1].name, "buyer_names", 3)]
        )
        for b in d.buyers:
            doc.para(
                [
                    B(f"{b.name}　"),
                    *_tick(["身份证", "护照", "其他"], 0, style),
                    B("号码："),
                    F(b.id_number, "buyer_id_numbers", 10),
                    B("  电话："),
                    F(b.phone, None, 5),
                ]
            )
    else:
        for b in d.buyers:
            doc.para(
                [
                    B(lab_b),
                    F(b.name, "buyer_names", 6),
                    B("  "),
                    *_tick(["身份证", "护照", "其他"], 0, style),
                    B("号码："),
                    F(b.id_number, "buyer_id_numbers", 10),
                ]
            )
            doc.para([B("住址："), F(b.address, None, 12), B("  电话："), F(b.phone, None, 5)])
    if d.buyer_agent:
        doc.para(
            [
                B("乙方委托代理人："),
                F(d.buyer_agent.name, None, 4),
                B("  身份证号码："),
                F(d.buyer_agent.id_number, None, 10),
            ]
        )
    doc.space(2)
    doc.para(
        [B("甲、乙双方在平等、自愿、协商一致的基础上，就乙方向甲方购买房地产签订本合同条款如下：")],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("第一条　甲、乙双方经协商一致，同意由甲方将其合法拥有的坐落于成都市"),
            F(d.district, "house_address", 3),
            B("区（县）"),
            F(d.road, "house_address", 5),
            B("路（街道）"),
            F(d.building, "house_address", 1.5),
            B("幢"),
            F(d.unit, "house_address", 1.5),
            B("单元"),
            F(d.room, "house_address", 2.5),
            B("室的房地产（以下简称该房地产）转让给乙方。该房屋类型为"),
            F("住宅", None, 2),
            B("，结构为"),
            F("钢混", None, 2),
            B("。该房屋建筑面积"),
            F(money(d.area, False), "area_m2", 3),
            B("平方米，套内建筑面积"),
            F(money(d.inner, False), None, 3),
            B("平方米，该房屋占用范围内的土地使用权随该房屋一并转让。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [B("第二条　甲、乙双方经协商一致，同意上述房地产转让价款为人民币")],
        first=text_width("　　", body, doc.size),
    )
    wan = d.extras["wan"]
    cap = capitals(d.price)
    if wan:
        w = (d.price / 10000).normalize()
        wtxt = f"{w:f}"
        doc.para(
            [
                F(wtxt, "price_yuan", 3),
                B("万元（大写："),
                F(cap, "price_yuan_capital", 8),
                B("）；单价每平方米"),
                F(money(d.unit_price, False), None, 3),
                B("元。"),
            ]
        )
        printed_price = wtxt + "万元"
    else:
        doc.para(
            [
                B("（小写）"),
                F(money(d.price, rng.random() < 0.5), "price_yuan", 4),
                B("元，（大写）"),
                F(cap, "price_yuan_capital", 8),
                B("。单价每平方米人民币"),
                F(money(d.unit_price, False), None, 3),
                B("元。"),
            ]
        )
        printed_price = money(d.price, True)
    doc.para(
        [
            B("第三条　乙方于本合同签订时支付定金人民币"),
            F(money(d.extras["deposit"], False), None, 3),
            B("元，余款于"),
            *_dparts(d.extras["deliver_on"] - timedelta(days=10), "plain", None),
            B("前付清。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("第四条　甲方于"),
            *_dparts(d.extras["deliver_on"], "plain", None),
            B("前将该房地产交付乙方，乙方应在交付之日验收。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("第五条　甲、乙双方确认，在"),
            F("三十", None, 1.5),
            B("日内共同向房地产交易中心申请办理转让过户手续。税费按有关规定由甲、乙双方各自承担。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B(
                "第六条　甲方保证该房地产权属清楚，无产权纠纷和债权债务纠纷，未设定抵押；如有，由甲方承担全部责任。"
            )
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.para(
        [
            B("第七条　本合同一式"),
            F("四", None, 1.5),
            B("份，甲乙双方各执一份，其余交有关部门。本合同自双方签字之日起生效。"),
        ],
        first=text_width("　　", body, doc.size),
    )
    doc.need(50)
    doc.space(8)
    y0 = doc.y
    half = (doc.w - doc.ml - doc.mr) / 2
    doc.para([B("甲方（签章）："), F(seller.name, None, 3)], x0=doc.ml, width=half)
    doc.para(
        [B("甲方代理人（签章）："), F(d.seller_agent.name, None, 3) if d.seller_agent else X(3)],
        x0=doc.ml,
        width=half,
    )
    yl = doc.y
    doc.y = y0
    xr = doc.ml + half + 4
    doc.para([B("乙方（签章）："), F("、".join(b.name for b in d.buyers), None, 3)], x0=xr, width=half)
    doc.para(
        [B("乙方代理人（签章）："), F(d.buyer_agent.name, None, 3) if d.buyer_agent else X(3)],
        x0=xr,
        width=half,
    )
    doc.y = max(doc.y, yl) + 4
    style_d = rng.choice(["pad", "plain", "cn"])
    doc.para([B(" " * 40), *_dparts(d.signed_on, style_d, "signed_on")], x0=doc.ml + half)
    seal(
        doc.page,
        doc.ml + half + 14,
        doc.y - 19,
        16,
        "成都安居房地产经纪有限公司",
        "业务专用章",
        rot=rng.uniform(-20, 20),
    )
    printed = {
        "price_yuan": printed_price,
        "price_yuan_capital": cap,
        "area_m2": money(d.area, False),
        "signed_on": "".join(date_parts(d.signed_on, style_d)[i] + "年月日"[i] for i in range(3)),
    }
    return Built(
        doc.pages,
        contract_fields(d),
        printed,
        {
            "seller": lab_s.rstrip("："),
            "buyer_names": lab_b.rstrip("："),
            "buyer_id_numbers": "号码",
            "area_m2": "建筑面积",
            "price_yuan": "转让价款为人民币",
            "signed_on": "(date line under the signatures)",
        },
        doc.boxes,
        "shanghai",
        ["signed_on"],
    )


# ---------------------------------------------------------------------------------------------
# Bordered information form


def info_form(d: Deal, rng: random.Random, fonts: tuple[str, str]) -> Built:
    body, fill = fonts
    pg = Page()
    boxes: dict[str, list[list[float]]] = {}
    title = rng.choice(["房屋买卖合同信息表", "契税纳税申报表附表（房屋交易信息）", "存量房买卖合同信息表"])
    pg.ctext(105, 28, title, "hei" if body != "hei" else "nsansb", 17)
    pg.text(20, 38, "填报单位：", body, 9)
    pg.text(38, 38, "成都市税务局第一税务分局" if "契税" in title else "成都市房地产交易中心", fill, 10)
    pg.rtext(190, 38, "金额单位：元　面积单位：平方米", body, 9)
    x0, x1 = 20.0, 190.0
    y = 42.0
    lab_size, val_size = 8.5, 11.5
    lh = val_size * PT_MM * 1.55
    two_buyers = len(d.buyers) == 2
    cap = capitals(d.price)
    style_d = rng.choice(["pad", "dash", "plain"])
    signed_txt = d.signed_on.isoformat() if style_d == "dash" else ymd(d.signed_on, style_d)
    seller_is_firm = d.seller_person is None
    rows: list[list[tuple[float, str, list[str], str | None]]] = [
        [
            (0.34, "合同编号", [d.contract_no], None),
            (0.33, "合同签订日期", [signed_txt], "signed_on"),
            (0.33, "网签备案编号", ["—"], None),
        ],
        [
            (0.26, "买受人（承受方）姓名", [b.name for b in d.buyers], "buyer_names"),
            (0.16, "证件类型", ["居民身份证"] * len(d.buyers), None),
            (0.36, "证件号码", [b.id_number for b in d.buyers], "buyer_id_numbers"),
            (0.22, "联系电话", [b.phone for b in d.buyers], None),
        ],
        [
            (0.42, "出卖人（转让方）名称", [d.seller_name], "seller"),
            (0.36, "统一社会信用代码" if seller_is_firm else "证件号码", [d.seller_code], None),
            (0.22, "联系电话", [d.extras.get("seller_phone", "")], None),
        ],
        [(1.0, "房屋坐落", [d.address], "house_address")],
        [
            (0.25, "建筑面积", [money(d.area, False)], "area_m2"),
            (0.25, "套内建筑面积", [money(d.inner, False)], None),
            (0.25, "房屋用途", ["住宅"], None),
            (
                0.25,
                "房屋类别",
                ["存量房" if d.seller_person else "商品房（" + rng.choice(["现房", "期房"]) + "）"],
                None,
            ),
        ],
        [
            (0.25, "成交单价（元/平方米）", [money(d.unit_price, False)], None),
            (0.30, "成交总价（元）", [money(d.price, rng.random() < 0.6)], "price_yuan"),
            (0.45, "成交总价（大写）", [cap], "price_yuan_capital"),
        ],
        [
            (0.26, "委托代理人", [d.buyer_agent.name if d.buyer_agent else "无"], None),
            (0.40, "代理人证件号码", [d.buyer_agent.id_number if d.buyer_agent else "—"], None),
            (0.34, "权属转移方式", ["买卖"], None),
        ],
        [
            (0.5, "申报人签章", ["、".join(b.name for b in d.buyers)], None),
            (0.5, "申报日期", [ymd(d.extras["declared_on"], "pad")], None),
        ],
    ]
    if not rng.random() < 0.5:
        rows[1], rows[2] = rows[2], rows[1]
    pg.rect(x0, y, x1, y, 0.6)
    for row in rows:
        n = max(len(c[2]) for c in row)
        h = 5.5 + n * lh + 1.5
        cx = x0
        for frac, label, vals, tag in row:
            w = (x1 - x0) * frac
            pg.rect(cx, y, cx + w, y + h, 0.35)
            pg.text(cx + 1.5, y + 4.2, label, body, lab_size)
            for i, v in enumerate(vals):
                by = y + 5.5 + (i + 1) * lh - 1.2
                vs = val_size
                while text_width(v, fill, vs) > w - 4 and vs > 7:
                    vs -= 0.5
                pg.text(cx + 2.5, by, v, fill, vs)
                if tag:
                    boxes.setdefault(tag, []).append(
                        [
                            1,
                            round(cx + 2.5, 1),
                            round(by - vs * PT_MM, 1),
                            round(cx + 2.5 + text_width(v, fill, vs), 1),
                            round(by + 1, 1),
                        ]
                    )
            cx += w
        y += h
    pg.rect(x0, 42, x1, y, 0.8)
    y += 8
    for t in [
        "说明：1．本表由买受人（承受方）或其代理人填写，所填内容应与房屋买卖合同一致。",
        "2．两个以上买受人的，应逐一填写姓名和证件号码。3．本表一式两份。",
    ]:
        pg.text(20, y, t, body, 9)
        y += 5.5
    seal(
        pg,
        150,
        y + 12,
        17,
        "成都市税务局第一税务分局" if "契税" in title else "成都市房地产交易中心",
        "受理专用章",
        rot=rng.uniform(-10, 10),
    )
    printed = {"signed_on": signed_txt, "price_yuan_capital": cap}
    return Built(
        [pg],
        contract_fields(d),
        printed,
        {
            "buyer_names": "买受人（承受方）姓名",
            "buyer_id_numbers": "证件号码",
            "seller": "出卖人（转让方）名称",
            "area_m2": "建筑面积",
            "price_yuan": "成交总价（元）",
            "signed_on": "合同签订日期",
        },
        boxes,
        "info_form" if not two_buyers else "info_form_two_buyers",
    )
