"""Runs the scenarios of benchmarks/manifest.yaml and writes DIR/results.json, DIR/results.md and
PNG plots (`miaopi bench [--quick] [--scenario NAME]... [--out DIR]`).

A scenario is a function `(options, ctx) -> dict of figures`, registered by name with @scenario;
the manifest says which function runs each scenario and with what options.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

MANIFEST = ROOT / "benchmarks" / "manifest.yaml"
DEFAULT_OUT = ROOT / "benchmarks" / "results"


@dataclass
class Context:
    """What a scenario gets besides its options: where to write, and a progress bar to move."""

    out: Path
    quick: bool
    advance: Callable[[float], None] = lambda _n: None
    set_total: Callable[[float], None] = lambda _n: None
    plots: list[str] = field(default_factory=list)


Scenario = Callable[[dict[str, Any], Context], dict[str, Any]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Register a scenario runner under the name the manifest's `runner` refers to."""

    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


# --------------------------------------------------------------------------- scenarios


@scenario("engine-item")
def run_engine_item(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import decisions

    ctx.set_total(options["repeats"] * 4)
    return decisions.run_item(
        options["item"],
        seconds=float(options["seconds"]),
        repeats=int(options["repeats"]),
        advance=ctx.advance,
    )


@scenario("engine-scaling")
def run_engine_scaling(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import decisions

    ctx.set_total(options["repeats"] * 2)
    return decisions.run_scaling(
        item=options["item"],
        seconds=float(options["seconds"]),
        repeats=int(options["repeats"]),
        advance=ctx.advance,
    )


@scenario("ocr-page")
def run_ocr_page(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import memory

    index = json.loads((ROOT / "samples" / "documents" / "index.json").read_text(encoding="utf-8"))
    scans = [d for d in index["documents"] if d.get("dpi") and d.get("readable", True)]
    ctx.set_total(min(len(scans), options["limit"] or len(scans)))
    return memory.run_ocr_pages(
        limit=int(options["limit"]), threads=int(options["threads"]), advance=ctx.advance
    )


@scenario("soak")
def run_soak(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import memory

    ctx.set_total(2)
    engine = memory.run_engine_soak(
        item=options["item"],
        decisions_total=int(options["decisions"]),
        warmup=int(options["warmup"]),
        samples=int(options["samples"]),
        advance=ctx.advance,
    )
    ocr = memory.run_ocr_soak(
        pages=int(options["ocr_pages"]),
        recycle_after=int(options["recycle_after"]),
        threads=int(options["threads"]),
    )
    ctx.advance(1)
    out: dict[str, Any] = {f"engine_{k}": v for k, v in engine.items() if k not in ("decisions", "series")}
    out["engine_decisions"] = engine["decisions"]
    out.update({f"ocr_{k}": v for k, v in ocr.items() if k != "series"})
    out["_series"] = {"engine": engine["series"], "ocr": ocr["series"]}
    return out


@scenario("http-decide")
def run_http_decide(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import service

    loads = [float(x) for x in options["loads"]]
    ctx.set_total(len(loads) * len(options["backends"]))
    return service.run_http_decide(
        loads=loads,
        seconds=float(options["seconds"]),
        backends=list(options["backends"]),
        warmup=int(options["warmup"]),
        engine_processes=int(options["engine_processes"]),
        timeout=float(options["timeout"]),
        advance=ctx.advance,
    )


@scenario("case-end-to-end")
def run_case_end_to_end(options: dict[str, Any], ctx: Context) -> dict[str, Any]:
    from benchmarks import service

    ctx.set_total(int(options["repeats"]))
    return service.run_case_end_to_end(repeats=int(options["repeats"]), advance=ctx.advance)


# --------------------------------------------------------------------------- manifest and run


def load_manifest(path: Path = MANIFEST) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    scenarios: dict[str, dict[str, Any]] = data["scenarios"]
    for name, spec in scenarios.items():
        if spec["runner"] not in SCENARIOS:
            raise ValueError(f"{path.name}: scenario {name} names unknown runner {spec['runner']!r}")
    return scenarios


def options_for(spec: dict[str, Any], *, quick: bool) -> dict[str, Any]:
    options = dict(spec.get("options") or {})
    if quick:
        options.update(spec.get("quick") or {})
    return options


def check_targets(spec: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """Each target of the manifest: the figure, the bound and whether it is met."""
    out: dict[str, Any] = {}
    for key, bound in (spec.get("targets") or {}).items():
        value = figures.get(key)
        met = None
        if isinstance(value, int | float):
            met = ("min" not in bound or value >= bound["min"]) and (
                "max" not in bound or value <= bound["max"]
            )
        out[key] = {"value": value, **bound, "met": met}
    return out


def run(
    *, quick: bool = False, names: list[str] | None = None, out: Path = DEFAULT_OUT, console: Any = None
) -> dict[str, Any]:
    """Run the chosen scenarios (all by default), write the results and return them."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console(stderr=True)
    manifest = load_manifest()
    chosen = names or list(manifest)
    unknown = [n for n in chosen if n not in manifest]
    if unknown:
        raise KeyError(f"unknown scenario(s) {', '.join(unknown)} (manifest: {', '.join(manifest)})")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"scenarios": {}, "meta": meta(quick=quick)}
    series: dict[str, Any] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {name: progress.add_task(name, total=1, start=False) for name in chosen}
        for name in chosen:
            spec = manifest[name]
            task = tasks[name]
            progress.start_task(task)
            ctx = Context(
                out=out,
                quick=quick,
                advance=lambda n, t=task: progress.advance(t, n),
                set_total=lambda n, t=task: progress.update(t, total=n),
            )
            options = options_for(spec, quick=quick)
            t0 = time.perf_counter()
            figures = SCENARIOS[spec["runner"]](options, ctx)
            elapsed = time.perf_counter() - t0
            total = progress.tasks[task].total or 1
            progress.update(task, completed=total)
            series[name] = figures.pop("_series", None)
            figures["seconds"] = round(elapsed, 1)
            figures["targets"] = check_targets(spec, figures)
            figures["options"] = options
            results["scenarios"][name] = figures
            (out / "results.json").write_text(
                json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
    results["meta"]["plots"] = write_plots(results, series, out)
    (out / "results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    (out / "results.md").write_text(markdown(results, manifest), encoding="utf-8")
    return results


def meta(*, quick: bool) -> dict[str, Any]:
    import durable

    info: dict[str, Any] = {
        "quick": quick,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "durable_rules": getattr(durable, "__version__", "2.0.28"),
    }
    try:
        from importlib.metadata import version

        info["zen_engine"] = version("zen-engine")
    except Exception:  # pragma: no cover - metadata missing
        info["zen_engine"] = None
    return info


# --------------------------------------------------------------------------- report


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(results: dict[str, Any], manifest: dict[str, dict[str, Any]]) -> str:
    m = results["meta"]
    lines = [
        "# Benchmark results",
        "",
        f"{m['when']} · {m['cpus']} CPUs · load average at start {m['load_average']} · Python {m['python']}"
        f" · zen-engine {m.get('zen_engine')}{' · **quick run**' if m['quick'] else ''}",
        "",
        "| scenario | measure | figure | target |",
        "| --- | --- | --- | --- |",
    ]
    for name, figures in results["scenarios"].items():
        spec = manifest[name]
        targets = figures.get("targets", {})
        for i, key in enumerate(spec.get("report") or []):
            target = ""
            if key in targets:
                t = targets[key]
                bound = " ".join(f"{'≥' if k == 'min' else '≤'} {t[k]}" for k in ("min", "max") if k in t)
                target = f"{bound} ({'met' if t['met'] else 'missed'})"
            label = name if i == 0 else ""
            lines.append(f"| {label} | {key} | {_fmt(figures.get(key))} | {target} |")
    lines.append("")
    for name, figures in results["scenarios"].items():
        lines.append(f"- **{name}**: {manifest[name].get('title', '')} ({figures['seconds']} s)")
    if m.get("plots"):
        lines += ["", *[f"![{p}]({p})" for p in m["plots"]]]
    return "\n".join(lines) + "\n"


def write_plots(results: dict[str, Any], series: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    sc = results["scenarios"]
    items = [n for n in sc if "zen_per_s" in sc[n]]
    if items:
        fig, ax = plt.subplots(figsize=(8, 4))
        engines = [
            ("ours_per_s", "ours (durable_rules)"),
            ("ours_decide_per_s", "ours, per-case decide"),
            ("reference_per_s", "plain-Python reference"),
            ("zen_per_s", "zen-engine (JDM)"),
        ]
        width = 0.8 / len(engines)
        for k, (key, label) in enumerate(engines):
            xs = [i + k * width for i in range(len(items))]
            ax.bar(xs, [sc[n][key] for n in items], width, label=label)
        ax.set_xticks([i + width * (len(engines) - 1) / 2 for i in range(len(items))], items)
        ax.set_ylabel("decisions per second")
        ax.set_title("Decisions per second, same cases, one process")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "engines.png", dpi=100)
        plt.close(fig)
        written.append("engines.png")
    if "engine-scaling" in sc:
        s = sc["engine-scaling"]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.bar(["1 process", "2 processes"], [s["one_process_per_s"], s["two_processes_per_s"]])
        ax.set_ylabel("decisions per second")
        ax.set_title(f"Scaling: {s['speedup']}x")
        fig.tight_layout()
        fig.savefig(out / "scaling.png", dpi=100)
        plt.close(fig)
        written.append("scaling.png")
    if series.get("ocr-page"):
        secs = series["ocr-page"]["seconds"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(secs, bins=min(20, max(len(secs), 1)))
        ax.axvline(0.5, color="red", linestyle="--", label="target 0.5 s")
        ax.set_xlabel("seconds per scanned page")
        ax.set_ylabel("pages")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "ocr_pages.png", dpi=100)
        plt.close(fig)
        written.append("ocr_pages.png")
    if series.get("http-decide"):
        from benchmarks.service import plot_http

        written.append(plot_http(series["http-decide"], out).name)
    if series.get("soak"):
        soak = series["soak"]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        a1.plot([p[0] for p in soak["engine"]], [p[1] for p in soak["engine"]], marker=".")
        a1.set_xlabel("durable_rules decisions")
        a1.set_ylabel("RSS (MiB)")
        a1.set_title("engine process")
        ocr = [p for p in soak["ocr"] if p[1] is not None]
        a2.plot([p[0] for p in ocr], [p[1] for p in ocr], marker=".")
        a2.set_xlabel("OCR pages")
        a2.set_ylabel("worker RSS (MiB)")
        a2.set_title("OCR worker (recycled)")
        fig.tight_layout()
        fig.savefig(out / "soak.png", dpi=100)
        plt.close(fig)
        written.append("soak.png")
    return written
