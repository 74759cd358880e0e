"""The benchmark workloads (../shared/BENCHMARKS.md numbering): each returns a harness.Workload."""
from __future__ import annotations

import time
from pathlib import Path

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


ANIMALS_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "animals-sample"


def w4_image_loading(folder: Path = ANIMALS_SAMPLE) -> Workload:
    """W4: decode + 32x32 resize a folder of real JPEGs; images per second, three ways."""
    import tempfile

    import cv2

    from dlcv.config import PreprocessingConfig
    from dlcv.data.folder import list_labelled_images
    from dlcv.data.loader import SimpleDatasetLoader
    from dlcv.data.store import build_store, load_store
    from dlcv.preprocessing import SimplePreprocessor

    if not folder.is_dir():
        raise SystemExit(f"W4 needs a folder of <class>/<image> JPEGs; {folder} is missing")
    paths, _, _ = list_labelled_images(folder)
    store = Path(tempfile.mkdtemp()) / "w4.h5"
    build_store(str(folder), store, PreprocessingConfig(width=32, height=32), progress=False)

    def timed(load):
        def run() -> dict:
            started = time.perf_counter()
            count = len(load())
            seconds = time.perf_counter() - started
            return {"seconds": seconds, "images_per_s": count / seconds}
        return run

    def book_loop():  # the book's SimpleDatasetLoader: one cv2.imread + resize at a time
        return np.array([cv2.resize(cv2.imread(p), (32, 32), interpolation=cv2.INTER_AREA) for p in paths])

    loader = SimpleDatasetLoader([SimplePreprocessor(32, 32)], progress=False)
    return Workload(
        name="W4", description=f"load + 32x32 preprocess {len(paths)} JPEGs from {folder.name}",
        unit=f"s per {len(paths)} images", baseline="book: sequential imread loop",
        routes={"book: sequential imread loop": timed(book_loop),
                "dlcv: SimpleDatasetLoader": timed(lambda: loader.load(paths)[0]),
                "dlcv: HDF5 store reload": timed(lambda: load_store(store).images)})


WORKLOADS = {"w3": w3_numpy_backprop, "w4": w4_image_loading}
