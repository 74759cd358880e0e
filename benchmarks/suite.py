"""The GPU suite: everything we need from a GPU in one command under 10 minutes, as ratios in one run.

    python benchmarks/run.py --suite gpu --output output/benchmarks/gpu     # KERAS_BACKEND=jax on the GPU box

- W1 (CIFAR-10 MLP, batch 32) and W2 (MiniVGGNet, batch 64): the book's ``fit`` against dlcv's default
  route (and, for W1, the hand-written JAX floor), one epoch after a warm-up, interleaved, medians.
- W1 over 100 epochs *including compilation*: dlcv's route timed from a fresh model to the end of its
  100th epoch; the book's 100 epochs are its first epoch (its own compilation) plus 99 of its median epoch,
  both measured in this run.
- The windowed route (host-fed windows) against the whole-set route on W1.

Writes ``gpu-suite.json`` and ``gpu-suite.md`` (device, date, targets met or not) to the output folder.
Works with JAX and no TensorFlow installed.
"""
from __future__ import annotations

import json
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
from harness import run_workload
from workloads import (
    ANIMALS_SAMPLE,
    Workload,
    _default_trainer,
    _installed,
    _jax_floor,
    _keras_model,
    _keras_routes,
    _random_cifar,
    _timed_after_warm_up,
    host_decode_rate,
    t1_transfer_head,
)

TARGETS = {
    "W1: default x book fit": (">=", 30.0), "W1: default / JAX floor": ("<=", 1.3),
    "W2: default x book fit": (">=", 10.0), "W1 x100 incl. compilation: default / book": ("<=", 0.1),
    "W1: windowed / whole-set throughput": (">=", 0.8),
}


def _device_name() -> str:
    from dlcv.runtime import devices

    found = devices()
    return ", ".join(found) if found else f"CPU ({platform.processor() or platform.machine()})"


def _hundred_epochs(images, labels, batch_size: int, epochs: int) -> dict:
    """dlcv's default route from a fresh model through ``epochs`` epochs, compilation included."""
    started = time.perf_counter()
    trainer = _default_trainer("mlp", images, labels, batch_size)
    for epoch in range(epochs):
        trainer.train_epoch(epoch)
    trainer.evaluate()  # the last epoch's work is done (JAX dispatches asynchronously) once this returns
    return {"seconds": time.perf_counter() - started}


def _book_first_epoch(images, labels, batch_size: int) -> float:
    model = _keras_model("mlp", batch_size, 0, images.shape[1:], 10)
    x = images.astype(np.float32) / 255.0
    started = time.perf_counter()
    model.fit(x, labels, batch_size=batch_size, epochs=1, verbose=0)
    return time.perf_counter() - started


def _windowed_routes(images, labels, batch_size: int) -> dict:
    def route(resident: bool):
        options = {"resident": resident} if resident else {"resident": False, "window": 64}
        trainer = _default_trainer("mlp", images, labels, batch_size, **options)
        epoch = iter(range(10**6))
        return _timed_after_warm_up(lambda: trainer.train_epoch(next(epoch)))
    return {"dlcv: whole set on the device": route(True), "dlcv: host-fed windows of 64 batches": route(False)}


def gpu_suite(output: str | Path, w1_samples: int | None = None, w2_samples: int | None = None,
              long_epochs: int = 100, repeats: int = 3, transfer_folder: Path | None = ANIMALS_SAMPLE,
              transfer_size: int = 224, transfer_epochs: int = 10, transfer_backbone: str = "mobilenet_v2") -> dict:
    from dlcv.runtime import devices, start_keras

    keras = start_keras(quiet=True)
    on_gpu = bool(devices())
    w1_samples = w1_samples or (50_000 if on_gpu else 2_000)
    w2_samples = w2_samples or (50_000 if on_gpu else 500)
    images, labels = _random_cifar(w1_samples)
    w1_routes = _keras_routes("mlp", images, labels, 32)
    w1_routes.pop("dlcv: route fit (Keras fit on dlcv's pipeline)")
    if _installed("jax"):
        w1_routes["floor: hand-written JAX scan"] = _jax_floor([3072, 1024, 512, 10], images, labels, 32)
    w2_images, w2_labels = _random_cifar(w2_samples)
    w2_routes = _keras_routes("minivggnet", w2_images, w2_labels, 64)
    w2_routes.pop("dlcv: route fit (Keras fit on dlcv's pipeline)")
    backend = keras.backend.backend()
    reports = [run_workload(Workload("W1", f"CIFAR-10 MLP, batch 32, {w1_samples:,} samples, {backend}",
                                     "s per epoch", "book: fit on NumPy", w1_routes), repeats),
               run_workload(Workload("W2", f"MiniVGGNet, batch 64, {w2_samples:,} samples, {backend}",
                                     "s per epoch", "book: fit on NumPy", w2_routes), repeats),
               run_workload(Workload("W1-windows", f"W1 in host-fed windows vs the whole set on the device, {backend}",
                                     "s per epoch", "dlcv: whole set on the device",
                                     _windowed_routes(images, labels, 32)), repeats)]
    if transfer_folder is not None and Path(transfer_folder).is_dir():  # a transfer run's two phases (T1)
        reports.append(run_workload(t1_transfer_head(Path(transfer_folder), transfer_size, transfer_epochs,
                                                     transfer_backbone, with_fine_tune=True), repeats))
    book_first = _book_first_epoch(images, labels, 32)
    book_epoch = reports[0]["routes"]["book: fit on NumPy"]["median_seconds"]
    ours_long = statistics.median(_hundred_epochs(images, labels, 32, long_epochs)["seconds"] for _ in range(1))
    book_long = book_first + (long_epochs - 1) * book_epoch
    w1, w2, windows = (report["routes"] for report in reports[:3])
    ratios = {
        "W1: default x book fit": w1["dlcv: default route"]["speedup_vs_baseline"],
        "W2: default x book fit": w2["dlcv: default route"]["speedup_vs_baseline"],
        f"W1 x{long_epochs} incl. compilation: default / book": ours_long / book_long,
        "W1: windowed / whole-set throughput": windows["dlcv: whole set on the device"]["median_seconds"]
        / windows["dlcv: host-fed windows of 64 batches"]["median_seconds"],
    }
    if len(reports) > 3:
        t1 = reports[3]["routes"]
        ratios["T1: feature cache x backbone every epoch"] = t1["feature cache"]["speedup_vs_baseline"]
        fine_tune_rate = t1["fine-tune phase (whole backbone trains)"]["train_images_per_s"]
        # above 1: the host decodes JPEGs faster than the device trains on them (the input is no bottleneck)
        decoded = host_decode_rate(Path(transfer_folder), transfer_size)
        ratios[f"T1: host decode {transfer_size}² JPEG/s / fine-tune images/s"] = decoded / fine_tune_rate
    if "floor: hand-written JAX scan" in w1:
        ratios["W1: default / JAX floor"] = (w1["dlcv: default route"]["median_seconds"]
                                             / w1["floor: hand-written JAX scan"]["median_seconds"])
    serving = []
    if transfer_folder is not None and Path(transfer_folder).is_dir():  # dlcv serve under load (S1)
        from serve_load import serving_rows

        serving = serving_rows(Path(transfer_folder), Path(output) / "serve-load")
    result = {"device": _device_name(), "date": date.today().isoformat(), "backend": backend, "serving": serving,
              "keras": keras.__version__, "repeats": repeats, "workloads": reports,
              "long_run": {"epochs": long_epochs, "dlcv_seconds": ours_long, "book_seconds": book_long,
                           "book_first_epoch": book_first, "book_median_epoch": book_epoch},
              "ratios": ratios}
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / "gpu-suite.json", json.dumps(result, indent=2) + "\n")
    _write_atomically(folder / "gpu-suite.md", markdown(result))
    return result


def markdown(result: dict) -> str:
    lines = [f"GPU suite — {result['device']}, {result['date']}, Keras {result['keras']} on {result['backend']}, "
             f"median of {result['repeats']}", "", "| workload | route | s per epoch | × baseline |",
             "|---|---|---:|---:|"]
    for report in result["workloads"]:
        for name, route in report["routes"].items():
            lines.append(f"| {report['workload']} | {name} | {route['median_seconds']:.3f} | "
                         f"{route['speedup_vs_baseline']:.1f}× |")
    long = result["long_run"]
    lines += ["", f"W1, {long['epochs']} epochs including compilation: dlcv {long['dlcv_seconds']:.1f} s; the book's "
              f"fit {long['book_seconds']:.1f} s (first epoch {long['book_first_epoch']:.2f} s + "
              f"{long['epochs'] - 1} × {long['book_median_epoch']:.3f} s).", "",
              "| ratio | measured | target | met |", "|---|---:|---|---|"]
    for name, value in result["ratios"].items():
        key = name if name in TARGETS else next((k for k in TARGETS if k.split(" incl")[0] in name), name)
        sense, bound = TARGETS.get(key, ("", None))
        met = "—" if bound is None else ("yes" if (value >= bound if sense == ">=" else value <= bound) else "no")
        lines.append(f"| {name} | {value:.3f} | {sense} {bound if bound is not None else ''} | {met} |")
    if result.get("serving"):  # S1: dlcv serve under load (benchmarks/serve_load.py)
        lines += ["", "S1, dlcv serve (ShallowNet on the Animals sample's JPEGs):", "",
                  "| format | batching | clients | requests/s | p50 ms | p99 ms | statuses |",
                  "|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {r['format']} | {r['batching']} | {r['clients']} | {r['per_second']} | {r['p50_ms']} | "
                  f"{r['p99_ms']} | {r['statuses']} |" for r in result["serving"]]
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
