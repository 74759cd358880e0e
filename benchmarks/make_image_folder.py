#!/usr/bin/env python
"""Make a large synthetic photo folder from any seed folder of <class>/<image> files: random crops,
flips and re-encoding, N JPEGs of a given size, the seed's classes kept. For the data-at-scale
benchmarks (M1); the folder goes under output/ and is never committed.

    python benchmarks/make_image_folder.py ../shared/datasets/animals-sample output/benchmarks/images/6000 \
        --count 6000 --size 256
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlcv.data.folder import list_labelled_images  # noqa: E402


def make_image_folder(seed_folder: str | os.PathLike, output: str | os.PathLike, count: int, size: int = 256,
                      seed: int = 0) -> Path:
    """Write ``count`` size x size JPEGs under ``output/<class>/`` (skipped when already complete)."""
    output = Path(output)
    done = output / ".complete"
    if done.is_file() and done.read_text().strip() == f"{count} {size} {seed}":
        return output
    paths, labels, class_names = list_labelled_images(seed_folder)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(paths), count)
    plans = [(i, paths[p], class_names[labels[p]], rng.uniform(0.5, 1.0), rng.uniform(0, 1, 2), rng.random() < 0.5,
              int(rng.integers(70, 96))) for i, p in enumerate(picks)]
    for name in class_names:
        (output / name).mkdir(parents=True, exist_ok=True)

    def write(plan) -> None:
        index, source, label, scale, corner, flip, quality = plan
        image = cv2.imread(source)
        height, width = image.shape[:2]
        side = max(int(min(height, width) * scale), 16)
        top, left = int(corner[0] * (height - side)), int(corner[1] * (width - side))
        crop = image[top:top + side, left:left + side]
        crop = cv2.flip(crop, 1) if flip else crop
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(output / label / f"{label}_{index:06d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, quality])

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(write, plans))
    done.write_text(f"{count} {size} {seed}\n")
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seed_folder", help="a folder of <class>/<image> files to draw from")
    parser.add_argument("output", help="the folder to write (under output/)")
    parser.add_argument("--count", type=int, default=6000, help="how many images")
    parser.add_argument("--size", type=int, default=256, help="width and height of each JPEG")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    folder = make_image_folder(args.seed_folder, args.output, args.count, args.size, args.seed)
    print(f"wrote {args.count} {args.size}x{args.size} JPEGs to {folder}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
