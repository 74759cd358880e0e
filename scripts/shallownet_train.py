#!/usr/bin/env python
"""Train ShallowNet on Animals and save the model to a file (ch. 13); shallownet_load.py uses it.

    python scripts/shallownet_train.py --dataset datasets/animals --model output/shallownet_weights.h5
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_dataset_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "shallownet_animals.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--dataset", "-d", required=True, help="folder of <class>/<image> files")
parser.add_argument("--model", "-m", required=True, help="where to save the trained model (.h5 or .keras)")

if __name__ == "__main__":
    run_script(lambda args: train_dataset_recipe(CONFIG, args, ["name=shallownet_train"]), parser)
