"""Where the model looks, measured: on the patch task (dlcv.data.toy.patch_task: grey clutter, one coloured
square that alone decides the class), the share of held-out images whose heatmap peak falls on the square, per
network and method, and what the heatmaps add to a report of 40 mistakes.

    python benchmarks/heatmaps.py                 # MiniVGGNet and ShallowNet at 32 px, MobileNetV2 at 128 px
    python benchmarks/heatmaps.py --quick         # fewer images and epochs (a smoke run)
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

BATCH_NORM_MOMENTUM = 0.8
"""A few hundred steps: BatchNormalization statistics that follow them."""
NETWORKS = (  # (model, size, builder params, epochs, learning rate)
    ("minivggnet", 32, {"batch_norm_momentum": BATCH_NORM_MOMENTUM}, 8, 0.05),
    ("shallownet", 32, {}, 10, 0.01),
    ("mobilenet_v2", 128, {"weights": "none", "trainable": True, "dropout": 0.0}, 8, 0.01),
)


def measure(name: str, size: int, params: dict, epochs: int, rate: float, count: int) -> dict:
    import keras

    from dlcv.data.toy import patch_task
    from dlcv.heatmaps import METHODS, Explainer, peak
    from dlcv.inputs import model_input
    from dlcv.models import build_model
    from dlcv.models.backbones import BACKBONES
    from dlcv.models.layout import leaf_layers

    images, labels, _ = patch_task(count, size, seed=0)
    held, held_labels, boxes = patch_task(200, size, seed=1)
    keras.utils.set_random_seed(0)
    model = build_model(name, size, size, 3, 3, **params)
    if name in BACKBONES:  # keras.applications take no momentum: set on the backbone built
        for layer in leaf_layers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = BATCH_NORM_MOMENTUM
    model.compile(optimizer=keras.optimizers.SGD(rate, momentum=0.9, nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    started = time.perf_counter()
    model.fit(model_input(images), labels.astype("int32"), batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = float((np.asarray(model.predict(model_input(held), verbose=0)).argmax(1) == held_labels).mean())
    row = {"network": name, "size": size, "train_images": count, "epochs": epochs, "train_s": round(seconds, 1),
           "held_out_accuracy": round(accuracy, 3)}
    for method in METHODS:
        explainer = Explainer(model, method)
        maps, _ = explainer.heatmaps(held, held_labels)
        hits = [point is not None and x0 <= point[0] < x1 and y0 <= point[1] < y1
                for point, (x0, y0, x1, y1) in zip(map(peak, maps), boxes)]
        row[method] = round(float(np.mean(hits)), 3)
        row["layer"], row["map"] = explainer.layer, "x".join(map(str, explainer.map_size))
    row["report_40_s"] = round(report_cost(model, held[:40], held_labels[:40]), 3)
    return row


def report_cost(model, images, classes) -> float:
    """What 40 mistakes' heatmaps add to a report: the explainer, its gradient pass and the 40 overlays."""
    from dlcv.explain import overlay
    from dlcv.heatmaps import Explainer

    started = time.perf_counter()
    maps, _ = Explainer(model).heatmaps(images, classes)
    for image, heatmap in zip(images, maps):
        overlay(image, heatmap)
    return time.perf_counter() - started


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from dlcv.runtime import start_keras

    start_keras(None, False, quiet=True)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, CPU, {time.strftime('%Y-%m-%d')}, "
          "python benchmarks/heatmaps.py" + (" --quick" if args.quick else ""))
    print("| network | size | layer (map) | held-out accuracy | HiResCAM | Grad-CAM | LayerCAM | training s | "
          "40 heatmaps s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, size, params, epochs, rate in NETWORKS:
        row = measure(name, size, params, 2 if args.quick else epochs, rate, 120 if args.quick else 600)
        print(f"| {name} | {size} | {row['layer']} ({row['map']}) | {row['held_out_accuracy']:.3f} | "
              f"{row['hirescam']:.2f} | {row['gradcam']:.2f} | {row['layercam']:.2f} | {row['train_s']} | "
              f"{row['report_40_s']} |", flush=True)


if __name__ == "__main__":
    main()
