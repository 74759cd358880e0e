#!/usr/bin/env python
"""One M1 measurement in a process of its own (peak RSS is per process): one epoch of ShallowNet at
128x128 on a photo folder, by one route; prints a JSON line.

    python benchmarks/m1_child.py {keras,stream-cold,stream-warm,memory,step} FOLDER CACHE_DIR \
        [exact|fast] [KEY=VALUE...]
"""
from __future__ import annotations

import json
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE, BATCH = 128, 32


def rss_now() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PhasePeaks:
    """The peak RSS of each phase of a run, sampled every 20 ms by a thread: where the memory goes."""

    def __init__(self) -> None:
        self.phase, self.peaks = "runtime", {"runtime": rss_now()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def enter(self, phase: str) -> None:
        self._record()
        self.phase = phase

    def _record(self) -> None:
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss_now())

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._record()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._record()
        return self.peaks


def keras_way(folder: str) -> dict:
    """What a Keras user writes: image_dataset_from_directory (streams, decodes every epoch) + fit."""
    import keras

    from dlcv.models import build_model

    model = build_model("shallownet", SIZE, SIZE, 3, 3)
    model.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9, nesterov=True),  # dlcv's default SGD
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    baseline = rss_now()
    started = time.perf_counter()
    # The same work as dlcv's run: train on 67.5% of the images (dlcv: 75% x 90%), validate on 7.5%.
    train, val = keras.utils.image_dataset_from_directory(folder, image_size=(SIZE, SIZE), batch_size=BATCH,
                                                          seed=42, validation_split=0.325, subset="both",
                                                          verbose=False)
    images = len(train.file_paths)
    val_batches = max(1, round(0.075 * (images / 0.675) / BATCH))
    scale = lambda x, y: (x / 255.0, y)  # noqa: E731
    model.fit(train.map(scale), validation_data=val.take(val_batches).map(scale), epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epoch_seconds": seconds, "baseline_rss": baseline, "images": images}


def training_step() -> dict:
    """The working set of ShallowNet's training step alone (weights, optimizer state, activations and
    gradients of a batch, oneDNN's scratch): a few steps on a random batch, no data pipeline."""
    import keras
    import numpy as np

    from dlcv.models import build_model

    model = build_model("shallownet", SIZE, SIZE, 3, 3)
    model.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    baseline = rss_now()
    images = np.random.default_rng(0).random((BATCH, SIZE, SIZE, 3), np.float32)
    labels = np.arange(BATCH) % 3
    started = time.perf_counter()
    for _ in range(5):
        model.train_on_batch(images, labels)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epoch_seconds": seconds, "baseline_rss": baseline, "images": 5 * BATCH}


def dlcv_way(mode: str, folder: str, cache_dir: str, decode: str = "exact") -> dict:
    import keras

    from dlcv.config import load_config
    from dlcv.training.engine import train

    if mode == "stream-cold":
        shutil.rmtree(cache_dir, ignore_errors=True)
    streaming = "false" if mode == "memory" else "true"
    output = Path(cache_dir).parent / f"runs-{mode}"
    config = load_config(overrides=[
        "dataset.name=folder", f"dataset.path={folder}", f"preprocessing.width={SIZE}", f"preprocessing.height={SIZE}",
        "model.name=shallownet", "model.params={}", "epochs=1", f"batch_size={BATCH}", f"output_dir={output}",
        "name=m1", f"dataset.cache_dir={cache_dir}", f"dataset.streaming={streaming}",
        "optimizer.learning_rate=0.005", "callbacks.checkpoint=none", "callbacks.monitor=false",
        f"dataset.decode={decode}", *sys.argv[5:]])
    epoch = {}
    phases = PhasePeaks()

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, *_):
            phases.enter("model")  # the data is listed / cached / loaded, the model built: training starts

        def on_epoch_begin(self, *_):
            epoch["begin"] = time.perf_counter()
            phases.enter("epoch")

        def on_epoch_end(self, *_):
            epoch["end"] = time.perf_counter()
            phases.enter("after")

    baseline = rss_now()
    started = time.perf_counter()
    phases.enter("data")
    result = train(config, callbacks=[Timer()], verbose=0)
    peaks = phases.stop()
    shutil.rmtree(output, ignore_errors=True)
    # Up to the end of the epoch: the data (listing, cache, loading), the model, the epoch; not the test
    # scoring and the files a run writes after it, which the Keras peer does not do.
    return {"seconds": epoch["end"] - started, "epoch_seconds": epoch["end"] - epoch["begin"],
            "baseline_rss": baseline, "images": len(result.prepared.splits.train.labels), "route": result.route,
            "phase_peaks": peaks}


def main() -> None:
    mode, folder, cache_dir = sys.argv[1:4]
    decode = sys.argv[4] if len(sys.argv) > 4 else "exact"
    from dlcv.runtime import start_keras

    start_keras(quiet=True)
    if mode == "step":
        measured = training_step()
    else:
        measured = keras_way(folder) if mode == "keras" else dlcv_way(mode, folder, cache_dir, decode)
    measured["peak_rss"] = peak_rss()
    print("M1RESULT " + json.dumps(measured), flush=True)


if __name__ == "__main__":
    main()
