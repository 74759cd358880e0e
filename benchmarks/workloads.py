"""The benchmark workloads (../shared/BENCHMARKS.md numbering): each returns a harness.Workload."""
from __future__ import annotations

import time

import numpy as np

from harness import Workload


def w3_numpy_backprop(epochs: int = 1000) -> Workload:
    """W3: the NumPy 64-32-16-10 network on scikit-learn digits, the book's per-sample loop vs vectorised."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from dlcv.reference import NeuralNetwork

    digits = load_digits()
    data = (digits.data - digits.data.min()) / (digits.data.max() - digits.data.min())
    train_x, test_x, train_y, test_y = train_test_split(data, digits.target, test_size=0.25, random_state=42)
    targets = np.eye(10)[train_y]

    def route(batch_size, dtype):
        def run() -> dict:
            net = NeuralNetwork([64, 32, 16, 10], alpha=0.1, seed=42, dtype=dtype)
            started = time.perf_counter()
            net.fit(train_x, targets, epochs=epochs, batch_size=batch_size, display_update=epochs)
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "accuracy": float(np.mean(net.predict(test_x).argmax(1) == test_y))}
        return run

    return Workload(
        name="W3", description=f"NumPy NeuralNetwork 64-32-16-10 on digits, {epochs} epochs",
        unit=f"s per {epochs}-epoch run", baseline="book: per-sample, float64",
        routes={"book: per-sample, float64": route(None, np.float64),
                "dlcv: batch 128, float32": route(128, np.float32),
                "dlcv: batch 128, float64": route(128, np.float64)})


WORKLOADS = {"w3": w3_numpy_backprop}
