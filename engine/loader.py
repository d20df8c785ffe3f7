"""Ruleset text → validated Ruleset, with errors that name the file, the line and the path.

The engine never opens files: callers pass the text and a source name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml
from pydantic import ValidationError

from engine.errors import RulesetError
from engine.expr import suggest
from engine.model import Ruleset, as_plain


def _construct(
    node: yaml.Node, lines: dict[tuple[str, ...], int], path: tuple[str, ...], *, text_keys: bool = False
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)  # a key's own line wins over its value's
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            typed = yaml.safe_load(yaml.serialize(key_node))
            if text_keys and not isinstance(typed, str):
                raw = getattr(key_node, "value", typed)
                raise RulesetError(
                    f"键 {raw} 会被 YAML 读作 {typed!r} 而不是文字，请加引号写成 '{raw}'",
                    line=key_node.start_mark.line + 1,
                    path=".".join((*path, str(raw))),
                )
            key = str(typed)
            if key in out:
                raise RulesetError(
                    f"键 {key!r} 重复", line=key_node.start_mark.line + 1, path=".".join((*path, key))
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, lines, (*path, key), text_keys=text_keys)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, lines, (*path, str(i)), text_keys=text_keys) for i, v in enumerate(node.value)]
    # scalars: let PyYAML's safe resolver type them, but keep decimals exact
    value = yaml.safe_load(yaml.serialize(node))
    if isinstance(value, float):
        from decimal import Decimal

        return Decimal(node.value)
    return value


def parse_yaml(
    text: str, *, source: str, what: str = "规则集", text_keys: bool = False
) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """YAML text → plain data and a map from path to line number. `what` names the document in
    errors; with `text_keys`, a key YAML reads as something else than text (`yes`, `1`) is an error
    instead of being turned into text ('True', '1')."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesetError(
            f"YAML 语法错误：{exc}", source=source, line=mark.line + 1 if mark else None
        ) from exc
    if node is None:
        raise RulesetError("文件为空", source=source)
    lines: dict[tuple[str, ...], int] = {}
    try:
        data = _construct(node, lines, (), text_keys=text_keys)
    except RulesetError as exc:
        exc.source = source
        raise
    if not isinstance(data, dict):
        raise RulesetError(f"{what}顶层必须是映射（键: 值）", source=source, line=1)
    return data, lines


def line_for(lines: dict[tuple[str, ...], int], loc: tuple[str, ...]) -> int | None:
    """The line of the value at `loc`, or of its nearest enclosing key."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated wrappers down to a model, list[...] or dict[...]."""
    import typing

    from pydantic import BaseModel

    while True:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        origin = typing.get_origin(annotation)
        if origin in (list, dict):
            return annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin is None or not args:
            return annotation
        annotation = args[0]


def _allowed_keys(model: Any, loc: tuple[str, ...]) -> list[str]:
    """Field names allowed at `loc` (for suggestions on misspelt keys)."""
    import typing

    from pydantic import BaseModel

    current: Any = model
    for part in loc[:-1]:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            f = current.model_fields.get(part)
            if f is None:
                return []
            current = f.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]  # the element, past an index or a key
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def load_ruleset(text: str, *, source: str) -> tuple[Ruleset, dict[tuple[str, ...], int]]:
    """Validate ruleset text. Returns the model and the path → line map (for later checks)."""
    data, lines = parse_yaml(text, source=source)
    try:
        rs = Ruleset.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        extra = [e for e in errors if e["type"] == "extra_forbidden"]
        err = extra[0] if extra else errors[0]
        loc = tuple(str(p) for p in err["loc"])
        suggestion = None
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(Ruleset, loc)
            suggestion = suggest(loc[-1], allowed) if allowed else None
            message = f"不认识的键 {loc[-1]!r}"
        elif err["type"] == "missing":
            message = f"缺少必填项 {loc[-1]!r}"
        else:
            message = err["msg"]
        more = len(errors) - 1
        if extra and any(e["type"] == "missing" for e in errors):
            more -= 1  # the "missing" twin of a misspelt key
        if more:
            message += f"（另有 {more} 处错误）"
        raise RulesetError(
            message,
            source=source,
            line=line_for(lines, loc),
            path=".".join(loc) or None,
            suggestion=suggestion,
        ) from exc
    return rs, lines


def canonical_sha256(rs: Ruleset) -> str:
    """sha256 of the ruleset's canonical JSON (sorted keys, no whitespace): stable across formatting."""
    data = as_plain(rs.model_dump(mode="python"))
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
