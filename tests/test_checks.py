"""Validate once, early: everything that can be checked without the data is refused in one line, exit 2,
before Keras starts and before any dataset loader runs."""
import dataclasses
import importlib.util

import pytest
from data_files import write_class_folders

from dlcv import app
from dlcv.data import DATASETS


@pytest.fixture
def no_data_no_keras(monkeypatch):
    """Every dataset loader and the Keras start fail the test if they are reached."""
    def must_not_load(dataset, preprocessing):
        raise AssertionError(f"dataset {dataset.name!r} was loaded before the config was checked")

    def must_not_start(*args, **kwargs):
        raise AssertionError("Keras was started before the config was checked")

    for name, spec in list(DATASETS.items()):
        monkeypatch.setitem(DATASETS, name, dataclasses.replace(spec, load=must_not_load))
    monkeypatch.setattr(app, "start_keras", must_not_start)


SMALL = ["--set", "preprocessing.width=32", "--set", "preprocessing.height=32"]
CASES = [
    (["--set", "dataset.name=folder"], "dataset.path: required for dataset 'folder'"),
    (["--set", "dataset.name=folder", "--set", "dataset.path={tmp}"],
     "preprocessing.width: required for dataset 'folder' (photos differ in size)"),
    (["--set", "dataset.name=hdf5"], "dataset.path: required for dataset 'hdf5'"),
    (["--set", "dataset.test_size=official"], "dataset.test_size: 'digits' has no official test split"),
    (["--set", "dataset.name=imagenet"], "dataset.name: unknown dataset 'imagenet'; expected one of: cifar10, "
                                         "digits, folder, hdf5, labels, mnist"),
    (["--set", "dataset.path=/no/such/folder"], "dataset.path: path does not exist: '/no/such/folder'"),
    (["--set", "model.name=resnet9000"],
     "model.name: unknown model 'resnet9000' (did you mean 'resnet50'?); expected one of: convnext_tiny"),
    (["--set", "model.params.depth=3"], "model.params.depth: unknown parameter for model 'mlp'"),
    (["--set", "model.params.hidden=[64, 0]"], "model.params.hidden.1: input should be greater than or equal to 1"),
    (["--set", "model.name=minivggnet", "--set", "model.params={batch_norm: 'yes'}"],
     "model.params.batch_norm: input should be a valid boolean for model 'minivggnet', got 'yes'"),
    (["--set", "distribution=mirrored", "--backend", "jax"],
     "distribution: mirrored runs on the tensorflow backend, not jax; set backend: tensorflow"),
    (["--set", "distribution=data_parallel", "--backend", "tensorflow"],
     "distribution: data_parallel runs on the jax backend, not tensorflow"),
    (["--set", "distribution=multi_worker", "--backend", "tensorflow"], "distribution: multi_worker needs TF_CONFIG"),
    (["--set", "route=fast", "--set", "distribution=mirrored", "--backend", "tensorflow"],
     "route: fast cannot be used here: distribution: mirrored trains through the strategy's own step"),
    (["--backend", "torch"], "backend: torch needs the torch package"),
    # pretrained backbones
    (["--set", "model.name=mobilenet_v3_small"], "preprocessing.width: mobilenet_v3_small needs the input size set"),
    (["--set", "model.name=mobilenet_v3_small", *SMALL, "--set", "preprocessing.width=16"],
     "preprocessing.width: mobilenet_v3_small takes images of at least 32x32, got 16x32"),
    (["--set", "model.name=mobilenet_v3_small", *SMALL, "--set", "model.params={trainable: 60}"],
     "model.params.trainable: 60 layers, but mobilenet_v3_small has 52 layers with weights"),
    (["--set", "model.name=vgg16", *SMALL, "--set", "model.params={weights: /no/such.h5}"],
     "model.params.weights: file not found: '/no/such.h5'"),
    (["--set", "model.name=mobilenet_v3_small", *SMALL, "--set", "fine_tune={epochs: 2, unfreeze: 99}"],
     "fine_tune.unfreeze: 99 layers, but mobilenet_v3_small has 52"),
    (["--set", "fine_tune={epochs: 2}"], "fine_tune: model 'mlp' has no pretrained backbone to unfreeze"),
    (["--set", "model.name=mobilenet_v2", *SMALL, "--set", "model.params={trainable: true}", "--set",
      "fine_tune={epochs: 2}"], "fine_tune: the backbone already trains in the first phase"),
    (["--set", "model.name=mobilenet_v2", *SMALL, "--set", "augmentation.horizontal_flip=true", "--set",
      "feature_cache=true"], "feature_cache: true computes a frozen backbone's features once, but augmentation"),
    (["--set", "model.name=convnext_tiny", *SMALL, "--set", "callbacks.checkpoint_format=h5"],
     "callbacks.checkpoint_format: h5 cannot hold convnext_tiny"),
    (["--set", "model.name=from_run", "--set", "model.params={run: {tmp}}"],
     "model.params.run: no finished dlcv run in"),
    (["--set", "model.name=from_run"], "model.params.run: from_run needs the run folder"),
    # the modern recipe's keys
    (["--set", "optimizer.ema=1"], "optimizer.ema: input should be less than 1"),
    (["--set", "label_smoothing=1"], "label_smoothing: input should be less than or equal to 0.5"),
    (["--set", "augmentation.rand_augment={factor: 1.5}"],
     "augmentation.rand_augment.factor: input should be less than or equal to 1"),
    (["--set", "preprocessing.width=8", "--set", "preprocessing.height=8", "--set", "augmentation.random_crop=9"],
     "augmentation.random_crop: padding 9 is larger than the 8x8 image; expected at most 8"),
    (["--set", "dataset.name=folder", "--set", "dataset.path={tmp}", *SMALL, "--set", "augmentation.cutmix=1.0"],
     "augmentation.cutmix: mixes images of different classes, but"),
    # imbalanced classes, label tables
    (["--set", "sampling=balanced", "--set", "class_weight=balanced"],
     "sampling: balanced already draws every class equally; class_weight: balanced would count"),
    (["--set", "sampling=balanced", "--set", "distribution=multi_worker", "--backend", "tensorflow"],
     "sampling: balanced: a multi-worker cluster shards each epoch"),
    (["--set", "dataset.images=photos"], "dataset.images: applies to dataset.name: labels alone, not to"),
    (["--set", "dataset.name=labels", "--set", "dataset.path={tmp}", *SMALL],
     "not a label table; expected a .csv file with a header row or a .jsonl file"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[c[1].split(":")[0] + f"-{i}" for i, c in enumerate(CASES)])
def test_train_refuses_before_data_and_keras(dlcv, no_data_no_keras, tmp_path, monkeypatch, args, message):
    if "torch" in args and importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    outcome = dlcv("train", "--set", f"output_dir={tmp_path}", *args)
    assert outcome.code == 2, outcome.err
    assert outcome.err.startswith("dlcv: error: ") and outcome.err.count("\n") == 1, outcome.err
    assert message in outcome.err
    assert outcome.out == ""  # not even the banner


def test_tensorboard_asked_for_but_not_installed(dlcv, no_data_no_keras, tmp_path, monkeypatch):
    from dlcv import checks

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(checks.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a))
    outcome = dlcv("train", "--set", "callbacks.tensorboard=true", "--set", f"output_dir={tmp_path}")
    assert outcome.code == 2 and "callbacks.tensorboard: needs the tensorboard package" in outcome.err


def test_a_duplicate_key_in_a_config_file(dlcv, no_data_no_keras, tmp_path):
    config = tmp_path / "twice.yaml"
    config.write_text("epochs: 2\nname: run\nepochs: 3\n")
    outcome = dlcv("train", str(config))
    assert outcome.code == 2
    assert outcome.err == f"dlcv: error: {config}: epochs: duplicate key at lines 1 and 3; expected each key once\n"


@pytest.mark.parametrize("command", ["lr", "evaluate"])
def test_other_commands_check_the_config_first_too(dlcv, no_data_no_keras, tmp_path, command):
    args = ["--model", str(tmp_path / "model.h5")] if command == "evaluate" else []
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  name: alexnet\n")
    outcome = dlcv(command, str(config), *args)
    assert outcome.code == 2 and "model.name: unknown model 'alexnet'" in outcome.err


def test_lr_counts_the_batches_without_decoding_an_image(dlcv, tmp_path, monkeypatch):
    from dlcv.data.loader import SimpleDatasetLoader

    root = write_class_folders(tmp_path / "animals", per_class=20)  # 60 files
    monkeypatch.setattr(SimpleDatasetLoader, "load_image",
                        lambda self, path: (_ for _ in ()).throw(AssertionError("an image was decoded")))
    outcome = dlcv("lr", "--set", "dataset.name=folder", "--set", f"dataset.path={root}",
                   "--set", "preprocessing.width=8", "--set", "batch_size=4", "--set", "epochs=2",
                   "--set", f"output_dir={tmp_path}", "--set", "schedule.name=step", "--set", "schedule.drop_every=1")
    assert outcome.code == 0, outcome.err
    # 60 images: 15 held out for testing, then 5 of the remaining 45 for validation -> 40 train, 10 batches
    assert "step schedule, 10 batches per epoch (40 training images in batches of 4)" in outcome.out
    rates = [float(line.split()[-1]) for line in outcome.out.splitlines() if line.startswith("epoch")]
    assert rates == pytest.approx([0.0125, 0.003125])  # 0.05 * 0.25 ** floor((1 + epoch) / 1)
