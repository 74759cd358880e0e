#!/usr/bin/env python
"""Measure after how many batches XLA's compile repays itself for dense networks on a CPU.

The measurement behind ``jit_compile: auto``'s rule (``dlcv.training.compiled.XLA_CPU_REPAID_AFTER``).

For the linear model and the book's MLPs, on random data of their input sizes, trains the TensorFlow
compiled route's windows with XLA and without: the first epoch (tracing and compiling included) and the
median of the next seven. XLA's compile is the first epoch's extra time less the later epochs' difference;
its saving is the later epochs' difference per batch; it repays after compile / saving batches. Prints a
Markdown table.

    python benchmarks/xla_cpu.py                      # batch 32 and 128
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 8  # the first, then the median of seven

NETWORKS = {  # name: (input shape, hidden layers, training images)
    "linear 3072-10": ((32, 32, 3), [], 3000),
    "MLP 64-64-32-10 (the quickstart's)": ((8, 8, 1), [64, 32], 1213),
    "MLP 784-256-128-10": ((28, 28, 1), [256, 128], 5000),
    "MLP 3072-1024-512-10": ((32, 32, 3), [1024, 512], 2000),
}


def auto_compiles_from(model) -> int:
    """The fewest batches of a run for which ``jit_compile: auto`` compiles ``model`` with XLA on a CPU."""
    from dlcv.training.compiled import use_xla

    low, high = 1, 10**7
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if use_xla(model, steps=middle) else (middle + 1, high)
    return low


def epoch_seconds(shape, hidden, count: int, batch_size: int, xla: bool) -> tuple[float, float, int, int]:
    """The first epoch's seconds, the later epochs' median, the batches in an epoch and the batches from
    which ``auto`` compiles this network with XLA."""
    import keras

    from dlcv.data import ImageSet
    from dlcv.models import build_model
    from dlcv.training.compiled import build_trainer
    from dlcv.training.plan import EpochPlan
    from dlcv.training.windows import Windows

    rng = np.random.default_rng(0)
    data = ImageSet(rng.integers(0, 256, (count, *shape), dtype=np.uint8), rng.integers(0, 10, count),
                    [str(c) for c in range(10)])
    keras.utils.set_random_seed(0)
    model = build_model("mlp", shape[1], shape[0], shape[2], 10, hidden=hidden, activation="relu")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    trainer = build_trainer(model, EpochPlan(data, data.subset(np.arange(300)), batch_size, seed=0),
                            Windows(jit_compile=xla, progress=False))
    seconds = []
    for epoch in range(EPOCHS):
        started = time.perf_counter()
        trainer.train_epoch(epoch)
        trainer.evaluate()
        seconds.append(time.perf_counter() - started)
    return seconds[0], statistics.median(seconds[1:]), -(-count // batch_size), auto_compiles_from(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", default="32,128", help="comma-separated")
    args = parser.parse_args()
    from dlcv.runtime import start_keras

    start_keras(quiet=True)
    print("| network | batch | compile (s) | saved per batch (ms) | repays after (batches) | `auto`: XLA from |")
    print("|---|---:|---:|---:|---:|---:|")
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        for name, (shape, hidden, count) in NETWORKS.items():
            first_xla, later_xla, steps, auto_from = epoch_seconds(shape, hidden, count, batch_size, xla=True)
            first_plain, later_plain, _, _ = epoch_seconds(shape, hidden, count, batch_size, xla=False)
            compile_s = (first_xla - later_xla) - (first_plain - later_plain)
            saved = (later_plain - later_xla) / steps
            repays = f"{compile_s / saved:,.0f}" if saved > 0 else "never"
            print(f"| {name} | {batch_size} | {compile_s:.2f} | {1000 * saved:.3f} | {repays} | {auto_from:,} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
