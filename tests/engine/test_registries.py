"""The registry declarations (engine.registries): the built-ins, the parser's errors (file, line, field,
in Chinese) and the catalogue's rule that a name means one registry."""

from __future__ import annotations

import textwrap

import pytest

from engine.errors import RulesetError
from engine.registries import (
    BUILTIN_DIR,
    REGISTRIES,
    Registry,
    RegistryCatalogue,
    parse_registry,
)

EDUCATION = textwrap.dedent(
    """\
    name: education_records
    title: 学历学位信息库
    columns:
      id_number: {type: id_number, title: 身份证号码, personal: true}
      school: {type: string, title: 毕业院校}
      degree:
        type: enum
        title: 学历
        labels: {bachelor: 本科, master: 硕士研究生, doctor: 博士研究生}
      graduated_on: {type: date, title: 毕业日期}
      full_time: {type: enum, title: 学习形式, labels: {full: 全日制, part: 非全日制}}
      note: {type: string, title: 备注, nullable: true}
    key: [id_number, graduated_on]
    indexes: [school, [degree, graduated_on]]
    """
)


def declared(text: str = EDUCATION, name: str | None = "education_records") -> Registry:
    return parse_registry(text, source="education_records.yaml", name=name)


def error_of(old: str, new: str, *, name: str | None = "education_records") -> RulesetError:
    text = EDUCATION.replace(old, new)
    assert text != EDUCATION, old
    with pytest.raises(RulesetError) as info:
        declared(text, name)
    err = info.value
    assert err.source == "education_records.yaml"
    return err


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_declaration_gives_the_registry_with_titles_labels_and_indexes() -> None:
    reg = declared()
    assert reg.name == "education_records" and reg.title == "学历学位信息库"
    assert reg.column_names == ("id_number", "school", "degree", "graduated_on", "full_time", "note")
    assert reg.key == ("id_number", "graduated_on")
    assert reg.indexes == (("school",), ("degree", "graduated_on"))
    degree = reg.column("degree")
    assert degree is not None
    assert (degree.kind, degree.choices, degree.title) == ("enum", ("bachelor", "master", "doctor"), "学历")
    assert degree.label("master") == "硕士研究生" and degree.label("other") == "other"
    id_number = reg.column("id_number")
    assert id_number is not None and id_number.personal and not id_number.nullable
    note = reg.column("note")
    assert note is not None and note.nullable and not note.personal


def test_the_built_ins_are_the_folder_registries_of_the_project() -> None:
    files = sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
    assert (
        files
        == sorted(REGISTRIES.builtin_names)
        == sorted(
            [
                "population",
                "marriage",
                "kinship",
                "real_estate",
                "contract_filings",
                "enterprises",
                "certificates",
                "credit_records",
                "safety_accidents",
                "social_insurance",
                "academic_records",
                "household_registrations",
                "criminal_records",
            ]
        )
    )
    population = REGISTRIES["population"]
    assert population.title == "人口基础信息库"
    status = population.column("status")
    assert status is not None
    assert dict(status.labels) == {"normal": "正常", "deceased": "死亡", "cancelled": "注销"}
    for registry in REGISTRIES.values():
        for column in registry.columns:
            assert column.title, (registry.name, column.name)
            assert (column.kind == "enum") == bool(column.labels), (registry.name, column.name)
            assert column.choices == tuple(column.labels)


@pytest.mark.parametrize(
    ("old", "new", "path", "message", "suggested"),
    [
        ("type: date", "type: datum", "columns.graduated_on.type", "未知的列类型 'datum'", "date"),
        (
            "key: [id_number,",
            "key: [id_numbr,",
            "key.0",
            "记录键中的列 'id_numbr' 不在 columns 中",
            "id_number",
        ),
        ("indexes: [school,", "indexes: [schol,", "indexes.0", "索引中的列 'schol'", "school"),
        ("title: 毕业院校}", "titel: 毕业院校}", "columns.school.titel", "不认识的键 'titel'", "title"),
        ("key:", "keys:", "keys", "不认识的键 'keys'", "key"),
    ],
)
def test_misspelt_names_are_pointed_at_with_a_suggestion(
    old: str, new: str, path: str, message: str, suggested: str
) -> None:
    err = error_of(old, new)
    assert err.path == path
    assert message in err.message
    assert err.line == line_of(EDUCATION.replace(old, new), new)
    assert err.suggestion is not None and repr(suggested) in err.suggestion


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "    labels: {bachelor: 本科, master: 硕士研究生, doctor: 博士研究生}\n",
            "",
            "columns.degree.type",
            "必须给出 labels",
        ),
        (
            "title: 毕业院校}",
            "title: 毕业院校, labels: {a: 甲}}",
            "columns.school.labels",
            "只有 enum 类型的列",
        ),
        (
            "{full: 全日制, part: 非全日制}",
            "{yes: 全日制, no: 非全日制}",
            "columns.full_time.labels.yes",
            "请加引号",
        ),
        (
            "graduated_on: {type: date,",
            "graduated_on: {type: date, nullable: true,",
            "key.1",
            "不能为 nullable",
        ),
        ("  note:", "  found:", "columns.found", "保留名称"),
        ("  note:", "  Note:", "columns.Note", "只能由小写字母"),
        ("indexes: [school,", "indexes: [id_number, school,", "indexes.0", "无需再建索引"),
        ("[degree, graduated_on]", "[school, degree]", "indexes.1", "已有以 school 开头的索引"),
        ("title: 学历学位信息库\n", "", "title", "缺少必填项 'title'"),
        ("name: education_records", "name: Education", "name", "只能由小写字母"),
        ("personal: true}", "personal: maybe}", "columns.id_number.personal", "应为 true 或 false"),
    ],
)
def test_errors_name_the_file_the_line_and_the_field_in_chinese(
    old: str, new: str, path: str, message: str
) -> None:
    err = error_of(old, new)
    assert err.path == path
    assert message in err.message
    assert err.line is not None
    assert str(err).startswith(f"education_records.yaml:{err.line}: {path}: ")


def test_the_declared_name_must_be_the_file_name() -> None:
    with pytest.raises(RulesetError) as info:
        declared(EDUCATION, name="education")
    assert info.value.path == "name" and info.value.line == 1
    assert "education.yaml" in info.value.message


def test_yaml_syntax_and_empty_files_are_reported() -> None:
    with pytest.raises(RulesetError, match="YAML 语法错误"):
        declared("name: [unclosed\n")
    with pytest.raises(RulesetError, match="共享数据库声明顶层必须是映射"):
        declared("- a\n- b\n")


def test_a_name_means_one_registry_in_the_catalogue() -> None:
    catalogue = RegistryCatalogue(lambda: [declared()])
    assert "education_records" in catalogue and catalogue.builtin_names == {"education_records"}
    assert catalogue.add(declared()) is False  # the same declaration again: nothing to do
    other = parse_registry(
        EDUCATION.replace("title: 毕业院校}", "title: 学校}"), source="elsewhere/education_records.yaml"
    )
    with pytest.raises(RulesetError) as info:
        catalogue.add(other)
    assert "education_records.yaml" in info.value.message and "列 school 的声明不同" in info.value.message
    assert info.value.source == "elsewhere/education_records.yaml"
    renamed = parse_registry(EDUCATION.replace("name: education_records", "name: degrees"), source="d.yaml")
    assert catalogue.add(renamed) is True
    assert list(catalogue) == ["education_records", "degrees"]
    assert catalogue.builtin_names == {"education_records"}


def test_snapshot_and_restore() -> None:
    before = REGISTRIES.snapshot()
    REGISTRIES.add(declared())
    assert "education_records" in REGISTRIES and REGISTRIES.get("education_records") == declared()
    REGISTRIES.restore(before)
    assert "education_records" not in REGISTRIES and len(REGISTRIES) == len(before)
