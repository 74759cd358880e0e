#!/usr/bin/env python
"""Load a saved ShallowNet, label ten random images of a dataset and write them to a folder (ch. 13).

    python scripts/shallownet_load.py --dataset datasets/animals --model output/shallownet_weights.h5
"""
from dlcv.config import BACKENDS
from dlcv.recipes.keras_recipes import label_random_images
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/shallownet_load")
parser.add_argument("--dataset", "-d", required=True, help="folder of <class>/<image> files")
parser.add_argument("--model", "-m", required=True, help="the model shallownet_train.py saved")
parser.add_argument("--count", type=int, default=10, help="how many random images to label")
parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")

if __name__ == "__main__":
    run_script(lambda a: label_random_images(a.model, a.dataset, a.output, a.count, a.seed, a.backend), parser)
