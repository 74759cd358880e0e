"""2-D convolution from scratch (ch. 11) and the book's kernel bank.

Like ``cv2.filter2D`` (and the book), this slides the kernel without flipping it — strictly a
cross-correlation, which is what deep-learning "convolution" means. Borders are replicated, and the
result is rounded and clipped to uint8 as filter2D does for a uint8 image.

    sharp = convolve(gray, KERNELS["sharpen"])
    np.abs(sharp.astype(int) - cv2.filter2D(gray, -1, KERNELS["sharpen"],
                                            borderType=cv2.BORDER_REPLICATE)).max() <= 1
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import ArgumentError


def convolve(image, kernel) -> np.ndarray:
    """Filter a 2-D greyscale image with an odd-sized 2-D kernel; returns uint8 of the same shape."""
    image = np.asarray(image)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2:
        raise ArgumentError(f"image must be a 2-D greyscale array, got shape {image.shape}")
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ArgumentError(f"kernel must be 2-D with odd height and width, got shape {kernel.shape}")
    pad_y, pad_x = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(image.astype(np.float64), ((pad_y, pad_y), (pad_x, pad_x)), mode="edge")
    # Every kernel-sized window of the padded image, without copying: (H, W, kh, kw).
    windows = sliding_window_view(padded, kernel.shape)
    output = np.einsum("ijkl,kl->ij", windows, kernel)
    return np.clip(np.rint(output), 0, 255).astype(np.uint8)


def _kernel_bank() -> dict[str, np.ndarray]:
    return {
        "small_blur": np.ones((7, 7)) / 49.0,
        "large_blur": np.ones((21, 21)) / 441.0,
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
        "laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64),
        "sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),
        "sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),
        "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64),
    }


KERNELS: dict[str, np.ndarray] = _kernel_bank()
