"""A field's confidence is that of the characters of its value (the words the backend scored), never
higher than its line's: a line that scores high overall may hold one misread character."""

from __future__ import annotations

import pytest

from engine.model import DocField
from extractors.fields import CHARACTER_DOUBT_WEIGHT, extract_fields
from extractors.model import Line, Word
from extractors.ocr.base import make_line
from extractors.photo import photo_confidence
from tests.extractors.test_fields import doc

FIELDS = {
    "permit_no": DocField(title="许可证编号", type="text", format="permit_no", labels=["许可证编号"]),
    "enterprise_name": DocField(title="企业名称", type="text", labels=["企业名称"]),
    "valid_to": DocField(title="有效期止", type="date", labels=["有效期至"]),
}
NAME = {"legal_representative": DocField(title="法定代表人", type="text", labels=["法定代表人"])}
THRESHOLD = 0.9


def scored(text: str, row: float, line_conf: float, low: dict[int, float] | None = None) -> Line:
    """A line as a backend returns it with one word per character (rapidocr's CTC alignment gives
    each CJK character and, on mixed lines, each character its own score)."""
    y = 100 + row * 50
    quad = [[80, y], [80 + 28 * len(text), y], [80 + 28 * len(text), y + 30], [80, y + 30]]
    words = []
    for k, ch in enumerate(text):
        x = 80 + 28 * k
        words.append((ch, (low or {}).get(k, 0.99), [[x, y], [x + 28, y], [x + 28, y + 30], [x, y + 30]]))
    return make_line(text, quad, line_conf, words)


def test_a_value_with_one_unsure_character_on_a_sure_line_is_below_threshold() -> None:
    text = "企业名称：四川建工集团有限公司"
    ex = extract_fields(doc(scored(text, 0, 0.97, {text.index("工"): 0.4})), kind="x", fields=FIELDS)
    got = ex.fields["enterprise_name"]
    assert got.value == "四川建工集团有限公司"
    assert got.confidence == pytest.approx(1 - CHARACTER_DOUBT_WEIGHT * 0.6)
    assert got.confidence < THRESHOLD


def test_a_value_whose_characters_are_unsure_on_average_is_below_threshold() -> None:
    text = "法定代表人：张娟"
    ex = extract_fields(doc(scored(text, 0, 0.95, {6: 0.8, 7: 0.85})), kind="x", fields=NAME)
    assert ex.fields["legal_representative"].confidence == pytest.approx(0.825)


def test_a_permit_number_with_one_unsure_letter_is_below_threshold() -> None:
    text = "许可证编号：(川)JZ安许证字[2024]010231"
    ex = extract_fields(doc(scored(text, 0, 0.96, {text.index("J"): 0.45})), kind="x", fields=FIELDS)
    assert ex.fields["permit_no"].confidence < THRESHOLD


def test_unsure_characters_of_the_label_and_punctuation_do_not_count() -> None:
    text = "企业名称：四川建工集团有限公司"
    low = {0: 0.4, 1: 0.5, 4: 0.3}
    ex = extract_fields(doc(scored(text, 0, 0.95, low)), kind="x", fields=FIELDS)
    assert ex.fields["enterprise_name"].confidence == 0.95


def test_never_higher_than_the_line() -> None:
    text = "有效期至：2027年6月14日"
    ex = extract_fields(doc(scored(text, 0, 0.8)), kind="x", fields=FIELDS)
    assert ex.fields["valid_to"].confidence == 0.8


def test_a_line_without_word_scores_keeps_its_own() -> None:
    line = Line(text="企业名称：四川建工集团有限公司", box=(80, 100, 500, 130), confidence=0.93)
    ex = extract_fields(doc(line), kind="x", fields=FIELDS)
    assert ex.fields["enterprise_name"].confidence == 0.93


def test_words_that_do_not_spell_the_line_are_not_used() -> None:
    line = Line(
        text="企业名称：四川建工集团有限公司",
        box=(80, 100, 500, 130),
        confidence=0.93,
        words=(Word(text="x", box=(80, 100, 90, 130), confidence=0.1),),
    )
    ex = extract_fields(doc(line), kind="x", fields=FIELDS)
    assert ex.fields["enterprise_name"].confidence == 0.93


def test_photo_calibration_applies_to_the_characters() -> None:
    text = "企业名称：四川建工集团有限公司"
    raw = scored(text, 0, 0.98, {k: 0.98 for k in range(len(text))} | {text.index("工"): 0.7})
    ex = extract_fields(doc(raw), kind="x", fields=FIELDS)
    assert ex.fields["enterprise_name"].confidence >= THRESHOLD  # a scan: sure enough
    calibrated = raw.model_copy(
        update={
            "confidence": photo_confidence(raw.confidence),
            "words": tuple(
                w.model_copy(update={"confidence": photo_confidence(w.confidence)}) for w in raw.words
            ),
        }
    )
    ex = extract_fields(doc(calibrated), kind="x", fields=FIELDS)
    least = 1 - CHARACTER_DOUBT_WEIGHT * (1 - photo_confidence(0.7))
    assert ex.fields["enterprise_name"].confidence == pytest.approx(least)
    assert ex.fields["enterprise_name"].confidence < THRESHOLD  # a photo: not
