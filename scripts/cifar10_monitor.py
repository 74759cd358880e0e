#!/usr/bin/env python
"""MiniVGGNet on CIFAR-10 with TrainingMonitor redrawing loss/accuracy after every epoch (ch. 17).

    python scripts/cifar10_monitor.py --output output     # watch output/cifar10_monitor/training.png
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cifar10_monitor.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", default="output",
                    help="folder for the run (history.json and training.png are updated every epoch)")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, [f"output_dir={args.output}"]), parser)
