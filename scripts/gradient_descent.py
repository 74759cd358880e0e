#!/usr/bin/env python
"""Batch gradient descent on the book's two blobs (ch. 9): a sigmoid unit, sum-of-squared-errors loss.

    python scripts/gradient_descent.py --epochs 100 --alpha 0.01
    python scripts/gradient_descent.py --optimizer nesterov
    python scripts/gradient_descent.py --compare        # gd vs momentum vs nesterov, one plot
    python scripts/gradient_descent.py --book           # the printed code's gradient (no sigmoid derivative)
"""
from dlcv.recipes.numpy_chapters import descent_parser, run_chapter_script, run_descent

parser = descent_parser(__doc__, "output/gradient_descent", batch_size=None)

if __name__ == "__main__":
    run_chapter_script(run_descent, parser)
