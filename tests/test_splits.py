"""Splits the user controls: pre-split folders used as given, groups kept on one side, and `dlcv data
check` finding duplicates that would leak between training and test."""
import json
import shutil

import cv2
import numpy as np
import pytest
from data_files import write_class_folders, write_photo_folders

from dlcv.config import load_config
from dlcv.data import prepare_data


def folder_config(root, tmp_path, *overrides):
    return load_config(overrides=["dataset.name=folder", f"dataset.path={root}", "preprocessing.width=8",
                                  "preprocessing.height=8", f"output_dir={tmp_path / 'out'}", "name=run",
                                  "model.name=linear", "model.params={}", "epochs=2", *overrides])


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
