#!/usr/bin/env python
"""ShallowNet on the Animals dataset (cats, dogs, panda) at 32x32 (ch. 12).

    python scripts/shallownet_animals.py --dataset datasets/animals
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "shallownet_animals.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--dataset", "-d", required=True, help="folder of <class>/<image> files")

if __name__ == "__main__":
    run_script(lambda args: train_recipe(CONFIG, args, [f"dataset.path={args.dataset}"]), parser)
