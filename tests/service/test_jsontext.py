"""JSON text measured before it is decoded (service/jsontext.py): a count within the limit bounds the
values decoding makes, whatever the strings hold and in whichever of JSON's encodings; nesting is
found as deep as it is; texts made to defeat a string scanner are measured in one pass."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service import jsontext

PIECES = st.sampled_from([",", "[", "{", '"', "\\", '\\"', "\\\\", '",[', "a,b[{", "张三，"])
TRICKY = st.lists(PIECES, max_size=4).map("".join)
"""Strings of what a scanner of JSON text could mistake: quotes, backslashes, commas, brackets."""
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TRICKY, inner, max_size=5),
    max_leaves=40,
)


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _texts(value: Any) -> list[bytes]:
    return [
        json.dumps(value).encode(),
        json.dumps(value, ensure_ascii=False, indent=1).encode(),
        json.dumps(value, ensure_ascii=False).encode("utf-16"),
    ]


@given(JSON, st.integers(min_value=0, max_value=12))
def test_a_count_within_the_limit_bounds_the_values(value: Any, limit: int) -> None:
    for raw in _texts(value):
        if jsontext.values(raw, limit=limit) <= limit:
            assert _count(value) <= 2 * limit + 1, raw


@given(JSON)
def test_a_text_is_found_deeper_than_a_depth_exactly_when_it_is(value: Any) -> None:
    depth = _depth(value)
    for raw in _texts(value)[:2]:
        assert not jsontext.deeper_than(raw, depth)
        if depth > 0:
            assert jsontext.deeper_than(raw, depth - 1), raw


def test_commas_and_brackets_inside_strings_are_not_values() -> None:
    raw = json.dumps({"note": "[,{" * 50_000, "quoted": '\\",[' * 1_000}).encode()
    assert jsontext.values(raw, limit=100) == 2  # the object and the comma between its members
    assert jsontext.refusal(raw, max_values=100, max_depth=32) is None


def test_what_is_refused_says_why() -> None:
    flat = b"[" + b"[]," * 20_000 + b"0]"
    deep = b"[" * 20_000 + b"]" * 20_000
    strings = b"[" + b'"",' * 20_000 + b'""]'
    assert "值过多" in (jsontext.refusal(flat, max_values=10_000, max_depth=32) or "")
    assert "嵌套层数超过 32 层" in (jsontext.refusal(deep, max_values=10_000, max_depth=32) or "")
    assert jsontext.values(strings, limit=10_000) == 20_001
    assert "值过多" in (jsontext.refusal(strings, max_values=10_000, max_depth=32) or "")


def test_texts_made_against_a_string_scanner_are_measured() -> None:
    """Runs of escaped quotes, of backslashes and of lone quotes: each pass over them is linear (a
    backtracking string pattern on the first took minutes)."""
    escaped = b'["' + b'\\",' * 400_000 + b'"]'
    assert jsontext.values(escaped, limit=10_000) == 1  # one string of escaped quotes and commas
    unclosed = b"[" + b'",' * 400_000
    assert jsontext.values(unclosed, limit=10_000) > 10_000
    backslashes = b'["' + b"\\" * 800_000 + b'", ' + b"[]," * 20_000 + b"0]"
    assert jsontext.values(backslashes, limit=10_000) > 10_000
