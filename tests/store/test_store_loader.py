"""store.loader.load_directory: snapshots, validation, atomicity, idempotency."""

from __future__ import annotations

import copy
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, inspect
from store_testdata import (
    E1,
    P1,
    P2,
    X_ID,
    Rows,
    dataset,
    dump,
    resident_id,
    sort_by_key,
    write_csv,
    write_dataset,
    write_raw,
)

import store.loader as loader
from engine.errors import RulesetError
from engine.registries import REGISTRIES, Registry
from store.errors import DataLoadError, StoreError
from store.loader import LoadReport, RegistryLoadCounts, load_directory
from store.registry import SqlRegistry


def _load(engine: Engine, directory: Path) -> LoadReport:
    return load_directory(engine, directory)


def _changed_dataset() -> Rows:
    """dataset() with every registry changed: one row edited (where possible), one added, one removed."""
    data = dataset()
    data["population"][0]["name"] = "张三丰"
    data["population"].pop()
    data["population"].append(
        {
            "id_number": resident_id(seq=77),
            "name": "新人",
            "gender": "女",
            "birth_date": date(1990, 3, 7),
            "status": "normal",
        }
    )
    data["marriage"][0]["status"] = "divorced"
    data["kinship"].pop()
    data["real_estate"][0]["area_m2"] = Decimal("90")
    data["contract_filings"][1]["price_yuan"] = Decimal("3000000.01")
    data["enterprises"][1]["address"] = "新地址"
    data["certificates"][0]["status"] = "expired"
    data["credit_records"][0]["lifted_on"] = date(2026, 1, 1)
    data["safety_accidents"].pop()
    data["safety_accidents"].append(
        {"credit_code": E1, "occurred_on": date(2026, 6, 1), "level": "重大事故", "fatalities": 12}
    )
    data["social_insurance"].append({"id_number": P2, "employer_credit_code": E1, "month": "2026-11"})
    return data


def test_load_valid_folder(engine: Engine, tmp_path: Path) -> None:
    data = dataset()
    write_dataset(tmp_path / "data", data)
    (tmp_path / "data" / "README.txt").write_text("not a registry file, ignored")
    (tmp_path / "data" / "notes").mkdir()

    report = _load(engine, tmp_path / "data")

    assert list(report.registries) == list(REGISTRIES)
    for name, rows in data.items():
        assert report.registries[name] == RegistryLoadCounts(inserted=len(rows))
    assert report.changed
    assert report.to_dict()["registries"]["population"] == {
        "file": "population.csv",
        "rows": 5,
        "inserted": 5,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
    }
    contents = dump(engine, with_row_id=False)
    for name, rows in data.items():
        assert sort_by_key(name, contents[name]) == sort_by_key(name, rows)
    # Types as in the catalogue; decimals exact and at scale 4.
    price = next(r["price_yuan"] for r in contents["contract_filings"] if r["buyer_id_number"] == P1)
    assert price == Decimal("12345678901234.5678") and str(price) == "12345678901234.5678"
    assert {str(r["area_m2"]) for r in contents["real_estate"]} == {"89.5000", "1200.2500"}
    assert any(r["id_number"] == X_ID for r in contents["population"])
    reasons = {r["reason"] for r in contents["credit_records"]}
    assert 'Abc, "quoted"\nsecond line' in reasons


def test_second_load_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    write_dataset(tmp_path, dataset())
    _load(engine, tmp_path)
    before = dump(engine)

    report = _load(engine, tmp_path)

    assert not report.changed
    for name, rows in dataset().items():
        assert report.registries[name] == RegistryLoadCounts(unchanged=len(rows))
    assert dump(engine) == before  # same rows with the same row_ids: nothing rewritten


def test_snapshot_semantics(engine: Engine, tmp_path: Path) -> None:
    write_dataset(tmp_path / "v1", dataset())
    _load(engine, tmp_path / "v1")
    before = dump(engine)
    changed = _changed_dataset()
    write_dataset(tmp_path / "v2", changed)

    report = _load(engine, tmp_path / "v2")

    r = report.registries
    assert r["population"] == RegistryLoadCounts(inserted=1, updated=1, deleted=1, unchanged=3)
    assert r["marriage"] == RegistryLoadCounts(updated=1, unchanged=1)
    assert r["kinship"] == RegistryLoadCounts(deleted=1, unchanged=1)
    assert r["real_estate"] == RegistryLoadCounts(updated=1, unchanged=2)
    assert r["contract_filings"] == RegistryLoadCounts(updated=1, unchanged=1)
    assert r["enterprises"] == RegistryLoadCounts(updated=1, unchanged=1)
    assert r["certificates"] == RegistryLoadCounts(updated=1, unchanged=1)
    assert r["credit_records"] == RegistryLoadCounts(updated=1, unchanged=2)
    assert r["safety_accidents"] == RegistryLoadCounts(inserted=1, deleted=1, unchanged=1)
    assert r["social_insurance"] == RegistryLoadCounts(inserted=1, unchanged=4)
    after = dump(engine)
    for name, rows in changed.items():
        assert sort_by_key(name, [{k: v for k, v in x.items() if k != "row_id"} for x in after[name]]) == (
            sort_by_key(name, rows)
        )

    # Rows whose key stays keep their row_id; new rows get a fresh one.
    def ids(rows: list[dict[str, Any]]) -> dict[str, int]:
        return {x["id_number"]: x["row_id"] for x in rows}

    old, new = ids(before["population"]), ids(after["population"])
    assert {k: new[k] for k in old.keys() & new.keys()} == {k: old[k] for k in old.keys() & new.keys()}
    assert set(new.values()) - set(old.values()) == {max(old.values()) + 1}


def test_absent_registry_is_untouched(engine: Engine, tmp_path: Path) -> None:
    write_dataset(tmp_path / "all", dataset())
    _load(engine, tmp_path / "all")
    before = dump(engine)
    write_csv(tmp_path / "one", "kinship", [])

    report = load_directory(engine, tmp_path / "one", force=True)  # emptying a registry needs force

    assert list(report.registries) == ["kinship"]
    assert report.registries["kinship"] == RegistryLoadCounts(deleted=2)
    after = dump(engine)
    assert after["kinship"] == []
    assert {k: v for k, v in after.items() if k != "kinship"} == {
        k: v for k, v in before.items() if k != "kinship"
    }


def test_empty_folder_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    report = _load(engine, tmp_path)
    assert report.registries == {} and not report.changed


def test_bom_and_column_order(engine: Engine, tmp_path: Path) -> None:
    rows = dataset()["enterprises"]
    columns = list(reversed(REGISTRIES["enterprises"].column_names))
    write_csv(tmp_path, "enterprises", rows, columns=columns, bom=True)
    report = _load(engine, tmp_path)
    assert report.registries["enterprises"].inserted == 2
    assert sort_by_key("enterprises", dump(engine, with_row_id=False)["enterprises"]) == sort_by_key(
        "enterprises", rows
    )


def test_cells_are_trimmed_and_blank_lines_skipped(engine: Engine, tmp_path: Path) -> None:
    write_raw(
        tmp_path,
        "kinship.csv",
        f" parent_id_number , child_id_number\r\n\r\n {P1} ,{P2}\r\n\r\n",
    )
    report = _load(engine, tmp_path)
    assert report.registries["kinship"].inserted == 1
    assert dump(engine, with_row_id=False)["kinship"] == [{"parent_id_number": P1, "child_id_number": P2}]


# --- errors -------------------------------------------------------------------------------------------

# (registry, column, bad cell, error code, fragment of the Chinese message)
BAD_CELLS = [
    ("population", "id_number", "110101199003071234", "invalid_id_number", "公民身份号码"),
    ("population", "id_number", X_ID.lower(), "invalid_id_number", "公民身份号码"),
    ("enterprises", "credit_code", "91110000MA01ABCD1X", "invalid_credit_code", "统一社会信用代码"),
    ("credit_records", "subject_id", "12345", "invalid_subject_id", "统一社会信用代码"),
    ("real_estate", "area_m2", "1,234.5", "invalid_decimal", "千位分隔符"),
    ("real_estate", "area_m2", "1.23456", "decimal_out_of_range", "小数最多4位"),
    ("contract_filings", "price_yuan", "1e6", "invalid_decimal", "十进制数"),
    ("safety_accidents", "fatalities", "2.5", "invalid_integer", "整数"),
    ("population", "birth_date", "1990/01/01", "invalid_date", "日期格式应为 YYYY-MM-DD"),
    ("population", "birth_date", "1990-02-30", "invalid_date", "有效的日期"),
    ("social_insurance", "month", "2024-13", "invalid_month", "YYYY-MM"),
    ("population", "gender", "M", "invalid_enum", "男、女"),
    ("population", "name", "", "missing_value", "不能为空"),
]


def _loaded(engine: Engine, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    write_dataset(tmp_path / "v1", dataset())
    _load(engine, tmp_path / "v1")
    return dump(engine)


def _error(engine: Engine, directory: Path) -> DataLoadError:
    with pytest.raises(DataLoadError) as info:
        _load(engine, directory)
    return info.value


@pytest.mark.parametrize(("registry", "column", "cell", "code", "fragment"), BAD_CELLS)
def test_bad_cell_is_reported_and_nothing_is_written(
    engine: Engine, tmp_path: Path, registry: str, column: str, cell: str, code: str, fragment: str
) -> None:
    before = _loaded(engine, tmp_path)
    data = _changed_dataset()  # every file changes, so a partial write would show
    data[registry][1][column] = cell
    write_dataset(tmp_path / "v2", data)

    error = _error(engine, tmp_path / "v2")

    assert (error.file, error.line, error.column, error.code) == (f"{registry}.csv", 3, column, code)
    assert fragment in error.message
    assert str(error).startswith(f"{registry}.csv 第3行 {column} 列: {error.message}")
    assert f"line 3, column {column}" in str(error)
    assert isinstance(error, ValueError) and isinstance(error, StoreError)
    assert dump(engine) == before


def test_error_message_format(engine: Engine, tmp_path: Path) -> None:
    data = dataset()
    data["population"][1]["birth_date"] = "1990/01/01"
    write_dataset(tmp_path, data)
    error = _error(engine, tmp_path)
    assert str(error) == (
        "population.csv 第3行 birth_date 列: 日期格式应为 YYYY-MM-DD，实际为 '1990/01/01' "
        "(population.csv, line 3, column birth_date: date must be YYYY-MM-DD, got '1990/01/01')"
    )


def test_line_numbers_count_physical_lines(engine: Engine, tmp_path: Path) -> None:
    rows = dataset()["credit_records"]  # the second row's reason spans two lines
    rows[2]["listed_on"] = "yesterday"
    write_csv(tmp_path, "credit_records", rows)
    error = _error(engine, tmp_path)
    assert (error.line, error.column) == (5, "listed_on")


def test_nullable_column_accepts_empty_cell_only_there(engine: Engine, tmp_path: Path) -> None:
    data = {"enterprises": dataset()["enterprises"]}
    data["enterprises"][0]["status"] = None
    write_dataset(tmp_path, data)
    error = _error(engine, tmp_path)
    assert (error.line, error.column, error.code) == (2, "status", "missing_value")


def test_duplicate_key(engine: Engine, tmp_path: Path) -> None:
    before = _loaded(engine, tmp_path)
    data = _changed_dataset()
    twin = copy.deepcopy(data["real_estate"][0])
    twin["address"] = "另一个地址"  # same key (cert_no, owner_id_number), other values
    data["real_estate"].append(twin)
    write_dataset(tmp_path / "v2", data)

    error = _error(engine, tmp_path / "v2")

    assert (error.file, error.line, error.code) == (
        "real_estate.csv",
        len(data["real_estate"]) + 1,
        "duplicate_key",
    )
    assert "第2行" in error.message
    assert dump(engine) == before


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("id_number,name,gender,birth_date", "status"),  # missing
        ("id_number,name,gender,birth_date,status,extra", "extra"),  # unknown
        ("id_number,name,gender,birth_date,status,name", "name"),  # repeated
        ("ID_NUMBER,name,gender,birth_date,status", "id_number"),  # names are exact
    ],
)
def test_wrong_header(engine: Engine, tmp_path: Path, header: str, column: str) -> None:
    before = _loaded(engine, tmp_path)
    write_dataset(tmp_path / "v2", _changed_dataset())
    write_raw(tmp_path / "v2", "population.csv", header + f"\n{P1},张三,男,1990-03-07,normal\n")

    error = _error(engine, tmp_path / "v2")

    assert (error.file, error.line, error.column, error.code) == ("population.csv", 1, column, "bad_header")
    assert dump(engine) == before


def test_empty_file(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path, "population.csv", "")
    error = _error(engine, tmp_path)
    assert (error.file, error.line, error.code) == ("population.csv", 1, "bad_header")


def test_wrong_cell_count(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path, "kinship.csv", f"parent_id_number,child_id_number\n{P1},{P2}\n{P1},{P2},{X_ID}\n")
    error = _error(engine, tmp_path)
    assert (error.line, error.column, error.code) == (3, None, "wrong_cell_count")


def test_malformed_csv(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path, "kinship.csv", f'parent_id_number,child_id_number\n{P1},"{P2}"x\n')
    error = _error(engine, tmp_path)
    assert (error.line, error.code) == (2, "bad_csv")


def test_not_utf8(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "population.csv").write_bytes(
        b"id_number,name,gender,birth_date,status\n" + f"{P1},张三,男,1990-03-07,normal\n".encode("gbk")
    )
    error = _error(engine, tmp_path)
    assert (error.line, error.code) == (2, "bad_encoding")


def test_a_line_without_end_is_refused_with_its_line_not_read_whole(engine: Engine, tmp_path: Path) -> None:
    """Read a line at a time, each at most MAX_LINE_BYTES: a file without line breaks is not held
    whole in memory (a 20 MiB line took the loader's peak from 75 to 154 MiB)."""
    with (tmp_path / "population.csv").open("w", encoding="utf-8") as f:
        f.write("id_number,name,gender,birth_date,status\n")
        f.write(f"{P1},张三,男,1990-03-07,normal\n")
        f.write(f"{P2}," + "长" * loader.MAX_LINE_BYTES)  # three bytes a character, no line break
    error = _error(engine, tmp_path)
    assert (error.file, error.line, error.code) == ("population.csv", 3, "line_too_long")
    assert "MiB" in error.message
    assert dump(engine)["population"] == []


def test_a_nul_character_is_refused_with_its_line_and_column(engine: Engine, tmp_path: Path) -> None:
    """It was loaded into SQLite, and PostgreSQL's refusal of it ended `miaopi data load` in a traceback."""
    write_raw(
        tmp_path,
        "population.csv",
        f"id_number,name,gender,birth_date,status\n{P1},张\x00三,男,1990-03-07,normal\n",
    )
    error = _error(engine, tmp_path)
    assert (error.line, error.column, error.code) == (2, "name", "nul_character")
    assert dump(engine)["population"] == []


@pytest.mark.parametrize("name", ["people.csv", "Population.csv", "population.CSV"])
def test_unknown_csv_file(engine: Engine, tmp_path: Path, name: str) -> None:
    before = _loaded(engine, tmp_path)
    write_dataset(tmp_path / "v2", _changed_dataset())
    write_raw(tmp_path / "v2", name, "a,b\n1,2\n")

    error = _error(engine, tmp_path / "v2")

    assert (error.file, error.line, error.code) == (name, None, "unknown_file")
    assert "population.csv" in error.message
    assert dump(engine) == before


def test_missing_directory(engine: Engine, tmp_path: Path) -> None:
    error = _error(engine, tmp_path / "nope")
    assert error.code == "not_a_directory"


def test_failure_while_writing_rolls_back_earlier_registries(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error after some registries were written leaves none of them written."""
    before = _loaded(engine, tmp_path)
    write_dataset(tmp_path / "v2", _changed_dataset())
    real_apply = loader._apply
    written: list[str] = []

    def failing_apply(conn: Connection, registry: Registry, staging: Table, *, mode: loader.Mode) -> None:
        if registry.name == "real_estate":
            raise RuntimeError("simulated database failure")
        written.append(registry.name)
        real_apply(conn, registry, staging, mode=mode)

    monkeypatch.setattr(loader, "_apply", failing_apply)
    with pytest.raises(RuntimeError, match="simulated"):
        _load(engine, tmp_path / "v2")

    assert written == [  # the catalogue's order: the built-in declarations by file name
        "academic_records",
        "certificates",
        "contract_filings",
        "credit_records",
        "criminal_records",
        "enterprises",
        "household_registrations",
        "kinship",
        "marriage",
        "population",
    ]
    assert dump(engine) == before


def test_concurrent_loads_are_serialised(engine: Engine, tmp_path: Path) -> None:
    """Loads racing on the same registries both succeed and leave one complete snapshot."""
    snapshots = [dataset(), _changed_dataset()]
    for i, data in enumerate(snapshots):
        write_dataset(tmp_path / f"v{i}", data)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(snapshots))

    def run(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                _load(engine, tmp_path / f"v{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(snapshots))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    contents = dump(engine, with_row_id=False)
    assert any(
        all(sort_by_key(n, contents[n]) == sort_by_key(n, rows) for n, rows in data.items())
        for data in snapshots
    )


# -- modes, dry runs and the deletion guard ----------------------------------------------------------------
def test_dry_run_counts_what_a_load_would_do_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = _loaded(engine, tmp_path)
    write_dataset(tmp_path / "v2", _changed_dataset())

    dry = load_directory(engine, tmp_path / "v2", dry_run=True)

    assert dump(engine) == before
    assert dry.dry_run and dry.to_dict()["dry_run"] is True
    assert dry.registries["population"] == RegistryLoadCounts(inserted=1, updated=1, deleted=1, unchanged=3)
    real = load_directory(engine, tmp_path / "v2")
    assert real.registries == dry.registries and not real.dry_run


def test_replace_refuses_to_delete_more_than_the_share_unless_forced(engine: Engine, tmp_path: Path) -> None:
    """The mistake this guards against: a partial file loaded as if it were the whole registry."""
    before = _loaded(engine, tmp_path)
    partial = dataset()
    total = len(partial["population"])
    write_csv(tmp_path / "partial", "population", partial["population"][:1])  # 1 of 5 rows

    with pytest.raises(DataLoadError) as info:
        load_directory(engine, tmp_path / "partial")
    assert (info.value.file, info.value.code) == ("population.csv", "too_many_deletions")
    assert f"将删除 {total - 1} 行" in info.value.message and "--force" in info.value.message
    assert dump(engine) == before

    # a stated share that allows it, or force, or upsert (which deletes nothing)
    upsert = load_directory(engine, tmp_path / "partial", mode="upsert")
    assert upsert.registries["population"] == RegistryLoadCounts(unchanged=1)
    assert dump(engine) == before
    allowed = load_directory(engine, tmp_path / "partial", max_delete_share=(total - 1) / total)
    assert allowed.registries["population"] == RegistryLoadCounts(deleted=total - 1, unchanged=1)
    assert len(dump(engine)["population"]) == 1


def test_upsert_adds_and_changes_by_key_and_deletes_nothing(engine: Engine, tmp_path: Path) -> None:
    _loaded(engine, tmp_path)
    rows = dataset()["population"]
    rows[0]["name"] = "张三丰"
    extra = {
        "id_number": resident_id(seq=88),
        "name": "新人",
        "gender": "女",
        "birth_date": date(1991, 1, 2),
        "status": "normal",
    }
    write_csv(tmp_path / "up", "population", [rows[0], extra])

    report = load_directory(engine, tmp_path / "up", mode="upsert")

    assert report.registries["population"] == RegistryLoadCounts(inserted=1, updated=1)
    names = {r["id_number"]: r["name"] for r in dump(engine)["population"]}
    assert len(names) == len(rows) + 1
    assert names[rows[0]["id_number"]] == "张三丰" and names[extra["id_number"]] == "新人"


def test_append_adds_rows_and_refuses_a_key_already_present(engine: Engine, tmp_path: Path) -> None:
    before = _loaded(engine, tmp_path)
    rows = dataset()["population"]
    extra = {
        "id_number": resident_id(seq=89),
        "name": "新人",
        "gender": "女",
        "birth_date": date(1991, 1, 2),
        "status": "normal",
    }
    write_csv(tmp_path / "clash", "population", [extra, rows[1]])

    with pytest.raises(DataLoadError) as info:
        load_directory(engine, tmp_path / "clash", mode="append")
    assert (info.value.file, info.value.line, info.value.code) == ("population.csv", 3, "key_exists")
    assert dump(engine) == before

    write_csv(tmp_path / "add", "population", [extra])
    report = load_directory(engine, tmp_path / "add", mode="append")
    assert report.registries["population"] == RegistryLoadCounts(inserted=1)
    assert len(dump(engine)["population"]) == len(rows) + 1


_PEAK_RSS = """
import resource, sys
from pathlib import Path
from store.db import create_engine_for, create_schema
from store.loader import load_directory
engine = create_engine_for(sys.argv[1])
create_schema(engine)
report = load_directory(engine, Path(sys.argv[2]))
assert report.registries["population"].inserted == int(sys.argv[3]), report
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_rss_mib(tmp_path: Path, rows: int) -> int:
    import subprocess
    import sys

    folder = tmp_path / f"pop{rows}"
    folder.mkdir()
    with (folder / "population.csv").open("w", encoding="utf-8") as f:
        f.write("id_number,name,gender,birth_date,status\n")
        for i in range(rows):
            born = date(1950, 1, 1) + timedelta(days=i // 1000)
            number = resident_id(born=born, seq=i % 1000)
            f.write(f"{number},居民{i},{'男女'[i % 2]},{born.isoformat()},normal\n")
    url = f"sqlite:///{tmp_path / f'pop{rows}.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, url, str(folder), str(rows)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return int(done.stdout.strip())


@pytest.mark.parametrize("backend", ["sqlite"])
def test_loading_streams_memory_does_not_grow_with_the_file(tmp_path: Path, backend: str) -> None:
    """A file ten times as long costs (almost) no more memory: rows are streamed through a staging
    table, never held all at once (the whole-file reader needed about 9 bytes per byte of CSV)."""
    small = _peak_rss_mib(tmp_path, 20_000)
    large = _peak_rss_mib(tmp_path, 200_000)  # about 13 MB of CSV
    assert large - small < 30, (small, large)


# -- registries declared beside their files -------------------------------------------------------------
EDUCATION_YAML = """\
name: education_records
title: 学历学位信息库
columns:
  id_number: {type: id_number, title: 身份证号码, personal: true}
  degree: {type: enum, title: 学历, labels: {bachelor: 本科, master: 硕士研究生}}
  graduated_on: {type: date, title: 毕业日期}
key: [id_number, graduated_on]
"""
EDUCATION_CSV = f"id_number,degree,graduated_on\n{P1},master,2026-06-30\n{P2},bachelor,2025-07-01\n"


def test_a_registry_declared_beside_its_file_is_created_and_loaded(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path / "data", "education_records.yaml", EDUCATION_YAML)
    write_raw(tmp_path / "data", "education_records.csv", EDUCATION_CSV)
    write_dataset(tmp_path / "data", {"kinship": dataset()["kinship"]})

    report = _load(engine, tmp_path / "data")

    assert list(report.registries) == ["kinship", "education_records"]  # catalogue order
    assert report.registries["education_records"] == RegistryLoadCounts(inserted=2)
    assert REGISTRIES["education_records"].title == "学历学位信息库"
    rows = SqlRegistry(engine).find("education_records", {"degree": ["master"]})
    assert [(r["id_number"], r["graduated_on"]) for r in rows] == [(P1, date(2026, 6, 30))]
    again = _load(engine, tmp_path / "data")  # idempotent: the table is there, the rows unchanged
    assert again.registries["education_records"] == RegistryLoadCounts(unchanged=2)


def test_a_dry_run_or_a_failed_load_leaves_no_table_of_a_new_registry(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path / "data", "education_records.yaml", EDUCATION_YAML)
    write_raw(tmp_path / "data", "education_records.csv", EDUCATION_CSV)
    dry = load_directory(engine, tmp_path / "data", dry_run=True)
    assert dry.registries["education_records"] == RegistryLoadCounts(inserted=2)
    assert not inspect(engine).has_table("education_records")

    write_raw(tmp_path / "data", "kinship.csv", f"parent_id_number,child_id_number\n{P1},{P1}\n{P1},{P1}\n")
    with pytest.raises(DataLoadError, match="重复"):
        _load(engine, tmp_path / "data")
    assert not inspect(engine).has_table("education_records")


def test_a_declaration_beside_the_files_is_checked(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path / "data", "education_records.yaml", EDUCATION_YAML.replace("type: date", "type: day"))
    with pytest.raises(RulesetError) as info:
        _load(engine, tmp_path / "data")
    assert info.value.source is not None and info.value.source.endswith("education_records.yaml")
    assert (info.value.line, info.value.path) == (6, "columns.graduated_on.type")
    conflicting = EDUCATION_YAML.replace("name: education_records", "name: population")
    write_raw(tmp_path / "other", "population.yaml", conflicting)
    with pytest.raises(RulesetError, match="同名的库只能有一种声明"):
        _load(engine, tmp_path / "other")


def test_an_undeclared_file_says_how_to_declare_it(engine: Engine, tmp_path: Path) -> None:
    write_raw(tmp_path / "data", "education.csv", EDUCATION_CSV)
    error = _error(engine, tmp_path / "data")
    assert (error.file, error.code) == ("education.csv", "unknown_file")
    assert "education.yaml" in error.message and "docs/architecture.md" in error.message
