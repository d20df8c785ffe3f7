"""store.declarations: a folder's declaration files, read with their file name as the declared name."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RulesetError
from store.declarations import declaration_files, read_declaration

DECLARATION = """\
name: education_records
title: 学历学位信息库
columns:
  id_number: {type: id_number, title: 身份证号码}
key: [id_number]
"""


def test_the_yaml_files_of_a_folder_are_its_declarations(tmp_path: Path) -> None:
    (tmp_path / "education_records.yaml").write_text(DECLARATION, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("不是声明", encoding="utf-8")
    (tmp_path / "sub.yaml").mkdir()
    assert declaration_files(tmp_path) == [tmp_path / "education_records.yaml"]
    assert declaration_files(tmp_path / "missing") == []
    registry = read_declaration(tmp_path / "education_records.yaml")
    assert (registry.name, registry.source) == ("education_records", str(tmp_path / "education_records.yaml"))


def test_a_file_named_otherwise_or_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "education.yaml").write_text(DECLARATION, encoding="utf-8")
    with pytest.raises(RulesetError) as info:
        read_declaration(tmp_path / "education.yaml")
    assert info.value.source == str(tmp_path / "education.yaml")
    assert (info.value.path, info.value.line) == ("name", 1)
    (tmp_path / "gbk.yaml").write_bytes(DECLARATION.replace("education_records", "gbk").encode("gbk"))
    with pytest.raises(RulesetError, match="不是 UTF-8 编码"):
        read_declaration(tmp_path / "gbk.yaml")
