"""JSON text measured before it is decoded.

Decoding is where a small body becomes large: a 1 MiB body `{"form": {"x": [[],[],…]}}` holds about
350,000 empty lists, each a Python object once decoded (21 MiB, and some 45 MiB more while it is
validated), so 40 such requests at once took the API to 1.8 GiB. The size limit bounds the bytes; the
number of values is bounded here, on the bytes, before anything is decoded.

`values(raw)` counts the arrays and objects of a text and the commas between their items: every
value but the first of each array or object, so a text that decodes to n values counts at least
(n - 1) / 2, and a count bounds what decoding can allocate (some 40 bytes a count, besides the
strings' own characters). It runs at C speed: first on the raw bytes, strings included, which is all a
normal body ever needs; only a text over the limit is counted again without its strings (commas and
brackets inside strings are not values), in linear time; one with more strings than the limit counts
its strings. `refusal(raw)` says why a text is not decoded, naming deep nesting as such."""

from __future__ import annotations

import re

_STRING = re.compile(rb'"[^"]*"')
"""A JSON string once its escapes are removed (no backtracking: the text has no backslash left)."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _structural(text: bytes) -> int:
    return text.count(b",") + text.count(b"[") + text.count(b"{")


def _unescaped(raw: bytes) -> bytes | None:
    """The text without its escapes, so that every quote left delimits a string; None for UTF-16 or
    UTF-32 text (JSON's other encodings, where the bytes of an escape are not adjacent)."""
    if b"\x00" in raw:
        return None
    # the escaped backslashes first, then the escaped quotes
    return raw.replace(b"\\\\", b"").replace(b'\\"', b"")


def values(raw: bytes, *, limit: int) -> int:
    """A count of the values of the JSON text `raw`, to compare with `limit`: the arrays, objects and
    item-separating commas (on the raw bytes when that is within the limit, else outside the strings),
    or the strings when there are more of them than the limit. A count within the limit means at
    most 2 * limit + 1 values."""
    rough = _structural(raw)
    if rough <= limit:
        return rough
    plain = _unescaped(raw)
    if plain is None:
        return rough
    strings = plain.count(b'"') // 2
    if strings > limit:  # each string is a value: too many already, and not worth taking out one by one
        return strings
    return _structural(_STRING.sub(b"", plain))


def deeper_than(raw: bytes, depth: int) -> bool:
    """Whether the arrays and objects of the JSON text `raw` nest more than `depth` levels: the
    brackets outside strings, their innermost pairs taken away `depth` times, and some still left.
    Each time is a few passes of bytes.replace over the text: an innermost pair becomes a dot (so
    that the pair it leaves behind waits for the next time), and the dots go first."""
    plain = _unescaped(raw)
    if plain is None:
        return False
    brackets = _STRING.sub(b"", plain).translate(None, _NOT_BRACKETS)
    for _ in range(depth):
        fewer = brackets.replace(b".", b"").replace(b"[]", b".").replace(b"{}", b".")
        if fewer == brackets or not fewer.strip(b"."):  # brackets that do not pair (not JSON), or none
            return False
        brackets = fewer
    return bool(brackets.replace(b".", b""))


def refusal(raw: bytes, *, max_values: int, max_depth: int) -> str | None:
    """Why the JSON text `raw` is not to be decoded (in Chinese), or None: more values than
    `max_values`, said as nesting deeper than `max_depth` when that is what they are."""
    if values(raw, limit=max_values) <= max_values:
        return None
    plain = _unescaped(raw)
    few_strings = plain is not None and plain.count(b'"') // 2 <= max_values  # else not worth the pass
    if few_strings and deeper_than(raw, max_depth):
        return f"JSON 嵌套层数超过 {max_depth} 层（且值超过 {max_values} 个上限）"
    return f"JSON 值过多：数组、对象及其成员合计超过 {max_values} 个上限"
