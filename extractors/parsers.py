"""Pure parsers that turn text read from a document (text layer or OCR, so possibly noisy) into the
normalised values of docs/architecture.md: amounts and areas as decimal strings with two places, dates ISO,
ID numbers and credit codes validated by the engine's rules, names and addresses as printed.

Every parser returns a `Parsed` (the value, the raw text, the OCR corrections applied and a factor
by which the caller multiplies the OCR confidence) or raises `ParseError` with a stable code:
`not_an_amount`, `amounts_disagree`, `not_an_area`, `not_a_date`, `invalid_id_number`,
`invalid_credit_code`, `empty_text`, `bad_format` (a text value not of its declared format, `FORMATS`).

Corrections are short strings such as ``"O→0 @7"``: the character read, the character meant and the
1-based position in the cleaned value. Each correction multiplies `confidence_factor` by 0.9; a value
that the text does not determine on its own (see `parse_amount_digits`) gets 0.5.

Amounts written in digits (`parse_amount_digits`). OCR of low-resolution scans returns thousands
separators as full stops (``1.234.567.89``). The rule:

* ``,`` is always a thousands separator, and so is every ``.`` but the last one; separators must
  stand between groups of three digits (``12,34.5`` is refused).
* The last ``.`` is the decimal point when one or two digits follow it (``1.234.567.89`` is
  1234567.89, recorded as a correction ``.→, @2,6``).
* When exactly three digits follow the last ``.`` and what precedes it is a well-formed group
  (``1.234``, ``12.345``, ``1,234.567``, ``1.234.567``) the text is *ambiguous*: a decimal point or
  an OCR'd separator. The decimal reading is taken when it is a two-place amount (``1.230`` → 1.23,
  with ``1230.00`` as the alternative); a reading with three significant decimals is no amount of
  money, so then the separator reading is taken (``1.234`` → 1234.00, correction
  ``.→, @2 (ambiguous)``). Either way `confidence_factor` is 0.5, the other reading (when it is a
  two-place amount) is in `alternatives`, and `reconcile_amounts` settles it with the capitals.
* Three or more digits after a ``.`` that follows no group (``1234.567``) are decimals: refused unless
  the digits past the second are zeros.
* ``,`` followed by exactly two final digits and no ``.`` at all (``1,234,56``, ``1234,56``) is an
  OCR'd decimal point, and ``。`` a full stop: corrections.
* Units ``万``/``万元`` and ``亿``/``亿元`` multiply; the result must still be exact to the fen.

Why one module of this length: it is a flat table of small pure parsers, one per value kind (amounts and
大写, areas, dates, ID numbers, credit codes, text and names), each with its OCR-confusion rules;
they share the normalisation helpers at the top."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import cn2an

from engine.identifiers import is_valid_credit_code, is_valid_id_number

__all__ = [
    "FORMATS",
    "ParseError",
    "Parsed",
    "amount_to_capitals",
    "parse_amount_capitals",
    "parse_amount_digits",
    "parse_area",
    "parse_credit_code",
    "parse_date",
    "parse_id_number",
    "parse_id_numbers",
    "parse_names",
    "parse_permit_no",
    "parse_text",
    "reconcile_amounts",
]

CORRECTION_FACTOR = 0.9
"""Confidence factor per OCR correction."""
AMBIGUOUS_FACTOR = 0.5
"""Confidence factor of a value the text alone does not determine."""
MAX_ID_SUBSTITUTIONS = 2

CENT = Decimal("0.01")


class ParseError(ValueError):
    """Text that cannot be read as the value asked for, with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message}（{self.code}）"


@dataclass(frozen=True)
class Parsed:
    value: Any
    """Normalised: decimal strings with two places, ISO dates, text, or lists of these."""
    raw: str
    """The text as given (stripped of surrounding whitespace)."""
    corrections: tuple[str, ...] = ()
    """OCR confusions corrected, e.g. 'O→0 @7' (1-based position in the cleaned value)."""
    confidence_factor: float = 1.0
    """Multiply the OCR confidence of the text by this."""
    alternatives: tuple[str, ...] = ()
    """Other values the text allows (ambiguous amounts only); empty when the text is unambiguous."""


def _factor(corrections: Iterable[str]) -> float:
    return round(CORRECTION_FACTOR ** len(tuple(corrections)), 6)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _strip_label(text: str) -> str:
    """Drop a leading label such as '建筑面积：' (everything up to the last colon)."""
    return re.sub(r"^.*[:：]", "", text)


def _quantize(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _exact_cents(value: Decimal) -> bool:
    return value == value.quantize(CENT)


# ---------------------------------------------------------------------------------------------------
# Amounts in digits

_CURRENCY_PREFIXES = ("人民币", "(小写)", "小写", "RMB", "CNY", "¥")
"""Bare brackets are not stripped: '(1,234.00)' may be an accountant's negative."""
_UNIT_SUFFIXES = (
    ("万元", Decimal(10_000)),
    ("亿元", Decimal(100_000_000)),
    ("万", Decimal(10_000)),
    ("亿", Decimal(100_000_000)),
)
_YUAN_SUFFIXES = ("元整", "元正", "圆整", "元", "圆", "整")
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})*")
_PLAIN = re.compile(r"\d+")


def _strip_affixes(body: str, prefixes: Iterable[str], suffixes: Iterable[str]) -> str:
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if p and body.startswith(p):
                body, changed = body[len(p) :], True
        for s in suffixes:
            if s and body.endswith(s):
                body, changed = body[: -len(s)], True
    return body


def _separator_positions(integer: str, char: str) -> list[int]:
    return [i + 1 for i, c in enumerate(integer) if c == char]


def parse_amount_digits(text: str) -> Parsed:
    """An amount of money written in digits → decimal string with two places (rules: module doc)."""
    raw = text.strip()
    s = _no_space(_nfkc(raw)).rstrip("。")
    s = _strip_label(s)
    if not s:
        raise ParseError("not_an_amount", "金额为空")
    if "-" in s or "负" in s or "−" in s:
        raise ParseError("not_an_amount", f"金额不能为负数：{raw}")
    s = _strip_affixes(s, _CURRENCY_PREFIXES, _YUAN_SUFFIXES)
    unit = Decimal(1)
    for suffix, multiplier in _UNIT_SUFFIXES:
        if s.endswith(suffix):
            s, unit = s[: -len(suffix)], multiplier
            break
    s = _strip_affixes(s, _CURRENCY_PREFIXES, ())
    corrections: list[str] = []
    if "。" in s:
        corrections.extend(f"。→. @{i}" for i in _separator_positions(s, "。"))
        s = s.replace("。", ".")
    if not s or not re.fullmatch(r"\d[\d,.]*", s):
        raise ParseError("not_an_amount", f"不是数字金额：{raw}")

    readings: list[Decimal] = []
    ambiguous = False
    if "." not in s:
        if re.fullmatch(r"(?:[1-9]\d{0,2}(?:,\d{3})*|\d+),\d{2}", s):  # '1,234,56': the last ',' is a '.'
            cut = s.rindex(",")
            corrections.append(f",→. @{cut + 1}")
            s = s[:cut] + "." + s[cut + 1 :]
            readings.append(Decimal(s.replace(",", "")))
        elif _PLAIN.fullmatch(s) or _GROUPED.fullmatch(s):
            readings.append(Decimal(s.replace(",", "")))
        else:
            raise ParseError("not_an_amount", f"千分位分隔符位置不对：{raw}")
    else:
        cut = s.rindex(".")
        integer, tail = s[:cut], s[cut + 1 :]
        if not tail.isdigit():
            raise ParseError("not_an_amount", f"小数部分不对：{raw}")
        grouped = bool(_GROUPED.fullmatch(integer))
        if not (grouped or _PLAIN.fullmatch(integer)):
            raise ParseError("not_an_amount", f"千分位分隔符位置不对：{raw}")
        dots = _separator_positions(integer, ".")
        if dots:
            corrections.append(".→, @" + ",".join(map(str, dots)))
        digits = integer.replace(",", "").replace(".", "")
        decimal_reading = Decimal(f"{digits}.{tail}")
        if len(tail) == 3 and grouped:
            ambiguous = True
            separator_reading = Decimal(digits + tail)
            if _exact_cents(decimal_reading * unit):
                readings = [decimal_reading, separator_reading]
            else:
                readings = [separator_reading]
                corrections.append(f".→, @{cut + 1} (ambiguous)")
        else:
            readings = [decimal_reading]

    values = [r * unit for r in readings]
    if not _exact_cents(values[0]):
        raise ParseError("not_an_amount", f"金额超过两位小数：{raw}")
    # separator fixes follow from the rule above: they count as one correction
    factor = AMBIGUOUS_FACTOR if ambiguous else _factor(corrections[:1])
    return Parsed(
        value=_quantize(values[0]),
        raw=raw,
        corrections=tuple(corrections),
        confidence_factor=factor,
        alternatives=tuple(_quantize(v) for v in values[1:]),
    )


# ---------------------------------------------------------------------------------------------------
# Amounts in capitals (大写)

_CAP_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_CAP_UNITS = "拾佰仟"
_CAP_VARIANTS = str.maketrans(
    {
        "圓": "圆",
        "貳": "贰",
        "參": "叁",
        "叄": "叁",
        "陸": "陆",
        "萬": "万",
        "億": "亿",
        "〇": "零",
        "○": "零",
    }
)
_CAP_PREFIXES = ("人民币", "(大写)", "大写", "RMB")
_FRACTION = re.compile(r"零?(?:(?P<jiao>[零壹贰叁肆伍陆柒捌玖])角)?零?(?:(?P<fen>[零壹贰叁肆伍陆柒捌玖])分)?")
_ZERO_BEFORE_THOUSANDS = re.compile(r"([万亿])零(?=[壹贰叁肆伍陆柒捌玖]仟)")
_BARE_TEN = re.compile(r"(?<![壹贰叁肆伍陆柒捌玖])拾")


def _capitals_value(part: str) -> int:
    """Plain positional reading of a 大写 integer: a cross-check on cn2an, not a validator."""
    total = below_yi = section = digit = 0
    for c in part:
        if c in _CAP_DIGITS:
            digit = _CAP_DIGITS.index(c)
        elif c in _CAP_UNITS:
            section += (digit or 1) * 10 ** (_CAP_UNITS.index(c) + 1)
            digit = 0
        elif c == "万":
            below_yi += (section + digit) * 10_000
            section = digit = 0
        elif c == "亿":
            total = (total + below_yi + section + digit) * 100_000_000
            below_yi = section = digit = 0
    return total + below_yi + section + digit


def _capitals_integer(part: str, raw: str) -> int:
    # cn2an's strict mode reads standard 大写 integers (壹万零伍, 壹亿零柒佰万, 拾伍) and refuses
    # malformed ones (壹仟伍, 壹万零零伍), but (cn2an 0.5.24):
    # - it refuses the standard optional 零 in 壹拾万零柒仟 (its normal mode drops it, as we do here,
    #   but normal mode also accepts spoken forms such as 壹仟伍 = 1500);
    # - it silently drops a 拾 with no digit before it anywhere but at the start: 壹仟零拾 → 1000,
    #   陆亿拾万 → 600000000. We write the 壹 (壹仟零壹拾) and cross-check the result anyway.
    part = _ZERO_BEFORE_THOUSANDS.sub(r"\1", part)
    part = _BARE_TEN.sub("壹拾", part)
    try:
        value = cn2an.cn2an(part, "strict")
    except ValueError as exc:
        raise ParseError("not_an_amount", f"大写金额格式不对：{raw}") from exc
    if not isinstance(value, int) or value < 0 or value != _capitals_value(part):
        raise ParseError("not_an_amount", f"大写金额格式不对：{raw}")
    return value


def parse_amount_capitals(text: str) -> Parsed:
    """Chinese financial capitals (大写) → decimal string with two places.

    '壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分' → '1234567.89', '人民币叁佰贰拾陆万元整' → '3260000.00'.
    Only the capitals (and 零, 元/圆, 角, 分, 整/正, traditional variants) are accepted, not 一二三.
    """
    raw = text.strip()
    s = _no_space(_nfkc(raw)).rstrip("。")
    s = _strip_label(s).translate(_CAP_VARIANTS)
    s = _strip_affixes(s, _CAP_PREFIXES, ())
    if s.endswith(("整", "正")):
        s = s[:-1]
    if not s:
        raise ParseError("not_an_amount", "大写金额为空")
    allowed = set(_CAP_DIGITS + _CAP_UNITS + "万亿元圆角分")
    if any(c not in allowed for c in s):
        bad = "".join(sorted({c for c in s if c not in allowed}))
        raise ParseError("not_an_amount", f"大写金额含有非大写字符「{bad}」：{raw}")
    yuan_marks = [i for i, c in enumerate(s) if c in "元圆"]
    if len(yuan_marks) > 1:
        raise ParseError("not_an_amount", f"大写金额格式不对：{raw}")
    if yuan_marks:
        integer, fraction = s[: yuan_marks[0]], s[yuan_marks[0] + 1 :]
        if not integer:
            raise ParseError("not_an_amount", f"大写金额缺少元前的数字：{raw}")
    elif "角" in s or "分" in s:
        integer, fraction = "", s
    else:
        integer, fraction = s, ""
    jiao = fen = 0
    if fraction:
        m = _FRACTION.fullmatch(fraction)
        if not m or not (m["jiao"] or m["fen"]):
            raise ParseError("not_an_amount", f"大写金额的角分不对：{raw}")
        jiao = _CAP_DIGITS.index(m["jiao"]) if m["jiao"] else 0
        fen = _CAP_DIGITS.index(m["fen"]) if m["fen"] else 0
    yuan = _capitals_integer(integer, raw) if integer else 0
    value = Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100
    return Parsed(value=_quantize(value), raw=raw)


def _section_capitals(n: int) -> str:
    """1..9999 in capitals, with 零 for inner zeros (leading zeros are the caller's business)."""
    out, zero = "", False
    for digit, unit in zip(f"{n:04d}", ("仟", "佰", "拾", ""), strict=True):
        d = int(digit)
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _CAP_DIGITS[d] + unit
    return out


def _integer_capitals(n: int) -> str:
    if n == 0:
        return "零"
    groups = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    out, zero = "", False
    for group, unit in zip(groups, ("亿", "万", ""), strict=True):
        if group == 0:
            zero = bool(out)
            continue
        if out and (zero or group < 1000):
            out += "零"
        out += _section_capitals(group) + unit
        zero = False
    return out


def amount_to_capitals(amount: Decimal) -> str:
    """Standard 大写 of a non-negative amount below one trillion yuan, rounded half up to the fen.

    1234567.89 → 壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分; 10005 → 壹万零伍元整; 1680.32 → 壹仟陆佰捌拾元叁角贰分;
    325.04 → 叁佰贰拾伍元零肆分; 0.5 → 伍角; 0 → 零元整. 整 only when there are no 角 and 分.
    """
    try:
        cents = int((Decimal(amount) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if cents < 0 or cents >= 10**14:
        raise ValueError(f"amount out of range: {amount}")
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    out = _integer_capitals(yuan) + "元" if yuan or not (jiao or fen) else ""
    if not (jiao or fen):
        return out + "整"
    if jiao:
        out += _CAP_DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += _CAP_DIGITS[fen] + "分"
    return out


def _is_ambiguous(parsed: Parsed) -> bool:
    return bool(parsed.alternatives) or any(c.endswith("(ambiguous)") for c in parsed.corrections)


def reconcile_amounts(digits: Parsed | None, capitals: Parsed | None) -> Parsed:
    """One amount from the digits and the capitals of the same figure.

    Both present: they must agree (`amounts_disagree` otherwise); ambiguous digits are settled by the
    capitals, with a correction recorded. One present: that one. The result's `raw` is the digits'.
    """
    if digits is None and capitals is None:
        raise ParseError("not_an_amount", "小写和大写金额都未读到")
    if capitals is None:
        assert digits is not None
        return digits
    if digits is None:
        return capitals
    corrections = digits.corrections + capitals.corrections
    factor = max(digits.confidence_factor, capitals.confidence_factor)
    if capitals.value in (digits.value, *digits.alternatives):
        if _is_ambiguous(digits):
            corrections = (*corrections, f"{digits.raw} → {capitals.value} per 大写")
        return Parsed(capitals.value, digits.raw, corrections, factor)
    readings = "或".join((digits.value, *digits.alternatives))
    raise ParseError(
        "amounts_disagree",
        f"小写金额 {readings}（{digits.raw}）与大写金额 {capitals.value}（{capitals.raw}）不一致",
    )


# ---------------------------------------------------------------------------------------------------
# Areas

_AREA_UNITS = ("平方米", "平方公尺", "平米", "平方", "m2", "M2", "m^2", "sqm", "米2")
_AREA_UNIT_OCR = ("m", "M")
"""What OCR keeps of "m²" when the superscript is lost; accepted only after a number with decimals."""


def parse_area(text: str) -> Parsed:
    """An area in square metres → decimal string with two places ('96.3 ㎡' → '96.30').

    More than two significant decimals are refused rather than rounded (rounding can cross a
    threshold such as 90 m²)."""
    raw = text.strip()
    s = _strip_label(_no_space(_nfkc(raw))).rstrip("。")
    s = _strip_affixes(s, (), _AREA_UNITS)
    corrections: list[str] = []
    unit_fix: tuple[str, ...] = ()
    if re.fullmatch(r"[\d,]+\.\d{1,2}[mM]", s):
        unit_fix = (f"{s[-1]}→m² @{len(s)}",)  # a unit, not a digit: confidence unchanged
        s = s[:-1]
    if s.count("。") == 1:
        corrections.append(f"。→. @{s.index('。') + 1}")
        s = s.replace("。", ".")
    m = re.fullmatch(r"(?P<int>[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?", s)
    if not m:
        raise ParseError("not_an_area", f"不是面积：{raw}")
    value = Decimal(m["int"].replace(",", "") + "." + (m["frac"] or "0"))
    if value <= 0:
        raise ParseError("not_an_area", f"面积须大于零：{raw}")
    if not _exact_cents(value):
        raise ParseError("not_an_area", f"面积超过两位小数：{raw}")
    return Parsed(_quantize(value), raw, (*corrections, *unit_fix), _factor(corrections))


# ---------------------------------------------------------------------------------------------------
# Dates

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_CN_DATE_MAP = str.maketrans(
    {
        "零": "〇",
        "○": "〇",
        "◯": "〇",
        "０": "〇",
        "壹": "一",
        "贰": "二",
        "貳": "二",
        "叁": "三",
        "參": "三",
        "肆": "四",
        "伍": "五",
        "陆": "六",
        "陸": "六",
        "柒": "七",
        "捌": "八",
        "玖": "九",
        "拾": "十",
    }
)
_DATE_CN = re.compile(
    r"(?P<y>[0-9〇一二三四五六七八九]{4})年(?P<m>[0-9〇一二三四五六七八九十]{1,3})月"
    r"(?P<d>[0-9〇一二三四五六七八九十廿卅]{1,4})(?:日|号)?"
)
_DATE_SEP = re.compile(r"(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})")
_DATE_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")


def _small_number(s: str) -> int | None:
    """'15', '03', '十五', '二十一', '廿一', '〇三' (from 零叁) → int; None when malformed."""
    if s.isdigit():
        return int(s)
    s = s.lstrip("〇") or "〇"
    s = s.replace("廿", "二十").replace("卅", "三十")
    m = re.fullmatch(r"(?:(?P<tens>[一二三]?)十)?(?P<units>[〇一二三四五六七八九]?)", s)
    if not m or s == "" or (m["units"] == "〇" and "十" in s):
        return None
    if "十" not in s:
        return _CN_DIGITS[m["units"]] if m["units"] else None
    tens = _CN_DIGITS[m["tens"]] if m["tens"] else 1
    return tens * 10 + (_CN_DIGITS[m["units"]] if m["units"] else 0)


def parse_date(text: str) -> Parsed:
    """'2024年3月15日', '2024-03-15', '2024.3.15', '2024/03/15', '20240315', '二〇二四年三月十五日',
    '贰零贰肆年零叁月壹拾伍日' (with spaces and some OCR noise) → ISO '2024-03-15'."""
    raw = text.strip()
    s = _strip_label(_no_space(_nfkc(raw))).rstrip("。.,，;；")
    corrections: list[str] = []
    if "曰" in s:  # 日 and 曰 look alike; a date has no 曰
        corrections.extend(f"曰→日 @{i + 1}" for i, c in enumerate(s) if c == "曰")
        s = s.replace("曰", "日")
    s = s.translate(_CN_DATE_MAP)
    m = _DATE_CN.fullmatch(s)
    if not m:
        # OCR reads 〇 in a Chinese-numeral year as a Latin O.
        head, sep, rest = s.partition("年")
        if sep and re.fullmatch(r"[〇一二三四五六七八九Oo]{4}", head) and re.search("[Oo]", head):
            corrections.extend(f"{c}→〇 @{i + 1}" for i, c in enumerate(head) if c in "Oo")
            s = re.sub("[Oo]", "〇", head) + sep + rest
            m = _DATE_CN.fullmatch(s)
    m = m or _DATE_SEP.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if not m:
        raise ParseError("not_a_date", f"不是日期：{raw}")
    year = int("".join(str(_CN_DIGITS.get(c, c)) for c in m["y"]))
    month, day = _small_number(m["m"]), _small_number(m["d"])
    if month is None or day is None:
        raise ParseError("not_a_date", f"不是日期：{raw}")
    try:
        value = date(year, month, day)
    except ValueError as exc:
        raise ParseError("not_a_date", f"日期不存在：{raw}") from exc
    return Parsed(value.isoformat(), raw, tuple(corrections), _factor(corrections))


# ---------------------------------------------------------------------------------------------------
# ID numbers and credit codes

_ID_CONFUSIONS = {"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"}
"""Letters OCR returns for digits; in an ID number (only digits, and X last) each is forced."""
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_CONFUSIONS = {"O": "0", "I": "1", "S": "5", "Z": "2", "L": "1", "B": "8", "1": "L", "8": "B"}
"""OCR confusions in a credit code (whose alphabet lacks I, O, S, V, Z): O, I, S, Z are forced to
digits; B↔8 and L(l)↔1 are optional substitutions where the position allows letters (9th on)."""


def _cleaned_identifier(text: str) -> str:
    """Letters and digits only (spaces, dashes and labels such as '身份证号：' dropped), case kept."""
    return "".join(re.findall(r"[0-9A-Za-z]", _nfkc(text)))


def _correct_identifier(
    as_read: str,
    allowed: Callable[[int, str], bool],
    confusions: dict[str, str],
    valid: Callable[[str], bool],
    code: str,
    what: str,
) -> tuple[str, tuple[str, ...]]:
    """The one valid value within MAX_ID_SUBSTITUTIONS confusions of `cleaned`, with its corrections.

    Characters not allowed at their position must be substituted; others may be. Several valid
    candidates → ParseError (never guess). Corrections name the character as read ('l→1 @5')."""
    cleaned = as_read.upper()
    if len(cleaned) != 18:
        raise ParseError(code, f"{what}应为 18 位，读到 {len(cleaned)} 位")
    if valid(cleaned):
        return cleaned, ()
    forced: list[int] = []
    optional: list[int] = []
    for i, c in enumerate(cleaned):
        alt = confusions.get(c)
        if allowed(i, c):
            if alt is not None and allowed(i, alt):
                optional.append(i)
        elif alt is not None and allowed(i, alt):
            forced.append(i)
        else:
            raise ParseError(code, f"{what}第 {i + 1} 位「{c}」无法识别")
    spare = MAX_ID_SUBSTITUTIONS - len(forced)
    if spare < 0:
        raise ParseError(code, f"{what}有 {len(forced)} 处需要纠正，超过 {MAX_ID_SUBSTITUTIONS} 处")
    found: dict[str, tuple[int, ...]] = {}
    for k in range(spare + 1):
        for extra in itertools.combinations(optional, k):
            positions = tuple(sorted((*forced, *extra)))
            if not positions:
                continue
            chars = list(cleaned)
            for i in positions:
                chars[i] = confusions[chars[i]]
            candidate = "".join(chars)
            if valid(candidate):
                found[candidate] = positions
    if not found:
        raise ParseError(code, f"{what}校验不通过，纠正常见识别错误后仍无效")
    if len(found) > 1:
        raise ParseError(code, f"{what}校验不通过，纠正识别错误有 {len(found)} 种可能，无法确定")
    value, positions = next(iter(found.items()))
    return value, tuple(f"{as_read[i]}→{value[i]} @{i + 1}" for i in positions)


def _id_allowed(i: int, c: str) -> bool:
    return c.isdigit() or (i == 17 and c == "X")


def _uscc_allowed(i: int, c: str) -> bool:
    return c.isdigit() if i < 8 else c in _USCC_ALPHABET


def parse_id_number(text: str) -> Parsed:
    """A resident ID number (居民身份证号码) → 18 characters, valid by `engine.identifiers`.

    Spaces and punctuation are dropped and letters upper-cased; letters OCR returns for digits
    (O, I, l, S, B, Z) are corrected, at most two."""
    raw = text.strip()
    value, corrections = _correct_identifier(
        _cleaned_identifier(raw),
        _id_allowed,
        _ID_CONFUSIONS,
        is_valid_id_number,
        "invalid_id_number",
        "身份证号码",
    )
    return Parsed(value, raw, corrections, _factor(corrections))


def parse_credit_code(text: str) -> Parsed:
    """A unified social credit code (统一社会信用代码) → 18 characters, valid by `engine.identifiers`.

    O, I, S, Z (not in the code's alphabet) are read as 0, 1, 5, 2; B↔8 and L↔1 are tried where
    letters are allowed; at most two substitutions, accepted only when exactly one candidate is valid."""
    raw = text.strip()
    value, corrections = _correct_identifier(
        _cleaned_identifier(raw),
        _uscc_allowed,
        _USCC_CONFUSIONS,
        is_valid_credit_code,
        "invalid_credit_code",
        "统一社会信用代码",
    )
    return Parsed(value, raw, corrections, _factor(corrections))


# ---------------------------------------------------------------------------------------------------
# Names, addresses and lists of parties

_KEEP_FULLWIDTH = set("（）！，：；？")
"""Full-width forms that are CJK punctuation in names and addresses: kept as printed."""
_MIDDLE_DOTS = "•・･‧⋅∙．."
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_TRAILING_PUNCT = "：:，,。；;、"


def _halfwidth(text: str) -> str:
    out = []
    for c in text:
        o = ord(c)
        if c == "\u3000":
            out.append(" ")
        elif 0xFF01 <= o <= 0xFF5E and c not in _KEEP_FULLWIDTH:
            out.append(chr(o - 0xFEE0))
        else:
            out.append(c)
    return "".join(out)


def parse_text(text: str) -> Parsed:
    """A name or address as printed: surrounding whitespace stripped, whitespace runs collapsed to
    one space and removed between two CJK characters ('张  三' → '张三', a layout space), trailing
    punctuation removed, full-width letters, digits and symbols made half-width except the CJK
    punctuation （）！，：；？, and dot-like marks between CJK characters made '·' (阿卜杜·热合曼)."""
    raw = text.strip()
    s = _halfwidth(raw)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(rf"(?<=[{_CJK}]) (?=[{_CJK}])", "", s)
    s = re.sub(rf"(?<=[{_CJK}])\s?[{re.escape(_MIDDLE_DOTS)}]\s?(?=[{_CJK}])", "·", s)
    s = s.rstrip(_TRAILING_PUNCT + " ")
    if not s:
        raise ParseError("empty_text", "内容为空")
    return Parsed(s, raw)


_PARTY_SEPARATORS = r"[、，,;；]"


def parse_names(text: str) -> Parsed:
    """Several parties on one line, separated by 、，,;； or spaces → list of names (`parse_text` each).

    A piece whose space-separated parts are all single CJK characters is one name with layout spaces
    ('张 三、李 四' → ['张三', '李四'])."""
    raw = text.strip()
    names: list[str] = []
    for piece in re.split(_PARTY_SEPARATORS, _halfwidth(raw)):
        parts = piece.split()
        if not parts:
            continue
        if len(parts) > 1 and all(re.fullmatch(rf"[{_CJK}]", p) for p in parts):
            parts = ["".join(parts)]
        for p in parts:
            try:
                names.append(parse_text(p).value)
            except ParseError:
                continue
    if not names:
        raise ParseError("empty_text", "未读到姓名")
    return Parsed(names, raw)


def parse_id_numbers(text: str) -> Parsed:
    """Several ID numbers on one line (separated by 、，,;； or spaces; a number may itself be spaced
    in groups) → list of numbers, each by `parse_id_number`. Corrections are prefixed '#n '."""
    raw = text.strip()
    numbers: list[str] = []
    corrections: list[str] = []
    for piece in re.split(_PARTY_SEPARATORS, _nfkc(raw)):
        tokens = re.findall(r"[0-9A-Za-z]+", piece)
        buffer = ""
        for token in tokens:
            buffer += token
            if len(buffer) < 18:
                continue
            if len(buffer) > 18:
                raise ParseError("invalid_id_number", f"第 {len(numbers) + 1} 个身份证号码位数不对")
            parsed = parse_id_number(buffer)
            numbers.append(parsed.value)
            corrections.extend(f"#{len(numbers)} {c}" for c in parsed.corrections)
            buffer = ""
        if buffer:
            raise ParseError("invalid_id_number", f"第 {len(numbers) + 1} 个身份证号码位数不对")
    if not numbers:
        raise ParseError("invalid_id_number", "未读到身份证号码")
    return Parsed(numbers, raw, tuple(corrections), _factor(corrections))


# ---------------------------------------------------------------------------------------------------
# Text values of a known format (DocField.format)

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 province-level abbreviations of the mainland (a safety permit's issuing province)."""
_BRACKETS = {"（": "）", "(": ")", "〔": "〕", "[": "]", "【": "】"}
_OPEN = re.escape("".join(_BRACKETS))
_CLOSE = re.escape("".join(_BRACKETS.values()))
_PERMIT_NO = re.compile(
    rf"(?P<o1>[{_OPEN}])(?P<prov>[^{_CLOSE}]+)(?P<c1>[{_CLOSE}])(?P<kind>[A-Z]{{2}})安许证字"
    rf"(?P<o2>[{_OPEN}])(?P<year>\d{{4}})(?P<c2>[{_CLOSE}])(?P<serial>\d{{3,6}})"
)
PERMIT_YEARS = (1990, 2100)


def parse_permit_no(text: str) -> Parsed:
    """A safety-production permit number as printed, e.g. '（鄂）JZ安许证字【2005】000115',
    '(川)JZ安许证字[2024]010231': a province abbreviation (`PROVINCES`) in brackets, two capital
    letters, 安许证字, a year (1990–2100) in brackets and a 3–6 digit serial. Brackets may be （）, (),
    〔〕, [] or 【】, each pair matching. Read as `parse_text` (spaces removed); anything else is
    `bad_format`: OCR that drops or changes one character gives a number that does not fit."""
    value = re.sub(r"\s+", "", parse_text(text).value)
    m = _PERMIT_NO.fullmatch(value)
    problem = None
    if m is None:
        problem = "不符合“（省简称）XX安许证字〔年份〕编号”的格式"
    elif m["prov"] not in PROVINCES or len(m["prov"]) != 1:
        problem = f"“{m['prov']}”不是省级行政区简称"
    elif _BRACKETS[m["o1"]] != m["c1"] or _BRACKETS[m["o2"]] != m["c2"]:
        problem = "括号不成对"
    elif not PERMIT_YEARS[0] <= int(m["year"]) <= PERMIT_YEARS[1]:
        problem = f"年份 {m['year']} 不在 {PERMIT_YEARS[0]}–{PERMIT_YEARS[1]} 之间"
    if problem is not None:
        raise ParseError("bad_format", f"许可证编号{problem}：{text.strip()}")
    return Parsed(value, text.strip())


FORMATS: dict[str, Callable[[str], Parsed]] = {"permit_no": parse_permit_no}
"""DocField.format → the parser that reads and checks a text value of that format."""
