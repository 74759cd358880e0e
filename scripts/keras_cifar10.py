#!/usr/bin/env python
"""The CIFAR-10 multi-layer perceptron: 3072-1024-512-10 with ReLUs, plain SGD (ch. 10).

    python scripts/keras_cifar10.py --output output/keras_cifar10.png
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "keras_cifar10.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", help="also write the loss/accuracy plot here")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, plot_to=args.output), parser)
