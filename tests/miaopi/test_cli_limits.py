"""Hostile input through the command line, each command run as its own process and its peak memory
measured by the kernel (its maximum resident set size): a shared-data file of tens of
megabytes is streamed, a file without line breaks is refused by its line, and `miaopi decide` refuses
a case file nested 10,000 deep, one of tiny values, or one of 50 MB with exit 2 and a message in
Chinese, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from stdnum.cn import ric

from service.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "samples" / "deed-tax" / "cases" / "dt-01-only-home-small.json"


_MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""
"""Runs a command and prints its peak resident memory (KiB). The measuring process stands between
the test and the command: a process keeps the peak of the one it was forked from (the test runner,
hundreds of MiB) across exec, a child of this small one does not."""


def run_measured(*args: str) -> tuple[int, str, float]:
    """`miaopi ARGS` as a process of its own: (exit code, stderr, peak resident memory in MiB)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "miaopi.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    peak_kib = int(done.stdout.decode().split()[-1])
    return done.returncode, done.stderr.decode("utf-8", errors="replace"), peak_kib / 1024


def _population(path: Path, rows: int) -> int:
    """A population.csv of `rows` valid rows, written as it is generated; its size in bytes."""
    born = date(1950, 1, 1)
    with path.open("w", encoding="utf-8") as f:
        f.write("id_number,name,gender,birth_date,status\n")
        for i in range(rows):
            day = born + timedelta(days=i // 500)
            stem = f"510104{day:%Y%m%d}{i % 500:03d}"
            f.write(
                f"{stem}{ric.calc_check_digit(stem + '0')},居民{i},{'男女'[i % 2]},{day.isoformat()},normal\n"
            )
    return path.stat().st_size


def test_a_shared_data_file_of_tens_of_megabytes_is_streamed(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    size = _population(folder / "population.csv", 400_000)
    assert size > 20 * 10**6
    started = time.monotonic()
    code, stderr, peak = run_measured("data", "load", str(folder), "--db", f"sqlite:///{tmp_path / 'big.db'}")
    assert code == 0, stderr
    assert peak < 160, (
        f"peak {peak:.0f} MiB loading {size / 2**20:.0f} MiB in {time.monotonic() - started:.0f} s"
    )


def test_a_shared_data_file_without_line_breaks_is_refused_by_its_line(tmp_path: Path) -> None:
    """Read a line at a time, at most 1 MiB each: 30 MiB without a line break used to be held whole."""
    folder = tmp_path / "oneline"
    folder.mkdir()
    with (folder / "population.csv").open("w", encoding="utf-8") as f:
        f.write("id_number,name,gender,birth_date,status\n510104195001010002,")
        for _ in range(30):
            f.write("长" * (2**20 // 3 + 1))
    code, stderr, peak = run_measured("data", "load", str(folder), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 2, stderr
    assert "第2行" in stderr and "MiB 上限" in stderr and "Traceback" not in stderr, stderr
    assert peak < 120, f"peak {peak:.0f} MiB"


def _case_text(extra: str) -> str:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return json.dumps({**data, "form": {**data["form"], "extra": "__X__"}}, ensure_ascii=False).replace(
        '"__X__"', extra
    )


def test_decide_refuses_hostile_case_files_with_exit_2_and_bounded_memory(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(_case_text("[" * 10_000 + "1" + "]" * 10_000), encoding="utf-8")
    values = tmp_path / "values.json"  # just under the 4 MiB file limit: some 1.3 million tiny lists
    values.write_text(_case_text("[" + "[]," * (4 * 2**20 // 3 - 1000) + "0]"), encoding="utf-8")
    huge = tmp_path / "huge.json"
    with huge.open("w", encoding="utf-8") as f:
        f.write('{"item": "deed-tax", "form": {"x": "')
        for _ in range(50):
            f.write("a" * 2**20)
        f.write('"}}')
    db = f"sqlite:///{tmp_path / 'none.db'}"  # the case file is refused before any database is opened
    for path, said in ((deep, "嵌套层数超过 32 层"), (values, "JSON 值过多"), (huge, "MiB 上限")):
        code, stderr, peak = run_measured("decide", str(path), "--db", db)
        assert code == 2, (path.name, stderr)
        assert said in stderr and "Traceback" not in stderr, (path.name, stderr)
        assert peak < 150, f"{path.name}: peak {peak:.0f} MiB"
