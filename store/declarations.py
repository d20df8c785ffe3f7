"""Reading registry declaration files (docs/architecture.md §8) for the adapters: a folder's
`<name>.yaml` files, each parsed by `engine.registries.parse_registry` with its file name as the name
it must declare."""

from __future__ import annotations

from pathlib import Path

from engine.errors import RulesetError
from engine.registries import DECLARATION_SUFFIX, Registry, parse_registry


def read_declaration(path: Path) -> Registry:
    """The declaration in the file `path` (`<name>.yaml`). Raises RulesetError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RulesetError("共享数据库声明不是 UTF-8 编码", source=str(path)) from exc
    return parse_registry(text, source=str(path), name=path.name.removesuffix(DECLARATION_SUFFIX))


def declaration_files(folder: Path) -> list[Path]:
    """The declaration files (`*.yaml`) directly in `folder`, by name; none when it is not a folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(DECLARATION_SUFFIX))
