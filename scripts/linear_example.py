#!/usr/bin/env python
"""Score one image with a random linear classifier f(x) = Wx + b (ch. 8) and draw the winning label.

    python scripts/linear_example.py --image beagle.png
    python scripts/linear_example.py                 # scikit-learn's bundled sample photo
"""
from dlcv.recipes.numpy_chapters import linear_example, run_chapter_script
from dlcv.recipes.script import script_parser

parser = script_parser(__doc__, default_output="output/linear_example")
parser.add_argument("--image", "-i", help="image to score (default: scikit-learn's sample photo)")


def main(args):
    linear_example(args.output, args.image, args.seed)


if __name__ == "__main__":
    run_chapter_script(main, parser)
