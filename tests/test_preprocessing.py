"""The book's preprocessors: simple and aspect-aware resizing, image-to-array, chained in order."""
import cv2
import numpy as np
import pytest

from dlcv.config import PreprocessingConfig
from dlcv.data.loader import SimpleDatasetLoader
from dlcv.preprocessing import AspectAwarePreprocessor, ImageToArrayPreprocessor, SimplePreprocessor, preprocess_images


def test_simple_preprocessor_ignores_aspect_ratio():
    image = np.zeros((40, 100, 3), np.uint8)
    assert SimplePreprocessor(32, 16).preprocess(image).shape == (16, 32, 3)
    assert SimplePreprocessor(8, 8).preprocess(np.zeros((20, 30, 1), np.uint8)).shape == (8, 8, 1)


def test_aspect_aware_preprocessor_centre_crops_the_longer_side():
    image = np.zeros((50, 150, 3), np.uint8)
    image[:, 50:100] = 255  # only the centre third is white
    out = AspectAwarePreprocessor(20, 20).preprocess(image)
    assert out.shape == (20, 20, 3) and out.min() >= 250
    tall = np.zeros((150, 50, 3), np.uint8)
    tall[50:100] = 255
    assert AspectAwarePreprocessor(20, 20).preprocess(tall).min() >= 250


@pytest.mark.parametrize("size", [499, 500, 333])
def test_aspect_aware_keeps_a_square_photo_whole(size):
    """The book's version (imutils.resize) made a 499x499 photo 32x31, then kept one column of it: stripes.
    A square photo is simply resized."""
    photo = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = AspectAwarePreprocessor(32, 32).preprocess(photo)
    np.testing.assert_array_equal(out, cv2.resize(photo, (32, 32), interpolation=cv2.INTER_AREA))


def test_image_to_array_preprocessor_follows_the_data_format():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    last = ImageToArrayPreprocessor("channels_last").preprocess(image)
    first = ImageToArrayPreprocessor("channels_first").preprocess(image)
    assert last.dtype == np.float32 and last.shape == (2, 3, 3) and first.shape == (3, 2, 3)
    np.testing.assert_array_equal(first, last.transpose(2, 0, 1))
    assert ImageToArrayPreprocessor("channels_last").preprocess(np.zeros((4, 5), np.uint8)).shape == (4, 5, 1)
    with pytest.raises(ValueError, match="data_format"):
        ImageToArrayPreprocessor("NHWC")


def test_preprocessors_chain_in_order():
    image = np.zeros((64, 48, 3), np.uint8)
    loader = SimpleDatasetLoader([SimplePreprocessor(10, 10), ImageToArrayPreprocessor("channels_first")])
    assert loader.preprocessors[0].preprocess(image).shape == (10, 10, 3)
    out = preprocess_images([image, image], PreprocessingConfig(width=12, height=6, channels=1))
    assert out.shape == (2, 6, 12, 1)
