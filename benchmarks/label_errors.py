#!/usr/bin/env python
"""Planted label errors: how many does ``dlcv data issues`` find, and what does k-fold cost?

For each seed, a label table of the data set's training images with ``--flip`` of its labels changed at
random to another class (seeded) is trained as a k-fold run (``dlcv train --folds K``), then ranked by
``dlcv data issues``. Reported, pooled over the seeds with Wilson 95% intervals: the share of the flipped
images in the top N of the ranked list (N = the number flipped: recall at N), and the share of cleanlab's
whole list that was flipped (its precision); and the k-fold run's time against one ordinary run of the
same config.

    python benchmarks/label_errors.py digits                      # 1,797 digits, 8x8, the MLP
    python benchmarks/label_errors.py animals --images ../shared/datasets/animals-sample
    python benchmarks/label_errors.py animals --images ../shared/datasets/animals-sample \
        --config configs/animals_modern.yaml                      # a recipe's run instead
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlcv.evaluation import wilson_interval  # noqa: E402

CONFIGS = {  # the run each k-fold trains: the quickstart's MLP on digits, MiniVGGNet at 32x32 on Animals
    "digits": ["model.name=mlp", "epochs=30", "batch_size=32", "preprocessing.width=8", "preprocessing.height=8",
               "preprocessing.channels=1"],
    "animals": ["model.name=minivggnet", "model.params={}", "preprocessing.width=32", "preprocessing.height=32",
                "epochs=30", "batch_size=32", "optimizer.learning_rate=0.01"],
}


def write_table(data: str, images: Path | None, folder: Path, flip: float, seed: int
                ) -> tuple[Path, Path, set[str]]:
    """A label table with ``flip`` of its rows relabelled at random; the flipped rows' paths."""
    folder.mkdir(parents=True, exist_ok=True)
    if data == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        for i, image in enumerate(digits.images):
            cv2.imwrite(str(folder / f"{i:04d}.png"), (image * 15).astype(np.uint8))
        paths, labels, names = [f"{i:04d}.png" for i in range(len(digits.target))], digits.target, [str(k) for k in
                                                                                                   range(10)]
        root = folder
    else:
        names = sorted(p.name for p in images.iterdir() if p.is_dir())
        files = [(f"{name}/{f.name}", k) for k, name in enumerate(names) for f in sorted((images / name).iterdir())]
        paths, labels, root = [p for p, _ in files], np.array([k for _, k in files]), images
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(paths), size=round(flip * len(paths)), replace=False)
    given = labels.copy()
    given[flipped] = (labels[flipped] + rng.integers(1, len(names), len(flipped))) % len(names)
    table = folder / "labels.csv"
    table.write_text("path,label\n" + "".join(f"{p},{names[k]}\n" for p, k in zip(paths, given)))
    return table, root, {paths[i] for i in flipped}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=CONFIGS)
    parser.add_argument("--images", type=Path, help="animals: the class folders")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--flip", type=float, default=0.1)
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "label-errors")
    parser.add_argument("--config", type=Path, help="a recipe to train (its data set replaced by the table)")
    args = parser.parse_args()

    from dlcv import app

    found = flipped_total = listed = listed_flipped = 0
    kfold_seconds, single_seconds = [], []
    for seed in args.seeds:
        table, root, flipped = write_table(args.data, args.images, args.output / f"{args.data}-{seed}", args.flip,
                                           seed)
        common = [*([] if args.config else CONFIGS[args.data]), "dataset.name=labels", f"dataset.path={table}",
                  f"dataset.images={root}",
                  f"output_dir={args.output}", f"seed={seed}", "dataset.test_size=0.2"]
        started = time.perf_counter()
        app.train(args.config, overrides=[*common, f"name={args.data}-{seed}-cv"], folds=args.folds)
        kfold_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        app.train(args.config, overrides=[*common, f"name={args.data}-{seed}-one"])
        single_seconds.append(time.perf_counter() - started)
        issues = app.label_issues(args.output / f"{args.data}-{seed}-cv", limit=0)
        scored = {issue.path for issue in issues}
        oof = (args.output / f"{args.data}-{seed}-cv" / "oof.csv").read_text().splitlines()[1:]
        in_training = {line.split(",")[0] for line in oof}
        planted = flipped & in_training  # the test split's flips are never scored out of fold
        n = len(planted)
        top = {issue.path for issue in issues[:n]}
        found += len(top & planted)
        flipped_total += n
        listed += len(scored)
        listed_flipped += len(scored & planted)
        print(f"seed {seed}: {len(top & planted)}/{n} flipped in the top {n}; {len(scored & planted)}/{len(scored)} of "
              f"the list flipped; k-fold {kfold_seconds[-1]:.0f} s, one run {single_seconds[-1]:.0f} s")
    recall, precision = found / flipped_total, listed_flipped / max(listed, 1)
    summary = {"data": args.data, "config": str(args.config or "built-in"), "seeds": args.seeds,
               "folds": args.folds, "flip": args.flip,
               "recall_at_n": [round(recall, 3), *map(lambda v: round(v, 3), wilson_interval(found, flipped_total))],
               "precision": [round(precision, 3), *map(lambda v: round(v, 3), wilson_interval(listed_flipped, listed))],
               "kfold_seconds": round(float(np.mean(kfold_seconds)), 1),
               "one_run_seconds": round(float(np.mean(single_seconds)), 1)}
    print(json.dumps(summary))
    stem = f"{args.data}-{args.config.stem}" if args.config else args.data
    (args.output / f"{stem}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
