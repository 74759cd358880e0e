#!/usr/bin/env python
"""Classify photos with a network pre-trained on ImageNet: top-5 printed, top-1 drawn (ch. 20).

    python scripts/imagenet_pretrained.py --image beagle.jpg --model vgg16
"""
from pathlib import Path

from dlcv.casestudies.pretrained import NETWORKS, classify_images
from dlcv.config import BACKENDS
from dlcv.recipes.script import run_script, script_parser

parser = script_parser(__doc__, default_output="output/imagenet_pretrained")
parser.add_argument("--image", "-i", required=True, nargs="+", help="image files or folders to classify")
parser.add_argument("--model", "-m", default="vgg16", choices=list(NETWORKS), help="the network")
parser.add_argument("--weights", default="imagenet",
                    help="'imagenet' (downloaded once to ~/.keras/models), a weights .h5 file, or 'none'")
parser.add_argument("--labels", help="class index JSON (default: Keras's ImageNet index, cached)")
parser.add_argument("--top", type=int, default=5, help="how many classes to print per image")
parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")

if __name__ == "__main__":
    run_script(lambda a: classify_images(a.image, a.model, None if a.weights == "none" else a.weights,
                                         Path(a.output), a.labels, a.top, a.backend), parser)
