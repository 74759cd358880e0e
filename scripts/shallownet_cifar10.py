#!/usr/bin/env python
"""ShallowNet on CIFAR-10 (ch. 12).

    python scripts/shallownet_cifar10.py
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "shallownet_cifar10.yaml"
parser = recipe_parser(__doc__)

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args), parser)
