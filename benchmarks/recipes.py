#!/usr/bin/env python
"""Recipes as measured properties: accuracy over seeds, and what each part of a recipe is worth.

    python benchmarks/recipes.py spread configs/animals_modern.yaml configs/minivggnet_animals.yaml \\
        --data ../shared/datasets/animals-sample --seeds 1 2 42
    python benchmarks/recipes.py ablation configs/animals_modern.yaml --data ../shared/datasets/animals-sample \\
        --seeds 1 2 3 4 5
    python benchmarks/recipes.py compare configs/smiles_modern.yaml --data ../shared/datasets/smiles-sample \\
        --seeds 1 2 3 4 5 --variant lr0.05 optimizer.learning_rate=0.05 --variant longer epochs=30

``spread``: each config trained once per seed (each seed also draws its own train/val/test split), its
test accuracy (plain and with flip TTA) and time per run: mean, min-max, and the 95% Wilson interval of
the pooled test predictions. ``ablation``: the config, then one run set per part removed (the rows of
:data:`ABLATIONS` that the config uses), judged on the *validation* images only, pooled over the seeds
(repeated random splits of the data); test images choose nothing. ``compare``: the config beside named
variants of it (``--variant NAME KEY=VALUE ...``), judged as ``ablation`` is: a hand search. All write
Markdown and JSON under ``--output``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ABLATIONS: dict[str, list[str]] = {
    "label smoothing": ["label_smoothing=0"],
    "weight averaging (ema)": ["optimizer.ema=0"],
    "mixup": ["augmentation.mixup=0"],
    "cutmix": ["augmentation.cutmix=0"],
    "random crop": ["augmentation.random_crop=0"],
    "horizontal flip": ["augmentation.horizontal_flip=false"],
    "weight decay": ["optimizer.weight_decay=0"],
    "warm-up + cosine (constant rate)": ["schedule={name: constant}"],
}
"""Each part of a recipe, and the overrides that remove it."""


@dataclass
class Run:
    config: str
    seed: int
    seconds: float
    val_correct: int
    val_correct_tta: int
    val_images: int
    test_correct: int
    test_correct_tta: int
    test_images: int


def train_once(config_path: str, seed: int, data: str | None, overrides: list[str], output: Path, tag: str) -> Run:
    """Train the config with this seed (and data folder) and score the final model on val and test, plain
    and with flip TTA."""
    from dlcv.app import load_checked_config
    from dlcv.pipeline import predict_dataset
    from dlcv.runtime import start_keras

    name = f"{Path(config_path).stem}-{tag}-seed{seed}"
    extra = [f"seed={seed}", f"name={name}", f"output_dir={output / 'runs'}", "callbacks.checkpoint=none"]
    if data:
        extra.append(f"dataset.path={data}")
    config, backend = load_checked_config(config_path, overrides=[*extra, *overrides])
    start_keras(backend, False)
    from dlcv.training.engine import train

    started = time.perf_counter()
    result = train(config, verbose=0)
    seconds = time.perf_counter() - started
    counts = {}
    for part in ("val", "test"):
        data_set = getattr(result.prepared.splits, part)
        for tta in ("none", "flip"):
            probabilities, labels = predict_dataset(result.model, data_set, tta=tta)
            counts[part, tta] = (int(np.sum(probabilities.argmax(axis=1) == labels)), len(labels))
    return Run(config_path, seed, round(seconds, 1), counts["val", "none"][0], counts["val", "flip"][0],
               counts["val", "none"][1], counts["test", "none"][0], counts["test", "flip"][0],
               counts["test", "none"][1])


def interval(correct: int, total: int) -> str:
    from dlcv.evaluation import wilson_interval

    low, high = wilson_interval(correct, total)
    return f"{correct / total:.3f} ({low:.3f}-{high:.3f})"


def spread_rows(runs: list[Run]) -> list[str]:
    rows = ["| recipe | seeds | test accuracy: mean (min-max) | pooled, 95% interval | with flip TTA | "
            "time per run |", "|---|---|---|---|---|---|"]
    for config in dict.fromkeys(r.config for r in runs):
        mine = [r for r in runs if r.config == config]
        accuracies = [r.test_correct / r.test_images for r in mine]
        total = sum(r.test_images for r in mine)
        rows.append(
            f"| `{Path(config).stem}` | {', '.join(str(r.seed) for r in mine)} | {statistics.mean(accuracies):.3f} "
            f"({min(accuracies):.3f}-{max(accuracies):.3f}) | {interval(sum(r.test_correct for r in mine), total)} "
            f"| {interval(sum(r.test_correct_tta for r in mine), total)} "
            f"| {statistics.mean(r.seconds for r in mine):.0f} s |")
    return rows


def ablation_rows(results: dict[str, list[Run]], first_column: str = "removed") -> list[str]:
    rows = [f"| {first_column} | validation accuracy, pooled over seeds (95% interval) | with flip TTA "
            "| time per run |", "|---|---|---|---|"]
    for label, mine in results.items():
        total = sum(r.val_images for r in mine)
        rows.append(f"| {label} | {interval(sum(r.val_correct for r in mine), total)} | "
                    f"{interval(sum(r.val_correct_tta for r in mine), total)} | "
                    f"{statistics.mean(r.seconds for r in mine):.0f} s |")
    return rows


def parts_in(config_path: str) -> dict[str, list[str]]:
    """The ablation rows that remove something the config has."""
    from dlcv.config import load_config

    config, removable = load_config(config_path), {}
    for label, overrides in ABLATIONS.items():
        if load_config(config_path, overrides) != config:
            removable[label] = overrides
    return removable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("mode", choices=["spread", "ablation", "compare"])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--data", help="dataset.path for every config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 42])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--variant", dest="variants", action="append", nargs="+", default=[],
                        metavar=("NAME", "KEY=VALUE"), help="compare: a named variant of the config")
    parser.add_argument("--output", type=Path, default=Path("output/benchmarks/recipes"))
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    if args.mode == "spread":
        runs = []
        for seed in args.seeds:  # seeds outermost: a slow stretch of the machine hits every recipe alike
            for config in args.configs:
                runs.append(train_once(config, seed, args.data, args.overrides, args.output, "spread"))
                print(json.dumps(asdict(runs[-1])), flush=True)
        rows = spread_rows(runs)
        record = [asdict(r) for r in runs]
    else:
        config = args.configs[0]
        if args.mode == "ablation":
            variants = {"(nothing: the recipe)": []} | parts_in(config)
        else:
            variants = {"(the config)": []} | {name: overrides for name, *overrides in args.variants}
        results: dict[str, list[Run]] = {label: [] for label in variants}
        for seed in args.seeds:
            for i, (label, overrides) in enumerate(variants.items()):
                results[label].append(train_once(config, seed, args.data, [*args.overrides, *overrides],
                                                 args.output, f"{args.mode}{i}"))
                print(label, json.dumps(asdict(results[label][-1])), flush=True)
        rows = ablation_rows(results, "removed" if args.mode == "ablation" else "variant")
        record = {label: [asdict(r) for r in runs] for label, runs in results.items()}
    command = "python benchmarks/recipes.py " + " ".join(sys.argv[1:])
    text = "\n".join([f"{stamp}, `{command}`", "", *rows, ""])
    (args.output / f"{args.mode}.md").write_text(text)
    (args.output / f"{args.mode}.json").write_text(json.dumps(record, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
