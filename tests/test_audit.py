"""`dlcv data check` (dlcv.data.audit): the perceptual hash, the grouping of duplicates, and the check on
folders with planted duplicates, unreadable files and none."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from data_files import structured_photo, write_photo_folders

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


@pytest.fixture
def leaky(tmp_path):
    """A pre-split folder with a photo copied exactly, re-encoded and resized into other splits."""
    root = tmp_path / "leaky"
    for part, seed in (("train", 1), ("val", 2), ("test", 3)):
        write_photo_folders(root / part, classes=("cats", "dogs"), per_class=5, seed=seed, prefix=part)
    original = root / "train" / "cats" / "traincats_000.jpg"
    shutil.copy(original, root / "test" / "cats" / "copy.jpg")
    photo = cv2.imread(str(original))
    cv2.imwrite(str(root / "val" / "cats" / "reencoded.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 40])
    cv2.imwrite(str(root / "test" / "dogs" / "resized.png"),
                cv2.resize(cv2.imread(str(root / "train" / "dogs" / "traindogs_002.jpg")), (96, 72),
                           interpolation=cv2.INTER_AREA))
    return root


def test_data_check_finds_planted_duplicates_across_splits(dlcv, leaky):
    said = dlcv("data", "check", leaky)
    assert said.code == 1
    lines = said.out.splitlines()
    exact = [line for line in lines if line.startswith("exact duplicates, across splits")]
    near = [line for line in lines if line.startswith("near duplicates, across splits")]
    assert len(exact) == 0 and len(near) == 2  # the exact copy and the re-encoded one are one group
    assert "train/cats/traincats_000.jpg" in near[0] and "test/cats/copy.jpg" in near[0]
    assert "val/cats/reencoded.jpg" in near[0]
    assert "train/dogs/traindogs_002.jpg" in near[1] and "test/dogs/resized.png" in near[1]
    assert "2 duplicate group(s)" in said.err
    assert near[0].startswith("near duplicates, across splits (train and validation and test):")
    assert near[1].startswith("near duplicates, across splits (train and test):")
    report = json.loads(dlcv("data", "check", leaky, "--format", "json").out)
    assert report["problems"] == 2 and report["counts"]["train"] == {"cats": 5, "dogs": 5}


def test_data_check_reports_nothing_on_a_clean_folder(dlcv, tmp_path):
    root = tmp_path / "clean"
    for part, seed in (("train", 1), ("val", 2), ("test", 3)):
        write_photo_folders(root / part, classes=("cats", "dogs", "panda"), per_class=8, seed=seed, prefix=part)
    said = dlcv("data", "check", root)
    assert said.code == 0, said.out
    assert "duplicates," not in said.out and "unreadable" not in said.out
    assert said.out.splitlines()[0].endswith("72 images, 3 classes, split as given: train 24, validation 24, test 24")
    assert "no duplicates" in said.out


def test_data_check_counts_unreadable_files_and_exact_copies_in_an_unsplit_folder(dlcv, tmp_path):
    root = write_photo_folders(tmp_path / "photos", classes=("a", "b"), per_class=4)
    (root / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    shutil.copy(root / "a" / "a_001.jpg", root / "b" / "same.jpg")
    said = dlcv("data", "check", root)
    assert said.code == 1
    assert "unreadable: 1 file(s):" in said.out and "broken.jpg" in said.out
    assert "exact duplicates, across classes: a/a_001.jpg, b/same.jpg" in said.out


def test_data_check_on_a_folder_of_unreadable_files_lists_them_in_its_report(dlcv, tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / "bad" / name).mkdir(parents=True)
        (tmp_path / "bad" / name / "photo.jpg").write_text("not an image")
    said = dlcv("data", "check", tmp_path / "bad")
    assert said.code == 1 and "unreadable: 2 file(s)" in said.out, said.err
    assert said.err.strip().splitlines() == [f"dlcv: none of the 2 image files of {tmp_path / 'bad'} could be read"]
    only_val = tmp_path / "pair"
    for part in ("train", "val"):
        write_photo_folders(only_val / part, classes=("cats", "dogs"), per_class=3, seed=1)  # the same photos twice
    lines = dlcv("data", "check", only_val).out.splitlines()
    assert any(line.startswith("exact duplicates, across splits (train and validation):") for line in lines)
    assert "between splits" in lines[-1] and "test" not in lines[-1]


def test_data_check_counts_a_multi_label_tables_images_by_class(dlcv, tmp_path):
    """Each image counts once for each class it shows (not per label set), an image of none apart."""
    root = write_photo_folders(tmp_path / "photos", classes=("x",), per_class=6)
    names = sorted(p.name for p in (root / "x").iterdir())
    label_sets = ["cat|dog", "cat", "dog|sofa", "", "cat|dog|sofa", "sofa"]
    (tmp_path / "labels.csv").write_text("path,labels\n" + "".join(
        f"x/{name},{labels}\n" for name, labels in zip(names, label_sets)))
    said = dlcv("data", "check", tmp_path / "labels.csv", "--images", root, "--format", "json")
    report = json.loads(said.out)
    assert report["counts"] == {"all": {"cat": 3, "dog": 3, "sofa": 3, "(no label)": 1}}
    assert report["images"] == {"all": 6}
    text = dlcv("data", "check", tmp_path / "labels.csv", "--images", root).out.splitlines()
    assert text[0].endswith(": 6 images, 3 classes, one table (a training run splits it at random)")
    assert text[1] == "classes: cat 3, dog 3, sofa 3 (smallest/largest 1.00); 1 image(s) with no label"
