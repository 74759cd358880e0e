#!/usr/bin/env python
"""The README's imbalanced-classes figures: what class_weight: balanced, sampling: balanced and loss: focal
do to a rare class's recall and to macro F1, judged on validation.

The data is `dlcv data sample`'s (circles, squares, triangles), split 60/20/20 per class by a label table's
split column, with the training part of one class cut to a tenth; validation and test stay balanced. Each
variant trains ShallowNet at 32x32 with every seed; its validation predictions are pooled over the seeds:
the rare class's recall with a Wilson interval, macro F1 with a bootstrap interval (SciPy, resampling the
validation images).

    python benchmarks/imbalance.py            # output/benchmarks/imbalance/imbalance.md and .json
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {"as written": [], "class_weight: balanced": ["class_weight=balanced"],
            "sampling: balanced": ["sampling=balanced"], "loss: focal": ["loss=focal"]}
RARE = "triangles"
BASE = ["name=imbalance", "dataset.name=labels", "dataset.cache=none", "preprocessing.width=32",
        "preprocessing.height=32", "model.name=shallownet", "model.params={}", "optimizer.learning_rate=0.01",
        "batch_size=32", "callbacks.monitor=false", "callbacks.checkpoint=none"]


def write_table(root: Path, per_class: int, cut: int, seed: int = 0) -> Path:
    """The sample's photos and labels.csv: each class split 60/20/20, the rare class's training rows cut to
    one in ``cut``."""
    from dlcv.data.sample import CLASSES, write_sample

    if not (root / "labels.csv").is_file():
        write_sample(root, per_class, seed)
        rng = np.random.default_rng(seed)
        rows = []
        for name in CLASSES:
            files = rng.permutation(sorted(p.name for p in (root / name).iterdir()))
            train, val = int(0.6 * len(files)), int(0.8 * len(files))
            kept = train // cut if name == RARE else train
            rows += [[f"{name}/{f}", name, "train"] for f in files[:kept]]
            rows += [[f"{name}/{f}", name, "val"] for f in files[train:val]]
            rows += [[f"{name}/{f}", name, "test"] for f in files[val:]]
        with open(root / "labels.csv", "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["path", "label", "split"])
            writer.writerows(rows)
    return root / "labels.csv"


def validation_predictions(table: Path, overrides: list[str], seed: int, epochs: int, output: Path):
    """One run's validation labels and predicted classes."""
    from dlcv.config import load_config
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    config = load_config(overrides=[*BASE, f"dataset.path={table}", f"output_dir={output}", f"seed={seed}",
                                    f"epochs={epochs}", *overrides])
    result = train(config, verbose=0)
    val = result.prepared.splits.val
    probabilities = np.asarray(result.model.predict(model_input(val.images), verbose=0))
    return np.asarray(val.labels), probabilities.argmax(axis=1), result.prepared.class_names


def scores(labels: np.ndarray, predicted: np.ndarray, rare: int) -> dict:
    from scipy.stats import bootstrap
    from sklearn.metrics import f1_score

    from dlcv.evaluation import wilson_interval

    positives = labels == rare
    hits = int(np.sum(predicted[positives] == rare))

    def macro_f1(rows):
        return f1_score(labels[rows], predicted[rows], average="macro", zero_division=0)

    rows = np.arange(len(labels))
    interval = bootstrap((rows,), macro_f1, n_resamples=2000, vectorized=False, random_state=0,
                         method="percentile").confidence_interval
    count = int(positives.sum())
    return {"rare_recall": hits / count, "rare_recall_interval": list(wilson_interval(hits, count)),
            "rare_images": count, "macro_f1": float(macro_f1(rows)),
            "macro_f1_interval": [float(interval.low), float(interval.high)], "images": len(labels)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200, help="sample images per class")
    parser.add_argument("--cut", type=int, default=10, help="the rare class keeps one training image in CUT")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--output", type=Path, default=Path("output/benchmarks/imbalance"))
    args = parser.parse_args()
    from dlcv.runtime import start_keras

    start_keras("tensorflow", quiet=True)
    table = write_table(args.output / "data", args.per_class, args.cut)
    results = {}
    for variant, overrides in VARIANTS.items():
        started, pooled_labels, pooled_predicted = time.perf_counter(), [], []
        for seed in range(1, args.seeds + 1):
            labels, predicted, classes = validation_predictions(table, overrides, seed, args.epochs,
                                                                args.output / "runs")
            pooled_labels.append(labels)
            pooled_predicted.append(predicted)
        results[variant] = {**scores(np.concatenate(pooled_labels), np.concatenate(pooled_predicted),
                                     classes.index(RARE)), "seconds": round(time.perf_counter() - started, 1)}
        print(variant, results[variant], flush=True)
    lines = [f"| variant | {RARE} recall (val, {args.seeds} seeds pooled) | macro F1 (val) |", "|---|---|---|"]
    for variant, r in results.items():
        low, high = r["rare_recall_interval"]
        f1_low, f1_high = r["macro_f1_interval"]
        lines.append(f"| {variant} | {r['rare_recall']:.3f} ({low:.3f}-{high:.3f}, {r['rare_images']} images) | "
                     f"{r['macro_f1']:.3f} ({f1_low:.3f}-{f1_high:.3f}) |")
    (args.output / "imbalance.md").write_text("\n".join(lines) + "\n")
    (args.output / "imbalance.json").write_text(json.dumps({"arguments": {k: str(v) for k, v in vars(args).items()},
                                                            "results": results}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
