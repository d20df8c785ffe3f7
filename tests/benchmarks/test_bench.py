"""Smoke test of `miaopi bench --quick`: every scenario of the manifest runs and yields figures, and
zen-engine's graph decides every sample case as ours does. Timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "benchmarks" / "manifest.yaml").read_text(encoding="utf-8"))["scenarios"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, int]:
    out = tmp_path_factory.mktemp("bench")
    with subprocess.Popen(
        [sys.executable, "-m", "miaopi.cli", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            _, stderr = proc.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, stderr[-3000:]
    return out, json.loads((out / "results.json").read_text(encoding="utf-8")), proc.pid


def started_by(pid: int) -> list[int]:
    """Processes started for the benchmark run `pid` (`miaopi serve` and its engine processes carry
    MIAOPI_BENCH_PARENT in their environment)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            data = environ.read_bytes()
        except OSError:
            continue
        if f"MIAOPI_BENCH_PARENT={pid}\0".encode() in data + b"\0":
            found.append(int(environ.parent.name))
    return found


def test_every_scenario_reports_its_figures(quick_run: tuple[Path, dict, int]) -> None:
    _, results, _ = quick_run
    assert set(results["scenarios"]) == set(MANIFEST)
    assert results["meta"]["quick"] is True
    for name, spec in MANIFEST.items():
        figures = results["scenarios"][name]
        for key in spec["report"]:
            value = figures.get(key)
            if key.startswith("postgresql_") and "postgresql_skipped" in figures and not os.environ.get("CI"):
                assert value is None, (name, key)  # no PostgreSQL server here: reported, not measured
                continue
            if key == "ocr_growth_pct":
                # a quick soak reads 3 pages in one fresh worker: growth after its warm-up is not
                # measured, and the report says so instead of printing 0 %
                assert value is None, (name, key, value)
                continue
            assert value is not None, (name, key)
            if key.endswith("growth_pct"):
                assert isinstance(value, float), (name, key, value)
            elif key.endswith("_errors"):
                assert isinstance(value, int) and value >= 0, (name, key, value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                assert value > 0, (name, key, value)
        for key in spec.get("targets", {}):
            assert figures["targets"][key]["met"] is None, (name, key)  # a quick run judges nothing


def test_zen_decides_every_sample_case_as_ours(quick_run: tuple[Path, dict, int]) -> None:
    _, results, _ = quick_run
    for name in ("engine-deed-tax", "engine-safety-permit"):
        figures = results["scenarios"][name]
        agreement = figures["zen_agreement"]
        assert agreement["mismatches"] == [], (name, agreement["mismatches"][:3])
        assert agreement["agree"] == agreement["cases"] == figures["cases"] > 0
        assert figures["zen_agreement_ok"] is True
        assert figures["zen_graph_up_to_date"] is True, "regenerate: python -m benchmarks.zen_jdm --write"
        # every outcome the samples cover reaches zen, not only approvals
        assert len(agreement["outcomes"]) >= 3, agreement["outcomes"]
        ratio = figures["zen_per_s"] / figures["ours_per_s"]
        assert figures["ratio_zen_over_ours"] == pytest.approx(ratio, rel=0.01)


def test_report_and_plots_are_written(quick_run: tuple[Path, dict, int]) -> None:
    out, results, _ = quick_run
    table = (out / "results.md").read_text(encoding="utf-8")
    for name in MANIFEST:
        assert f"| {name} |" in table
    assert "Quick run" in table and "(met)" not in table and "(missed)" not in table
    assert "not judged" in table
    plots = results["meta"]["plots"]
    assert {"engines.png", "scaling.png", "soak.png", "http_decide.png"} <= set(plots)
    # one timed page makes no histogram: left out, with the reason in the report
    assert "ocr_pages.png" not in plots
    assert any("ocr_pages.png not drawn" in why for why in results["meta"]["plots_left_out"])
    assert "ocr_pages.png not drawn" in table
    for plot in plots:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_reported_figure_has_a_unit_and_a_meaning() -> None:
    for name, spec in MANIFEST.items():
        assert isinstance(spec["report"], dict), name
        for key, entry in spec["report"].items():
            unit, meaning = entry
            assert str(unit).strip() and len(str(meaning).strip()) > 10, (name, key)
        assert set(spec.get("targets", {})) <= set(spec["report"]), name  # a target is a reported figure


def test_a_full_run_judges_its_targets() -> None:
    from benchmarks.runner import check_targets

    spec = {"targets": {"speedup": {"min": 1.8}, "median_s": {"max": 0.5}}}
    judged = check_targets(spec, {"speedup": 1.9, "median_s": 0.61})
    assert (judged["speedup"]["met"], judged["median_s"]["met"]) == (True, False)
    assert check_targets(spec, {"speedup": 1.9, "median_s": 0.4}, quick=True)["speedup"]["met"] is None
    assert check_targets(spec, {"speedup": None})["speedup"]["met"] is None  # not measured


def test_the_service_scenarios_decide_and_leave_no_process_behind(quick_run: tuple[Path, dict, int]) -> None:
    _, results, pid = quick_run
    http = results["scenarios"]["http-decide"]
    assert http["sqlite_100_achieved_per_s"] > 0
    if os.environ.get("CI"):
        assert "postgresql_skipped" not in http, http["postgresql_skipped"]
    e2e = results["scenarios"]["case-end-to-end"]
    assert e2e["agrees_with_expected"] is True and e2e["repeats"] >= 1
    assert started_by(pid) == [], "a server or engine process outlived the benchmark"
