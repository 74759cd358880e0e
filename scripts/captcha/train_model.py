#!/usr/bin/env python
"""Train LeNet on labelled digit crops (padded to square, 28x28 grey) and save the model (ch. 21).

    python scripts/captcha/train_model.py --dataset datasets/captcha_digits --model output/captcha.h5
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_dataset_recipe
from dlcv.recipes.script import run_script

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "captcha_lenet.yaml"
parser = recipe_parser(__doc__)
parser.add_argument("--dataset", "-d", required=True, help="folder of <digit>/<crop> images (annotate.py)")
parser.add_argument("--model", "-m", help="also save the trained model here (.h5 or .keras)")

if __name__ == "__main__":
    run_script(lambda args: train_dataset_recipe(CONFIG, args), parser)
