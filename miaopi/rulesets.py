"""Ruleset files on disk → compiled programs (the file-reading side the engine never does)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import RulesetError, UnknownItemError
from engine.expr import suggest
from engine.program import Program, build_program

RULESET_FILE = "ruleset.yaml"


def load_program(folder: Path) -> Program:
    """Compile the ruleset in `folder` (or a ruleset file given directly)."""
    path = folder / RULESET_FILE if folder.is_dir() else folder
    if not path.is_file():
        raise RulesetError(f"找不到规则集文件 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RulesetError("规则集文件不是 UTF-8 编码", source=str(path)) from exc
    return build_program(text, source=str(path))


class RulesetRepository:
    """Rulesets by item id, compiled once and cached."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, Program] = {}

    def items(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / RULESET_FILE).is_file())

    def get(self, item: str) -> Program:
        if item not in self._cache:
            items = self.items()
            if item not in items:
                raise UnknownItemError(
                    f"未知事项 {item!r}（可选：{', '.join(items)}）",
                    path="item",
                    suggestion=suggest(item, items),
                )
            program = load_program(self.root / item)
            if program.item != item:
                raise RulesetError(
                    f"文件夹名 {item!r} 与规则集 item.id {program.item!r} 不一致", source=program.source
                )
            self._cache[item] = program
        return self._cache[item]
