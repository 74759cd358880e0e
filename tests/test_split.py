"""Splits: stratified and seeded, the official test sets, pre-split folders used as given, groups kept on
one side."""
import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import folder_config
from data_files import write_class_folders, write_mnist_npz

from dlcv.data import prepare_data
from dlcv.data.builtin import read_mnist as load_mnist
from dlcv.data.split import split_indices
from dlcv.errors import ConfigError


def pre_split(root, validation="val", parts=(("train", 8), ("val", 3), ("test", 4))):
    for part, count in parts:
        name = validation if part == "val" else part
        write_class_folders(root / name, per_class=count, seed=len(name))
    return root


def _paths(prepared, part):
    split = getattr(prepared.splits, part)
    return {prepared.source.paths[row] for row in split.rows} if hasattr(split, "rows") else None


@pytest.mark.parametrize("validation", ["val", "valid"])
def test_a_pre_split_folder_is_used_as_given(tmp_path, validation):
    root = pre_split(tmp_path / "photos", validation)
    prepared = prepare_data(folder_config(root, tmp_path, "dataset.streaming=true", "dataset.cache=none"))
    for part, folder, count in (("train", "train", 8), ("val", validation, 3), ("test", "test", 4)):
        paths = _paths(prepared, part)
        assert len(paths) == 3 * count
        assert all(f"/{folder}/" in path for path in paths)
    assert prepared.class_names == ["cats", "dogs", "panda"]


def test_a_part_the_folder_lacks_is_split_off_its_training_images(tmp_path):
    root = pre_split(tmp_path / "photos", parts=(("train", 10), ("test", 4)))
    prepared = prepare_data(folder_config(root, tmp_path, "dataset.val_size=0.2", "dataset.streaming=true",
                                          "dataset.cache=none"))
    assert len(prepared.splits.val.rows) == 6 and len(prepared.splits.train.rows) == 24
    assert all("/train/" in path for path in _paths(prepared, "val"))
    assert all("/test/" in path for path in _paths(prepared, "test"))


def test_a_pre_split_folder_trains_as_given_and_its_cache_keeps_the_parts(keras, tmp_path):
    from dlcv.training.engine import train

    root = pre_split(tmp_path / "photos")
    result = train(folder_config(root, tmp_path), verbose=0)  # through the decode-once cache
    assert len(result.prepared.splits.test.labels) == 12 and len(result.prepared.splits.train.labels) == 24
    assert json.loads((result.run_dir / "results.json").read_text())["test_accuracy"] >= 0
    random = prepare_data(folder_config(root, tmp_path, "dataset.splits=random", "dataset.test_size=0.5"))
    assert len(random.splits.test.labels) == 23  # the three parts pooled (45 images), half held out


def test_split_folders_must_hold_the_same_classes(dlcv, tmp_path):
    root = pre_split(tmp_path / "photos")
    shutil.rmtree(root / "test" / "panda")
    (root / "val" / "bird").mkdir()
    cv2.imwrite(str(root / "val" / "bird" / "b.png"), np.zeros((8, 8, 3), np.uint8))
    said = dlcv("train", "--set", "dataset.name=folder", "--set", f"dataset.path={root}", "--set",
                "preprocessing.width=8", "--set", f"output_dir={tmp_path / 'out'}")
    assert said.code == 2 and said.out == ""
    assert said.err.count("\n") == 1 and "expected the same class folders in every split folder" in said.err
    assert "test/ lacks panda" in said.err and "val/ has bird that train/ lacks" in said.err


@pytest.mark.parametrize("overrides, fragment", [
    (["dataset.splits=folders"], "dataset.splits: folders:"),
    (["dataset.group_by=('"], "dataset.group_by: not a regular expression"),
])
def test_split_misuse_is_one_line_exit_2_before_any_image_is_read(dlcv, tmp_path, monkeypatch, overrides, fragment):
    from dlcv.data import prepare as prepare_module

    monkeypatch.setattr(prepare_module, "get_dataset", lambda name: pytest.fail("data was read"))
    root = write_class_folders(tmp_path / "photos")
    args = ["train", "--set", "dataset.name=folder", "--set", f"dataset.path={root}", "--set",
            "preprocessing.width=8", "--set", f"output_dir={tmp_path / 'out'}"]
    said = dlcv(*args, *[item for o in overrides for item in ("--set", o)])
    assert said.code == 2 and fragment in said.err and said.err.count("\n") == 1


def test_group_by_on_a_pre_split_folder_is_refused(dlcv, tmp_path):
    root = pre_split(tmp_path / "photos")
    said = dlcv("train", "--set", "dataset.name=folder", "--set", f"dataset.path={root}", "--set",
                "preprocessing.width=8", "--set", "dataset.group_by=^[a-z]+")
    assert said.code == 2 and "comes split" in said.err


def bursts(root, groups_per_class=8, shots=3):
    """Burst shots: burstNN_K.png, K = 0..shots-1, per class."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for g in range(groups_per_class):
            for k in range(shots):
                image = np.clip(np.full((10, 10, 3), 60 + 120 * c) + rng.normal(0, 20, (10, 10, 3)), 0, 255)
                cv2.imwrite(str(root / name / f"burst{g:02d}_{k}.png"), image.astype(np.uint8))
    return root


def test_group_by_keeps_each_group_in_one_split(tmp_path):
    root = bursts(tmp_path / "photos")

    def groups_per_part(*overrides):
        prepared = prepare_data(folder_config(root, tmp_path, "dataset.streaming=true", "dataset.cache=none",
                                              "dataset.test_size=0.25", "dataset.val_size=0.2", *overrides))
        return [{path.split("/")[-2] + path.split("/")[-1].split("_")[0] for path in _paths(prepared, part)}
                for part in ("train", "val", "test")]

    train, val, test = groups_per_part("dataset.group_by=^burst\\d+")
    assert not (train & val or train & test or val & test)
    assert len(train | val | test) == 16 and len(test) == 4  # a quarter of the groups, whole
    train, val, test = groups_per_part()  # without: a random split separates shots of one burst
    assert train & test or train & val


def test_split_is_stratified_and_deterministic():
    labels = np.repeat(np.arange(3), 40)
    first = split_indices(labels, 0.25, 0.1, seed=7)
    again = split_indices(labels, 0.25, 0.1, seed=7)
    other = split_indices(labels, 0.25, 0.1, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])
    train, val, test = first
    assert len(np.intersect1d(train, test)) == 0 and len(np.intersect1d(val, test)) == 0
    assert len(train) + len(val) + len(test) == 120
    assert np.bincount(labels[test]).tolist() == [10, 10, 10]


def test_official_split_uses_the_published_test_set(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", train=50, test=20)
    data = load_mnist(str(tmp_path))
    train, val, test = split_indices(data.labels, "official", 0.2, seed=0, official_test=data.official_test)
    assert len(test) == 20 and data.official_test[test].all()
    assert len(train) == 40 and not data.official_test[val].any()
    with pytest.raises(ConfigError, match="dataset.test_size: 'official' needs a dataset with an official"):
        split_indices(np.arange(10) % 2, "official", 0.2, seed=0, official_test=None)
