"""`miaopi bench`: runs benchmarks/manifest.yaml (the runner lives in benchmarks/runner.py)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

ROOT = Path(__file__).resolve().parent.parent


def _runner() -> Any:
    """Imported on use: the runner brings the benchmarks' own dependencies (matplotlib, zen-engine)."""
    return importlib.import_module("benchmarks.runner")


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="every scenario for a few seconds (smoke run)")
    ] = False,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="run only this scenario (repeatable)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="results folder")] = ROOT / "benchmarks" / "results",
) -> None:
    """Benchmarks: decisions/s against zen-engine and the reference evaluator, scaling, OCR, memory.
    Writes OUT/results.json, OUT/results.md and PNG plots."""
    runner = _runner()
    try:
        results = runner.run(quick=quick, names=scenario or None, out=out)
    except KeyError as exc:
        typer.echo(f"错误: {exc.args[0]}", err=True)
        raise typer.Exit(2) from exc
    typer.echo((out / "results.md").read_text(encoding="utf-8"))
    failed = [
        name for name, figures in results["scenarios"].items() if figures.get("zen_agreement_ok") is False
    ]
    if failed:
        typer.echo(f"zen-engine disagrees with ours on: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
