#!/usr/bin/env python
"""The MNIST multi-layer perceptron: 784-256-128-10 with sigmoids, plain SGD (ch. 10).

    python scripts/keras_mnist.py --output output/keras_mnist.png
    python scripts/keras_mnist.py --set epochs=5                # any key of configs/keras_mnist.yaml
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "keras_mnist.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", help="also write the loss/accuracy plot here")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, plot_to=args.output), parser)
