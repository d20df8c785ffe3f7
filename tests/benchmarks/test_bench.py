"""Smoke test of `miaopi bench --quick`: every scenario of the manifest runs and yields figures, and
zen-engine's graph decides every sample case as ours does. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "benchmarks" / "manifest.yaml").read_text(encoding="utf-8"))["scenarios"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "miaopi.cli", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_every_scenario_reports_its_figures(quick_run: tuple[Path, dict]) -> None:
    _, results = quick_run
    assert set(results["scenarios"]) == set(MANIFEST)
    assert results["meta"]["quick"] is True
    for name, spec in MANIFEST.items():
        figures = results["scenarios"][name]
        for key in spec["report"]:
            value = figures[key]
            assert value is not None, (name, key)
            if key.endswith("growth_pct"):
                assert isinstance(value, float), (name, key, value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                assert value > 0, (name, key, value)
        for key in spec.get("targets", {}):
            assert figures["targets"][key]["met"] in (True, False), (name, key)


def test_zen_decides_every_sample_case_as_ours(quick_run: tuple[Path, dict]) -> None:
    _, results = quick_run
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


def test_report_and_plots_are_written(quick_run: tuple[Path, dict]) -> None:
    out, results = quick_run
    table = (out / "results.md").read_text(encoding="utf-8")
    for name in MANIFEST:
        assert f"| {name} |" in table
    plots = results["meta"]["plots"]
    assert {"engines.png", "scaling.png", "ocr_pages.png", "soak.png"} <= set(plots)
    for plot in plots:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
