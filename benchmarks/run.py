#!/usr/bin/env python
"""Benchmark command: run workloads' routes interleaved (>= 3 times each), print medians and ratios to
the baseline, and write JSON.

    python benchmarks/run.py                      # every workload, 3 repeats
    python benchmarks/run.py w3 --repeats 5 --json output/benchmarks/w3.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import print_table, run_workload, write_json  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("workloads", nargs="*", choices=[[], *WORKLOADS], default=[],
                        help=f"which to run (default: all of {', '.join(WORKLOADS)})")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per route (>= 3; M1 allows 1)")
    parser.add_argument("--m1-sizes", default="6000,24000,60000", help="M1: the folder sizes, comma-separated")
    parser.add_argument("--suite", choices=["gpu"], help="run a whole suite instead of workloads (benchmarks/suite.py)")
    parser.add_argument("--output", type=Path, default=Path("output/benchmarks/gpu"),
                        help="--suite: the folder for its JSON and Markdown table")
    parser.add_argument("--json", type=Path, default=Path("output/benchmarks/benchmarks.json"),
                        help="where to write the results")
    args = parser.parse_args()
    if args.suite == "gpu":
        from suite import gpu_suite

        result = gpu_suite(args.output, repeats=args.repeats)
        print((args.output / "gpu-suite.md").read_text())
        print(f"wrote {args.output}/gpu-suite.json and gpu-suite.md ({result['device']})")
        return 0
    names = args.workloads or list(WORKLOADS)
    if args.repeats < 3 and names != ["m1"]:
        parser.error("--repeats must be >= 3: medians of fewer runs are noise on a shared machine (M1 alone, "
                     "whose runs take minutes each, may use fewer)")
    reports = []
    for name in names:
        built = WORKLOADS[name](tuple(int(n) for n in args.m1_sizes.split(","))) if name == "m1" else WORKLOADS[name]()
        for workload in built if isinstance(built, list) else [built]:
            print(f"{workload.name}: {workload.description}", flush=True)
            reports.append(run_workload(workload, args.repeats))
    for report in reports:
        print_table(report)
    write_json(reports, args.json)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
