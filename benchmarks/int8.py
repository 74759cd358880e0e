#!/usr/bin/env python
"""What int8 costs: float, dynamic-range and full-integer exports of three Animals-sample runs.

Trains (once) a ShallowNet and a MiniVGGNet at 32x32 for 30 epochs and a MobileNetV2 from scratch at 64x64
for 15 epochs on the Animals sample, then exports each as LiteRT (float, ``--quantize`` dynamic,
``--quantize int8``) and ONNX (float, ``int8``), checked on the run's test split: accuracy with its Wilson
interval, agreement with Keras's labels, size and images/s. Prints a Markdown table.

    python benchmarks/int8.py --images ../shared/datasets/animals-sample
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = {
    "shallownet": ("configs/shallownet_animals.yaml", ["epochs=30"]),
    "minivggnet": ("configs/minivggnet_animals.yaml", ["epochs=30"]),
    "mobilenet_v2": (None, ["dataset.name=folder", "model.name=mobilenet_v2",
                            "model.params={weights: none, trainable: true}", "preprocessing.width=64",
                            "preprocessing.height=64", "epochs=15", "batch_size=32", "optimizer.learning_rate=0.05"]),
}
EXPORTS = [("litert", None), ("litert", "dynamic"), ("litert", "int8"), ("onnx", None), ("onnx", "int8")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=ROOT / "output" / "int8")
    args = parser.parse_args()
    from dlcv import app
    from dlcv.evaluation import wilson_interval

    rows = []
    for name, (config, overrides) in RUNS.items():
        run = args.output / name
        if not (run / "results.json").is_file():
            app.train(ROOT / config if config else None, overrides=[
                *overrides, f"dataset.path={args.images}", f"output_dir={args.output}", f"name={name}"])
        for fmt, mode in EXPORTS:
            (report,) = app.export(run, formats=[fmt], output=args.output / f"{name}-{fmt}-{mode or 'float'}",
                                   quantize=mode, force=True, allow_drop=True)
            low, high = wilson_interval(round(report.accuracy * report.checked), report.checked)
            rows.append({"run": name, "format": fmt, "mode": mode or "float", "accuracy": round(report.accuracy, 4),
                         "interval": [round(low, 3), round(high, 3)], "keras": round(report.reference_accuracy, 4),
                         "agreement": round(report.agreement, 4), "mb": round(report.bytes / 1e6, 3),
                         "images_per_s": round(report.images_per_second), "checked": report.checked})
            print(json.dumps(rows[-1]), flush=True)
    print("| run (Keras test accuracy) | export | accuracy (95% interval) | agreement with Keras | size | images/s |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} ({r['keras']:.3f}) | {r['format']} {r['mode']} | {r['accuracy']:.3f} "
              f"({r['interval'][0]:.3f}–{r['interval'][1]:.3f}) | {r['agreement']:.1%} | {r['mb']:.2f} MB | "
              f"{r['images_per_s']:,} |")
    (args.output / "int8.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
