#!/usr/bin/env python
"""MiniVGGNet on CIFAR-10, checkpointing every improvement of val_loss (ch. 18).

    python scripts/cifar10_checkpoint_improvements.py --weights output/weights
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cifar10_checkpoint_improvements.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--weights", "-w", required=True,
                    help="folder for the checkpoints (weights-{epoch:03d}-{val_loss:.4f}.h5)")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, [f"callbacks.checkpoint_dir={args.weights}"]), parser)
