"""The duplicate check's parts (dlcv.data.audit): the perceptual hash and the grouping of duplicates."""
from __future__ import annotations

import cv2
import numpy as np
from data_files import structured_photo

from dlcv.data.audit import _duplicate_groups, perceptual_hash, thumbnail


def grey(photo: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)[..., None]


def test_the_hash_survives_resizing_and_reencoding_but_tells_other_pictures_apart():
    rng = np.random.default_rng(0)
    photo, other = structured_photo(rng), structured_photo(rng)
    resized = cv2.resize(photo, (96, 72), interpolation=cv2.INTER_AREA)
    reencoded = cv2.imdecode(cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 40])[1], cv2.IMREAD_COLOR)

    def bits(a, b):
        return int(np.bitwise_count(perceptual_hash(grey(a)) ^ perceptual_hash(grey(b))))

    assert bits(photo, resized) <= 4 and bits(photo, reencoded) <= 4
    assert bits(photo, other) > 16  # 64 bits: unrelated pictures differ in about half


def test_duplicates_group_through_equal_bytes_and_near_pairs_transitively():
    """0 and 3 are the same bytes; 1 is near 0 and 2 near 1 (hashes within 2 bits, thumbnails alike),
    so 0-1-2-3 are one group; 4 has a near hash but another picture; 5 stands alone."""
    rng = np.random.default_rng(1)
    pictures = [structured_photo(rng) for _ in range(3)]
    thumbs = np.array([thumbnail(grey(p)) for p in (pictures[0], pictures[0], pictures[0], pictures[0],
                                                    pictures[1], pictures[2])], np.float32)
    hashes = np.array([0b0000, 0b0001, 0b0011, 0b0000, 0b0001, 0b1 << 40], np.uint64)
    digests = ["a", "b", "c", "a", "d", "e"]
    assert _duplicate_groups(digests, hashes, thumbs, distance=1) == [[0, 1, 2, 3]]
    assert _duplicate_groups(digests, hashes, thumbs, distance=0) == [[0, 3]]  # the same bytes only
    assert _duplicate_groups([], np.zeros(0, np.uint64), np.zeros((0, 256), np.float32), 10) == []
