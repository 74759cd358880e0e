"""Reading a folder of photos: the book's SimpleDatasetLoader, its bad-file handling and progress, and the folder
listing's one-line errors."""
import warnings

import numpy as np
import pytest
from data_files import add_bad_files, write_class_folders

from dlcv.data.folder import list_labelled_images
from dlcv.data.loader import SimpleDatasetLoader, SkippedImagesWarning
from dlcv.errors import DlcvError
from dlcv.preprocessing import SimplePreprocessor


def test_loader_skips_every_kind_of_bad_file_and_reports_them_once(tmp_path):
    root = write_class_folders(tmp_path / "animals")
    good = sorted((root / "cats").glob("*.jpg"))[0]
    bad = add_bad_files(root / "dogs", good)
    paths, labels, names = list_labelled_images(root)
    assert len(paths) == 18 + len(bad)
    loader = SimpleDatasetLoader([SimplePreprocessor(16, 16)], progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, label_names = loader.load(paths)
    assert data.shape == (18, 16, 16, 3) and len(label_names) == 18
    assert sorted(loader.skipped) == sorted(str(p) for p in bad)
    skip_warnings = [w for w in caught if issubclass(w.category, SkippedImagesWarning)]
    assert len(skip_warnings) == 1 and f"skipped {len(bad)} unreadable image file(s)" in str(skip_warnings[0].message)


def test_files_that_are_not_images_by_their_ending_are_said_in_one_line(tmp_path, caplog):
    """A GIF is read (its first frame); an .svg, a .heic (no OpenCV decoder) and a README are passed over and
    counted; hidden and system files are not counted."""
    from PIL import Image

    root = write_class_folders(tmp_path / "animals")
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "blue")]
    frames[0].save(root / "cats" / "animated.gif", save_all=True, append_images=frames[1:])
    for name in ("dogs/drawing.svg", "dogs/phone.heic", "panda/IMG_2.HEIC", "README", ".DS_Store", "cats/Thumbs.db"):
        (root / name).write_bytes(b"not read")
    with caplog.at_level("WARNING", logger="dlcv"):
        paths, labels, names = list_labelled_images(root)
    assert len(paths) == 19 and str(root / "cats" / "animated.gif") in paths
    assert caplog.messages == [f"4 file(s) under {str(root)!r} passed over, not images by their ending (.heic 2, "
                               "no ending 1, .svg 1); expected .jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp, .ppm, "
                               ".pgm, .gif"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="dlcv"):
        list_labelled_images(write_class_folders(tmp_path / "clean"))
    assert not caplog.messages


def test_parallel_and_sequential_loading_agree(tmp_path):
    root = write_class_folders(tmp_path / "animals")
    paths, _, _ = list_labelled_images(root)
    chain = [SimplePreprocessor(16, 16)]
    parallel = SimpleDatasetLoader(chain, workers=4, progress=False).load(paths)
    sequential = SimpleDatasetLoader(chain, workers=1, progress=False).load(paths)
    np.testing.assert_array_equal(parallel[0], sequential[0])
    np.testing.assert_array_equal(parallel[1], sequential[1])


def test_loader_prints_progress_every_verbose_images(tmp_path, capsys):
    paths, _, _ = list_labelled_images(write_class_folders(tmp_path / "a"))
    SimpleDatasetLoader([SimplePreprocessor(8, 8)], progress=False).load(paths, verbose=5)
    assert capsys.readouterr().out.count("[INFO] processed") == 3


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing", "dataset folder not found"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no images found under"),
    (lambda p: write_class_folders(p / "one", classes=("cats",)), r"holds one class \('cats'\)"),
])
def test_folder_errors_are_one_line(tmp_path, setup, message):
    with pytest.raises(DlcvError, match=message) as caught:
        list_labelled_images(setup(tmp_path))
    assert "\n" not in str(caught.value)
