#!/usr/bin/env python
"""Photos of none of a run's classes: how many does its reject rule turn away, and how well does each
familiarity score tell them from the test split?

Trains ``animals_modern`` on the Animals sample and the quickstart on the digits, each with
``reject: {score: confidence}`` and ``{score: neighbours}`` (keep 0.95), then runs ``dlcv evaluate
--unknown`` against the SMILES sample's faces, the digits (for the animals) and ``dlcv data sample``'s
shapes (for the digits). Prints one JSON line per pair and a Markdown table.

    python benchmarks/unknown_photos.py --animals ../shared/datasets/animals-sample \\
        --faces ../shared/datasets/smiles-sample
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def digit_folder(folder: Path, count: int = 300) -> Path:
    from sklearn.datasets import load_digits

    folder.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:04d}.png"), (digits.images[i] * 15).astype(np.uint8))
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=Path, required=True)
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "unknown-photos")
    args = parser.parse_args()
    from dlcv import app
    from dlcv.data.sample import write_sample

    digits = digit_folder(args.output / "digit-photos")
    shapes = args.output / "shapes"
    if not shapes.exists():
        write_sample(shapes, per_class=100)
    runs = {"animals": (ROOT / "configs" / "animals_modern.yaml", [f"dataset.path={args.animals}"],
                        {"SMILES faces": args.faces, "digits": digits}),
            "digits": (None, [], {"sample shapes": shapes})}
    rows = []
    for name, (config, overrides, strangers) in runs.items():
        for score in ("confidence", "neighbours"):
            run = f"{name}-{score}"
            run_dir = args.output / run
            if not (run_dir / "results.json").is_file():
                app.train(config, overrides=[*overrides, f"output_dir={args.output}", f"name={run}",
                                             f"reject={{score: {score}, keep: 0.95}}"])
            for what, folder in strangers.items():
                app.evaluate(str(run_dir / "model.keras"), unknown=str(folder), output_format="json")
                evaluated = json.loads((run_dir / "evaluation.json").read_text())
                figures = evaluated["unknown"]
                rows.append({"run": name, "score": score, "unknown": what, **figures,
                             "test_accuracy": round(evaluated["test_accuracy"], 4),
                             "coverage": evaluated["coverage"], "selective_accuracy": evaluated["selective_accuracy"],
                             "test_ece": evaluated.get("test_ece"),
                             "test_ece_uncalibrated": evaluated.get("test_ece_uncalibrated")})
                print(json.dumps(rows[-1]), flush=True)
    print("| run (test accuracy) | score | photos of | turned away | AUROC | let in at 95% kept | test kept: "
          "coverage, accuracy |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} ({r['test_accuracy']:.3f}) | {r['score']} | {r['unknown']} ({r['images']}) | "
              f"{r['rejected']:.1%} | {r['auroc']:.3f} | {r['false_accept_at_95']:.1%} | {r['coverage']:.1%}, "
              f"{r['selective_accuracy']:.3f} |")
    (args.output / "unknown-photos.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
