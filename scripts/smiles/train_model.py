#!/usr/bin/env python
"""Train LeNet to tell smiling from not smiling faces, weighting classes for the imbalance (ch. 22).

    python scripts/smiles/train_model.py --dataset datasets/SMILEs --model output/smiles_lenet.h5
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_dataset_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "smiles_lenet.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--dataset", "-d", required=True, help="folder with smiling/ and not_smiling/ faces")
parser.add_argument("--model", "-m", help="also save the trained model here (.h5 or .keras)")

if __name__ == "__main__":
    run_script(lambda args: train_dataset_recipe(CONFIG, args), parser)
