"""Profile of whole decisions (decide_many over the sample cases, recorded registry rows), the
workload of the engine-<item> scenarios: where the Python around durable_rules spends its time.

    .venv/bin/python benchmarks/profile_decide.py [--item deed-tax] [--rounds 40] [--top 15]

Prints the top functions by own time (cProfile); the figures under a profiler are slower than the
benchmark's and serve only to compare the parts with each other.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.decisions import decide_batch, load_workload  # noqa: E402
from engine.evaluate import DurableEvaluator  # noqa: E402


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("--item", default="deed-tax")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args(argv)
    workload = load_workload(args.item)
    durable = DurableEvaluator()
    decide_batch(workload, durable, workload.cases)  # registers the rules, warms the caches
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.rounds):
        decide_batch(workload, durable, workload.cases)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    text = f"{args.item}: {args.rounds} rounds x {workload.size} cases\n" + out.getvalue()
    print(text)
    return text


if __name__ == "__main__":
    main()
