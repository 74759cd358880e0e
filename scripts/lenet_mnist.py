#!/usr/bin/env python
"""LeNet on MNIST (ch. 14).

    python scripts/lenet_mnist.py
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "lenet_mnist.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", help="also write the loss/accuracy plot here")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, plot_to=args.output), parser)
