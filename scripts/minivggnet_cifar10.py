#!/usr/bin/env python
"""MiniVGGNet on CIFAR-10 with batch normalisation, or without it for the book's comparison (ch. 15).

    python scripts/minivggnet_cifar10.py --output output/minivggnet_cifar10.png
    python scripts/minivggnet_cifar10.py --no-bn
"""
from pathlib import Path

from dlcv.recipes.keras_recipes import recipe_parser, train_recipe
from dlcv.recipes.script import run_script

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
parser = recipe_parser(__doc__)
parser.add_argument("--output", "-o", help="also write the loss/accuracy plot here")
parser.add_argument("--no-bn", action="store_true", help="the variant without batch normalisation")


def main(args):
    config = CONFIGS / ("minivggnet_cifar10_nobn.yaml" if args.no_bn else "minivggnet_cifar10.yaml")
    return train_recipe(config, args, plot_to=args.output)


if __name__ == "__main__":
    run_script(main, parser)
