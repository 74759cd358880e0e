#!/usr/bin/env python
"""How well does a temperature chosen on n validation images carry to images it was not chosen on?

Trains the quickstart (the MLP on the digits) and, with ``--animals``, MiniVGGNet on the Animals sample, each
with 30% of its training part for validation; pools each run's validation and test images (none trained
on), then 300 times draws n of them to fit a temperature on and scores the negative log-likelihood of the
rest against the network's own probabilities: always fitted, and fitted only where the n images hold at
least 3 mistakes (``dlcv.task.calibration.MIN_MISTAKES``; else T = 1). Prints a Markdown table.

    python benchmarks/calibration_size.py --animals ../shared/datasets/animals-sample
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DRAWS = 300
SIZES = (15, 30, 45, 100, 135)


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1))))


def held_out_probabilities(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The network's own probabilities of the run's validation and test images, and their labels."""
    from dlcv.config import load_config
    from dlcv.data.prepare import prepare_data
    from dlcv.inference import load_classifier

    splits = prepare_data(load_config(run_dir / "config.yaml"), progress=False).splits
    images = np.concatenate([splits.val.images, splits.test.images])
    labels = np.concatenate([splits.val.labels, splits.test.labels]).astype(np.int64)
    return load_classifier(run_dir / "model.keras").forward(images), labels


def nll_changes(probabilities: np.ndarray, labels: np.ndarray, size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per draw, the held-out NLL at the fitted temperature minus the network's own."""
    from dlcv.task.calibration import fit_softmax_temperature, softmax_at

    rng, changes = np.random.default_rng(seed), {"always": [], "rule": []}
    for _ in range(DRAWS):
        order = rng.permutation(len(labels))
        fit, rest = order[:size], order[size:]
        own = nll(probabilities[rest], labels[rest])
        for key, least in (("always", 0), ("rule", None)):
            options = {} if least is None else {"min_mistakes": least}
            temperature = fit_softmax_temperature(probabilities[fit], labels[fit], **options)
            changes[key].append(nll(softmax_at(probabilities[rest], temperature), labels[rest]) - own)
    return {key: np.array(values) for key, values in changes.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=Path, help="the Animals sample (else the digits alone)")
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "calibration-size")
    args = parser.parse_args()
    from dlcv import app

    runs = {"quickstart (digits)": (None, [])}
    if args.animals:
        runs["minivggnet_animals"] = (ROOT / "configs" / "minivggnet_animals.yaml",
                                      [f"dataset.path={args.animals}", "epochs=15",
                                       "model.params.batch_norm_momentum=0.85"])
    print("| run (held-out images, accuracy) | n | NLL change, always fitted (share worse) | "
          "only with 3 mistakes (share worse) |")
    print("|---|---:|---:|---:|")
    for index, (name, (config, overrides)) in enumerate(runs.items()):
        run_dir = args.output / f"run{index}"
        if not (run_dir / "results.json").is_file():
            app.train(config, overrides=[*overrides, "dataset.val_size=0.3", f"output_dir={args.output}",
                                         f"name=run{index}"])
        probabilities, labels = held_out_probabilities(run_dir)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
        for size in SIZES:
            if size > len(labels) - 20:
                continue
            changes = nll_changes(probabilities, labels, size)
            cells = [f"{d.mean():+.4f} ({np.mean(d > 0.01):.0%})" for d in changes.values()]
            print(f"| {name} ({len(labels)}, {accuracy:.3f}) | {size} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
