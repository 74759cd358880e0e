"""Every recipe of the book, for one epoch on a tiny synthetic stand-in of its dataset."""
import json
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from data_files import write_cifar, write_class_folders, write_mnist_npz

CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p.stem != "quickstart")
RECIPE_SCRIPTS = ["keras_mnist", "keras_cifar10", "shallownet_animals", "shallownet_cifar10", "shallownet_train",
                  "lenet_mnist", "minivggnet_cifar10", "cifar10_lr_decay", "cifar10_monitor",
                  "cifar10_checkpoint_improvements", "cifar10_checkpoint_best"]


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Small files in the real formats: mnist.npz, the CIFAR-10 archive, an Animals-style folder."""
    root = tmp_path_factory.mktemp("stand_ins")
    write_mnist_npz(root / "mnist.npz", train=160, test=40)
    write_cifar(root, archive=True, per_batch=24)
    write_class_folders(root / "animals", per_class=14)
    return {"mnist": root / "mnist.npz", "cifar10": root / "cifar-10-python.tar.gz", "folder": root / "animals"}


@pytest.mark.parametrize("config_path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_recipe_config_trains_for_an_epoch(keras, tmp_path, stand_ins, config_path):
    from dlcv.config import load_config
    from dlcv.training import train

    raw = yaml.safe_load(config_path.read_text())
    assert raw.get("book"), "every recipe states the book's published result (or that none is stated)"
    dataset = raw["dataset"]["name"]
    overrides = ["epochs=1", f"output_dir={tmp_path}", f"dataset.path={stand_ins[dataset]}"]
    if raw.get("callbacks", {}).get("checkpoint_dir"):
        overrides.append(f"callbacks.checkpoint_dir={tmp_path / 'weights'}")
    result = train(load_config(config_path, overrides), verbose=0)
    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["book"] == raw["book"] and results["epochs_run"] == 1
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert (result.run_dir / "model.h5").is_file()


def run_script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


CASE_STUDY_SCRIPTS = ["imagenet_pretrained", "captcha/generate_captchas", "captcha/annotate", "captcha/train_model",
                      "captcha/test_model", "smiles/train_model", "smiles/detect_smile"]


@pytest.mark.parametrize("name", RECIPE_SCRIPTS + CASE_STUDY_SCRIPTS + ["shallownet_load", "visualize_architecture"])
def test_recipe_scripts_explain_their_flags(name):
    result = run_script(name, "--help")
    assert result.returncode == 0 and "--seed" in result.stdout


def test_keras_mnist_script_writes_the_plot_where_the_book_says(tmp_path, stand_ins):
    result = run_script("keras_mnist", "--output", str(tmp_path / "plot.png"), "--set", "epochs=1",
                        "--set", f"dataset.path={stand_ins['mnist']}", "--set", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert "book: accuracy 0.92, val_accuracy 0.916, val_loss 0.2792" in result.stdout


def test_shallownet_train_then_load(tmp_path, stand_ins):
    model = tmp_path / "shallownet.h5"
    trained = run_script("shallownet_train", "--dataset", str(stand_ins["folder"]), "--model", str(model),
                         "--set", "epochs=2", "--set", f"output_dir={tmp_path}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert model.is_file()
    loaded = run_script("shallownet_load", "--dataset", str(stand_ins["folder"]), "--model", str(model),
                        "--output", str(tmp_path / "labelled"))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    written = sorted((tmp_path / "labelled").glob("*.png"))
    assert len(written) == 10
    assert all(p.stem.split("_", 1)[1] in ("cats", "dogs", "panda") for p in written)


def test_checkpoint_improvements_script_writes_into_weights(tmp_path, stand_ins):
    result = run_script("cifar10_checkpoint_improvements", "--weights", str(tmp_path / "weights"),
                        "--set", "epochs=2", "--set", f"dataset.path={stand_ins['cifar10']}",
                        "--set", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert list((tmp_path / "weights").glob("weights-00*-*.h5"))
