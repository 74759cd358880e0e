"""Run a workload's routes interleaved, several times, and report medians and ratios to the baseline.

Shared machines are noisy: routes are measured side by side in one run (A B A B A B, not A A A B B B), and
only ratios within a run are compared. Each route returns its own timed seconds (setup excluded) and any
quality figures (accuracy) to print beside them.
"""
from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

Route = Callable[[], dict]


@dataclass
class Workload:
    name: str
    description: str
    unit: str            # what "seconds" measures, e.g. "s per 1,000-epoch run"
    baseline: str
    routes: dict[str, Route]


def run_workload(workload: Workload, repeats: int) -> dict:
    samples: dict[str, list[dict]] = {name: [] for name in workload.routes}
    for repeat in range(repeats):
        for name, route in workload.routes.items():
            result = route()
            samples[name].append(result)
            extras = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "seconds")
            print(f"  [{workload.name} {repeat + 1}/{repeats}] {name:<28} {result['seconds']:8.3f} s  {extras}",
                  flush=True)
    base = statistics.median(s["seconds"] for s in samples[workload.baseline])
    routes = {}
    for name, results in samples.items():
        median = statistics.median(r["seconds"] for r in results)
        summary = {"median_seconds": median, "seconds": [r["seconds"] for r in results],
                   "speedup_vs_baseline": base / median}
        for key in results[0]:
            if key != "seconds":
                summary[key] = statistics.median(r[key] for r in results)
        routes[name] = summary
    return {"workload": workload.name, "description": workload.description, "unit": workload.unit,
            "baseline": workload.baseline, "repeats": repeats, "routes": routes}


def print_table(report: dict) -> None:
    print(f"\n{report['workload']}: {report['description']} ({report['unit']}, median of {report['repeats']})")
    print(f"  {'route':<46} {'seconds':>9} {'x baseline':>11}  quality")
    for name, route in report["routes"].items():
        quality = ", ".join(f"{k} {v:.4f}" for k, v in route.items()
                            if k not in ("median_seconds", "seconds", "speedup_vs_baseline"))
        marker = " (baseline)" if name == report["baseline"] else ""
        print(f"  {name:<46} {route['median_seconds']:9.3f} {route['speedup_vs_baseline']:10.1f}x  "
              f"{quality}{marker}")


def write_json(reports: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"date": date.today().isoformat(), "machine": platform.processor() or platform.machine(),
               "python": platform.python_version(), "workloads": reports}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
