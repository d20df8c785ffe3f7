"""The registry declarations a process knows (docs/architecture.md §8): read at start from the folder
of MIAOPI_REGISTRIES_DIR and from each item folder's `registries/`, and added to the catalogue
(`engine.registries.REGISTRIES`, which holds the built-in declarations of the project's `registries/`
folder already). A ruleset folder loaded on its own (`miaopi lint DIR`, `miaopi test DIR`) adds its own
`registries/` (service/rulesets.py: load_program), so an item folder with its registries can be copied
anywhere."""

from __future__ import annotations

from pathlib import Path

from engine.registries import REGISTRIES, Registry
from service.settings import Settings
from store.declarations import declaration_files, read_declaration

REGISTRIES_FOLDER = "registries"
"""The subfolder of an item folder holding the declarations of the registries it brings."""


def add_folder(folder: Path) -> list[Registry]:
    """Add the declarations in `folder` (`<name>.yaml`; none when there is no such folder) to the
    catalogue; returns those that were new. Raises RulesetError for an invalid declaration or one that
    contradicts a registry already known."""
    added = []
    for path in declaration_files(folder):
        registry = read_declaration(path)
        if REGISTRIES.add(registry):
            added.append(registry)
    return added


def registry_folders(settings: Settings) -> list[Path]:
    """The folders of declarations besides the built-ins: the setting's, then each item folder's."""
    folders = [settings.registries_dir] if settings.registries_dir is not None else []
    root = settings.rulesets_dir
    if root.is_dir():
        folders += sorted(p / REGISTRIES_FOLDER for p in root.iterdir() if (p / REGISTRIES_FOLDER).is_dir())
    return folders


def load_registries(settings: Settings) -> list[Registry]:
    """Add every declaration of `registry_folders(settings)` to the catalogue; returns the new ones."""
    added = []
    for folder in registry_folders(settings):
        added += add_folder(folder)
    return added
