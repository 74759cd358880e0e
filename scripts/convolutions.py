#!/usr/bin/env python
"""Apply the book's kernel bank (ch. 11) with a from-scratch convolve() and with cv2.filter2D, side by side.

    python scripts/convolutions.py --image jemma.png
"""
from dlcv.recipes.numpy_chapters import convolutions, run_chapter_script
from dlcv.recipes.script import script_parser

parser = script_parser(__doc__, default_output="output/convolutions")
parser.add_argument("--image", "-i", help="image to filter (default: scikit-learn's sample photo)")


def main(args):
    convolutions(args.output, args.image)


if __name__ == "__main__":
    run_chapter_script(main, parser)
