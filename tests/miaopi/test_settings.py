"""The settings as operators see them: the README's table is the model's, and `miaopi settings` hides
secrets."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from miaopi.cli import app
from service.settings import PROJECT_ROOT, Settings, reference_markdown


def test_the_readme_lists_every_setting_as_the_model_declares_it() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", readme, re.S)
    assert found, "README.md has no settings table between its markers"
    assert found.group(1) == reference_markdown(), (
        "README.md's settings table differs from service/settings.py: paste "
        "`python -c 'from service.settings import reference_markdown; print(reference_markdown())'`"
    )
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_settings_command_shows_values_in_force_but_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.settings import get_settings

    monkeypatch.setenv("MIAOPI_WEB_SECRET", "s3cr3t-cookie-key")
    monkeypatch.setenv("MIAOPI_AUDIT_KEY", "audit-key-" + "k" * 32)
    monkeypatch.setenv("MIAOPI_DATABASE_URL", "postgresql://miaopi:pg-pass-42@db.example/miaopi")
    monkeypatch.setenv("MIAOPI_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("COLUMNS", "250")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["settings"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "s3cr3t-cookie-key" not in result.output and "pg-pass-42" not in result.output
    assert "audit-key-" not in result.output
    row = next(line for line in result.output.splitlines() if "MIAOPI_MAX_ATTEMPTS" in line)
    assert "7" in row and "3" in row  # in force, and the default beside it
    row = next(line for line in result.output.splitlines() if "MIAOPI_WEB_SECRET" in line)
    assert " set " in row
