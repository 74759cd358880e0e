"""Synthetic captchas: random digits drawn with OpenCV's Hershey fonts, jittered, rotated and noised.

There is no public captcha dataset to ship, so the whole breaker trains and is tested on these. Each
digit is drawn on its own patch, rotated, and placed left to right with a small gap, as in the book's
E-ZPass captchas: the characters never touch, so contour segmentation can separate them.

    captchas = generate_captchas(100, length=4, seed=42)
    captchas[0].text, captchas[0].image.shape      # '8027', (60, 190)
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ... import files

log = logging.getLogger(__name__)

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX)
HEIGHT = 60


@dataclass(frozen=True)
class Captcha:
    image: np.ndarray
    """uint8 greyscale (H, W): dark digits on a light, noisy background."""
    text: str


def _digit_patch(digit: str, rng: np.random.Generator) -> np.ndarray:
    """The digit's ink (255 = ink) on a black patch, in a random font, size and slant."""
    font, scale, thickness = FONTS[rng.integers(len(FONTS))], rng.uniform(1.1, 1.5), int(rng.integers(2, 4))
    (width, height), baseline = cv2.getTextSize(digit, font, scale, thickness)
    pad = 8
    patch = np.zeros((height + baseline + 2 * pad, width + 2 * pad), np.uint8)
    cv2.putText(patch, digit, (pad, pad + height), font, scale, 255, thickness, cv2.LINE_AA)
    centre = (patch.shape[1] / 2, patch.shape[0] / 2)
    rotation = cv2.getRotationMatrix2D(centre, rng.uniform(-15, 15), 1.0)
    patch = cv2.warpAffine(patch, rotation, patch.shape[::-1])
    rows, cols = np.nonzero(patch > 40)
    return patch[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def render_captcha(text: str, rng: np.random.Generator) -> np.ndarray:
    """Draw ``text`` (digits) as one captcha image."""
    patches = [_digit_patch(d, rng) for d in text]
    gaps = rng.integers(5, 12, len(patches) + 1)
    gaps[0], gaps[-1] = rng.integers(8, 16, 2)
    width = int(sum(p.shape[1] for p in patches) + gaps.sum())
    ink = np.zeros((HEIGHT, width), np.float32)
    x = int(gaps[0])
    for patch, gap in zip(patches, gaps[1:]):
        height = min(patch.shape[0], HEIGHT - 4)
        y = int(rng.integers(2, HEIGHT - height - 1)) if HEIGHT - height - 1 > 2 else 2
        region = ink[y:y + height, x:x + patch.shape[1]]
        np.maximum(region, patch[:height] / 255.0, out=region)
        x += patch.shape[1] + int(gap)
    background = rng.uniform(170, 235) + np.linspace(0, rng.uniform(-25, 25), width)[None, :]
    image = background * (1 - ink) + rng.uniform(10, 70) * ink
    image += rng.normal(0, rng.uniform(3, 10), image.shape)
    for _ in range(int(rng.integers(5, 25))):  # specks: far smaller than any digit
        cv2.circle(image, (int(rng.integers(width)), int(rng.integers(HEIGHT))), 1, float(rng.uniform(60, 140)), -1)
    return cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.uint8), (3, 3), 0)


def generate_captchas(count: int, length: int = 4, seed: int = 42) -> list[Captcha]:
    """``count`` captchas of ``length`` random digits each (the same seed gives the same captchas)."""
    if count < 1 or length < 1:
        raise ValueError(f"count and length must be >= 1, got count={count}, length={length}")
    rng = np.random.default_rng(seed)
    captchas = []
    for _ in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, length))
        captchas.append(Captcha(render_captcha(text, rng), text))
    return captchas


def write_captchas(folder: str | os.PathLike, count: int, length: int = 4, seed: int = 42) -> list[Path]:
    """Write captchas as ``<folder>/<index>_<digits>.png``: the file name carries the answer."""
    folder = files.ensure_writable_dir(folder)
    paths = []
    for index, captcha in enumerate(generate_captchas(count, length, seed)):
        path = folder / f"{index:05d}_{captcha.text}.png"
        files.write_image(path, captcha.image)
        paths.append(path)
    return paths


def text_from_name(path: str | os.PathLike) -> str | None:
    """The digits a :func:`write_captchas` file name carries (``00012_4821.png`` -> ``"4821"``)."""
    stem = Path(path).stem
    _, sep, text = stem.partition("_")
    return text if sep and text.isdigit() else None


def generate_captcha_files(output: str | os.PathLike, count: int, length: int = 4, seed: int = 42) -> list[Path]:
    """ch. 21's download_images.py, offline: synthetic captchas whose file names carry the answer."""
    paths = write_captchas(output, count, length, seed)
    log.info(f"[INFO] wrote {len(paths)} captchas to {output}/ (<index>_<digits>.png)")
    return paths
