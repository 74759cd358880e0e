#!/usr/bin/env python
"""Mini-batch stochastic gradient descent on the book's two blobs (ch. 9), reshuffled every epoch.

    python scripts/sgd.py --epochs 100 --alpha 0.01 --batch-size 32
    python scripts/sgd.py --optimizer momentum --compare
    python scripts/sgd.py --book    # the printed code: no sigmoid derivative, no shuffling, test half trained on
"""
from dlcv.recipes.numpy_chapters import descent_parser, run_chapter_script, run_descent

parser = descent_parser(__doc__, "output/sgd", batch_size=32)

if __name__ == "__main__":
    run_chapter_script(run_descent, parser)
