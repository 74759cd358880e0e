"""Every recipe of the book, for one epoch on a tiny synthetic stand-in of its dataset, and the recipe
scripts' own flags."""
import json
import logging

import pytest
import yaml
from conftest import ROOT
from data_files import write_cifar, write_class_folders, write_mnist_npz

CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p.stem != "quickstart")
INPUTS = {"mnist": (28, 28, 1, 10), "cifar10": (32, 32, 3, 10), "digits": (8, 8, 1, 10), "folder": None,
          "labels": None}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Small files in the real formats: mnist.npz, the CIFAR-10 archive, an Animals-style folder, a
    multi-label table (dlcv data sample --multilabel's)."""
    from dlcv.data.sample import write_mosaics

    root = tmp_path_factory.mktemp("stand_ins")
    write_mnist_npz(root / "mnist.npz", train=160, test=40)
    write_cifar(root, archive=True, per_batch=24)
    write_class_folders(root / "animals", per_class=14)
    write_mosaics(root / "mosaics", count=60)
    return {"mnist": root / "mnist.npz", "cifar10": root / "cifar-10-python.tar.gz", "folder": root / "animals",
            "labels": root / "mosaics" / "labels.csv"}


@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_recipe_config_builds_what_it_says_and_trains_an_epoch(keras, tmp_path, stand_ins, config_path, caplog):
    from dlcv.config import load_config
    from dlcv.training.engine import train

    raw = yaml.safe_load(config_path.read_text())
    assert raw.get("book"), "every recipe states the book's published result (or that none is stated)"
    dataset = raw["dataset"]["name"]
    overrides = ["epochs=1", f"output_dir={tmp_path}"]
    if dataset != "digits":  # scikit-learn's, installed: no stand-in
        overrides.append(f"dataset.path={stand_ins[dataset]}")
    if raw.get("callbacks", {}).get("checkpoint_dir"):
        overrides.append(f"callbacks.checkpoint_dir={tmp_path / 'weights'}")
    if raw["model"].get("params", {}).get("weights") == "imagenet":  # no download: random, at the least size
        raw["preprocessing"].update(width=32, height=32)
        overrides += ["model.params.weights=none", "preprocessing.width=32", "preprocessing.height=32"]
    if raw.get("fine_tune"):
        overrides.append("fine_tune=null")  # validated as written; the two phases are tests/test_transfer.py's
    config = load_config(config_path, overrides)
    with caplog.at_level(logging.WARNING, logger="dlcv"):
        result = train(config, verbose=0)
    lags = "BatchNormalization layers learn the data's statistics too slowly for a run of" in caplog.text
    if raw["model"]["name"] == "minivggnet" and raw["model"].get("params", {}).get("batch_norm", True):
        assert lags  # Keras's momentum 0.99 (about 100 steps) in a one-epoch run
    elif raw["model"]["name"] in ("linear", "mlp", "shallownet", "lenet", "minivggnet"):  # no BatchNormalization
        assert not lags
    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["book"] == raw["book"] and results["epochs_run"] == 1
    if raw.get("callbacks", {}).get("checkpoint_dir"):  # the book's weights/ folder, listed beside the run's
        assert result.artefacts["model_checkpoints"] == tmp_path / "weights"
    else:  # in the run's checkpoints/, listed once
        assert "model_checkpoints" not in result.artefacts and result.artefacts["checkpoints"].is_dir()
    saved = keras.models.load_model(result.run_dir / "model.h5")
    pre = result.prepared.config.preprocessing
    expected = INPUTS[dataset] or (raw["preprocessing"]["width"], raw["preprocessing"]["height"],
                                   raw["preprocessing"].get("channels") or 3, 3)
    assert (pre.width, pre.height, pre.channels, saved.output_shape[-1]) == expected
    assert saved.input_shape[1:] == (pre.height, pre.width, pre.channels)
    optimizer = saved.optimizer.get_config()
    wanted = raw.get("optimizer", {})
    assert type(saved.optimizer).__name__ == {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[wanted.get("name", "sgd")]
    for key in ("momentum", "nesterov", "beta_1"):
        if key in wanted:
            assert optimizer[key] == pytest.approx(wanted[key]), key


def test_keras_mnist_script_writes_the_plot_where_the_book_says(script, tmp_path, stand_ins):
    result = script("keras_mnist", "--output", tmp_path / "plot.png", "--set", "epochs=1",
                    "--set", f"dataset.path={stand_ins['mnist']}", "--set", f"output_dir={tmp_path}")
    assert result.code == 0, result.err
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert "book: accuracy 0.92, val_accuracy 0.916, val_loss 0.2792" in result.out


def test_shallownet_train_then_load(script, tmp_path, stand_ins):
    model = tmp_path / "shallownet.h5"
    trained = script("shallownet_train", "--dataset", stand_ins["folder"], "--model", model,
                     "--set", "epochs=2", "--set", f"output_dir={tmp_path}")
    assert trained.code == 0, trained.err
    assert model.is_file()
    loaded = script("shallownet_load", "--dataset", stand_ins["folder"], "--model", model,
                    "--output", tmp_path / "labelled")
    assert loaded.code == 0, loaded.err
    written = sorted((tmp_path / "labelled").glob("*.png"))
    assert len(written) == 10
    assert all(p.stem.split("_", 1)[1] in ("cats", "dogs", "panda") for p in written)


def test_a_bad_model_name_is_refused_before_training(script, tmp_path, stand_ins):
    result = script("shallownet_train", "--dataset", stand_ins["folder"], "--model", tmp_path / "model.pt")
    assert result.code == 2 and "--model" in result.err and "expected a .h5 or .keras file name" in result.err
    assert "Epoch" not in result.out


def test_checkpoint_improvements_script_writes_into_weights(script, tmp_path, stand_ins):
    result = script("cifar10_checkpoint_improvements", "--weights", tmp_path / "weights",
                    "--set", "epochs=2", "--set", f"dataset.path={stand_ins['cifar10']}",
                    "--set", f"output_dir={tmp_path}")
    assert result.code == 0, result.err
    assert list((tmp_path / "weights").glob("weights-00*-*.h5"))
