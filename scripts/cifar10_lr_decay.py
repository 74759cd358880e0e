#!/usr/bin/env python
"""MiniVGGNet on CIFAR-10 with the book's step decay of the learning rate (ch. 16).

    python scripts/cifar10_lr_decay.py --factor 0.5 --output output/lr_decay_0.5.png
    dlcv lr configs/cifar10_lr_decay.yaml          # the schedule itself, epoch by epoch
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cifar10_lr_decay.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", help="also write the loss/accuracy plot here")
parser.add_argument("--factor", type=float, default=0.25, help="multiply the rate by this every 5 epochs")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, [f"schedule.factor={args.factor}"],
                                         plot_to=args.output), parser)
