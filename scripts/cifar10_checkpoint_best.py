#!/usr/bin/env python
"""MiniVGGNet on CIFAR-10, checkpointing only the best model, in one file (ch. 18).

    python scripts/cifar10_checkpoint_best.py --weights output/weights
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cifar10_checkpoint_best.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--weights", "-w", required=True,
                    help="folder for the checkpoints (best.h5)")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, [f"callbacks.checkpoint_dir={args.weights}"]), parser)
