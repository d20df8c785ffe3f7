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


def check_targets(spec: dict[str, Any], figures: dict[str, Any], *, quick: bool = False) -> dict[str, Any]:
    """Each target of the manifest: the figure, the bound and whether it is met. A quick run judges
    nothing (`met` is None): its timings are too short and too noisy to say."""
    out: dict[str, Any] = {}
    for key, bound in (spec.get("targets") or {}).items():
        value = figures.get(key)
        met = None
        if not quick and isinstance(value, int | float):
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
            figures["targets"] = check_targets(spec, figures, quick=quick)
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


def report_entries(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, unit, meaning) for each figure a scenario reports, in the manifest's order."""
    return [(key, str(unit), str(meaning)) for key, (unit, meaning) in (spec.get("report") or {}).items()]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(results: dict[str, Any], manifest: dict[str, dict[str, Any]]) -> str:
    m = results["meta"]
    quick = bool(m["quick"])
    lines = [
        "# Benchmark results",
        "",
        f"{m['when']} · {m['cpus']} CPUs · load average at start {m['load_average']} · Python {m['python']}"
        f" · zen-engine {m.get('zen_engine')}",
        "",
    ]
    if quick:
        lines += [
            "**Quick run**: every scenario for a fraction of a second, on whatever else the machine is"
            " doing. The figures show that each scenario runs; they are not timings, and no target is"
            " judged. Run `miaopi bench` without `--quick` for figures to quote.",
            "",
        ]
    lines += [
        "| scenario | measure | figure | unit | meaning | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, figures in results["scenarios"].items():
        spec = manifest[name]
        targets = figures.get("targets", {})
        for i, (key, unit, meaning) in enumerate(report_entries(spec)):
            target = ""
            if key in targets:
                t = targets[key]
                bound = " ".join(f"{'≥' if k == 'min' else '≤'} {t[k]}" for k in ("min", "max") if k in t)
                verdict = {True: "met", False: "missed", None: "not judged"}[t["met"]]
                target = f"{bound} ({verdict})"
            label = name if i == 0 else ""
            lines.append(f"| {label} | {key} | {_fmt(figures.get(key))} | {unit} | {meaning} | {target} |")
    lines.append("")
    for name, figures in results["scenarios"].items():
        lines.append(f"- **{name}**: {manifest[name].get('title', '')} ({figures['seconds']} s)")
    if m.get("plots"):
        lines += ["", *[f"![{p}]({p})" for p in m["plots"]]]
    if m.get("plots_left_out"):
        lines += ["", *[f"- {p}" for p in m["plots_left_out"]]]
    return "\n".join(lines) + "\n"


MIN_HISTOGRAM_PAGES = 10
"""Fewer timed pages than this draw no histogram (a quick run times one page)."""


def write_plots(results: dict[str, Any], series: dict[str, Any], out: Path) -> list[str]:
    """The PNG plots of the run, on absolute axes with the targets drawn; names of plots not drawn, with
    the reason, go to results["meta"]["plots_left_out"]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    left_out: list[str] = []
    results["meta"]["plots_left_out"] = left_out
    sc = results["scenarios"]
    items = [n for n in sc if "zen_per_s" in sc[n]]
    if items:
        fig, ax = plt.subplots(figsize=(8, 4))
        engines = [
            ("ours_per_s", "ours (durable_rules, batched)"),
            ("ours_decide_per_s", "ours, one decide() per case"),
            ("reference_per_s", "plain-Python reference"),
            ("zen_per_s", "zen-engine (JDM, no explanations)"),
        ]
        width = 0.8 / len(engines)
        for k, (key, label) in enumerate(engines):
            xs = [i + k * width for i in range(len(items))]
            ax.bar(xs, [sc[n][key] for n in items], width, label=label)
        ax.set_xticks([i + width * (len(engines) - 1) / 2 for i in range(len(items))], items)
        ax.set_ylabel("decisions per second")
        ax.set_ylim(bottom=0)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_title("Decisions per second, same cases, one process (target: ours ≥ zen-engine)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "engines.png", dpi=100)
        plt.close(fig)
        written.append("engines.png")
    if "engine-scaling" in sc:
        s = sc["engine-scaling"]
        one = s["one_process_per_s"]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.bar(["1 process", "2 processes"], [one, s["two_processes_per_s"]])
        ax.axhline(1.8 * one, color="red", linestyle="--", label="target: 1.8 × one process")
        ax.axhline(2.0 * one, color="grey", linestyle=":", label="perfect: 2 × one process")
        ax.set_ylabel("decisions per second")
        ax.set_ylim(bottom=0, top=2.2 * one)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        ax.set_title(f"Scaling on 2 cores: {s['speedup']}×")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(out / "scaling.png", dpi=100)
        plt.close(fig)
        written.append("scaling.png")
    if series.get("ocr-page"):
        secs = series["ocr-page"]["seconds"]
        if len(secs) < MIN_HISTOGRAM_PAGES:
            left_out.append(
                f"ocr_pages.png not drawn: {len(secs)} page(s) timed, a histogram needs at least "
                f"{MIN_HISTOGRAM_PAGES}"
            )
        else:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.hist(secs, bins=min(20, len(secs)))
            ax.axvline(0.5, color="red", linestyle="--", label="target 0.5 s")
            ax.set_xlim(left=0)
            ax.set_xlabel("seconds per scanned page")
            ax.set_ylabel("pages")
            ax.set_title(f"{len(secs)} scanned pages")
            ax.legend()
            fig.tight_layout()
            fig.savefig(out / "ocr_pages.png", dpi=100)
            plt.close(fig)
            written.append("ocr_pages.png")
    if series.get("http-decide"):
        from benchmarks.service import plot_http

        written.append(plot_http(series["http-decide"], out).name)
    if series.get("soak"):
        written.append(_plot_soak(plt, series["soak"], sc["soak"], out))
    return written


def _plot_soak(plt: Any, soak: dict[str, Any], figures: dict[str, Any], out: Path) -> str:
    """RSS over the soak on absolute axes (from 0 MiB), the +5 % growth target drawn; in the OCR
    panel each worker process is its own line and its first sample (models loading, excluded from the
    growth figure) is drawn hollow, so the panel and the table measure the same thing."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    engine = soak["engine"]
    a1.plot([p[0] for p in engine], [p[1] for p in engine], marker=".")
    start = figures.get("engine_rss_start_mib")
    if start:
        a1.axhline(start * 1.05, color="red", linestyle="--", label="target: +5 % after warm-up")
        a1.set_ylim(top=max(start * 1.2, max(p[1] for p in engine) * 1.1))
        a1.legend(fontsize=8, loc="lower right")
    a1.set_xlabel("durable_rules decisions")
    a1.set_ylabel("RSS (MiB)")
    growth = figures.get("engine_growth_pct")
    a1.set_title(f"engine process: {'—' if growth is None else f'{growth:+.2f} %'} after warm-up")
    by_process: dict[Any, list[tuple[float, float]]] = {}
    for point in soak["ocr"]:
        page, rss = point[0], point[1]
        pid = point[2] if len(point) > 2 else None
        if rss is not None:
            by_process.setdefault(pid, []).append((page, rss))
    for k, points in enumerate(by_process.values()):
        colour = f"C{k % 10}"
        a2.plot([p[0] for p in points], [p[1] for p in points], color=colour, marker=".")
        a2.plot([points[0][0]], [points[0][1]], marker="o", markerfacecolor="none", color=colour)
    growth = figures.get("ocr_growth_pct")
    measured = (
        "growth not measured\n(no process sampled twice after warm-up)"
        if growth is None
        else f"{growth:+.2f} % after warm-up"
    )
    a2.set_title(f"OCR worker: {measured}", fontsize=9)
    a2.annotate(
        "hollow: a process's first sample, before its models load",
        (0.02, 0.02),
        xycoords="axes fraction",
        fontsize=7,
    )
    a2.set_xlabel("OCR pages")
    a2.set_ylabel("worker RSS (MiB)")
    for ax in (a1, a2):
        ax.set_ylim(bottom=0)  # absolute: a step of 0.01 MiB must not look like a cliff
        ax.ticklabel_format(axis="both", style="plain", useOffset=False)
    fig.tight_layout()
    fig.savefig(out / "soak.png", dpi=100)
    plt.close(fig)
    return "soak.png"
