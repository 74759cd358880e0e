"""The quickstart end to end: artefacts, saved models that reload and predict identically, the CLI."""
import json

import numpy as np
import pytest
import yaml
from conftest import run_cli

from dlcv.inputs import model_input

ARTEFACTS = ["model.h5", "model.keras", "history.json", "training.png", "classification_report.txt",
             "classification_report.json", "class_names.json", "config.yaml", "results.json",
             "checkpoints/best.keras"]


def test_short_run_writes_every_artefact(digits_run):
    run_dir = digits_run.run_dir
    for name in ARTEFACTS:
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    assert not list(run_dir.rglob(".tmp-*")), "temporary files left behind"
    assert not (run_dir / ".lock").exists(), "the run folder's lock was not released"
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 5 and len(history["val_accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0]
    assert json.loads((run_dir / "class_names.json").read_text()) == [str(d) for d in range(10)]
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["preprocessing"] == {"width": 8, "height": 8, "channels": 1, "resize": "simple"}
    report = json.loads((run_dir / "classification_report.json").read_text())
    results = json.loads((run_dir / "results.json").read_text())
    assert report["accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-6)
    assert results["epochs_run"] == 5 and results["route"] == "fast"
    # the report's last line gives the loss results.json does: the network's own (a calibrated run's NLL at
    # its temperature is test_nll_calibrated, beside it)
    assert "test_nll_calibrated" in results and results["test_nll_calibrated"] != results["test_loss"]
    summary = (run_dir / "classification_report.txt").read_text().strip().splitlines()[-1]
    assert summary.endswith(f"loss {results['test_loss']:.4f}"), summary
    assert (run_dir / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_short_run_learns(digits_run):
    assert digits_run.test_accuracy > 0.85


@pytest.mark.parametrize("name", ["model.h5", "model.keras"])
def test_saved_models_reload_and_predict_like_the_trained_one(keras, digits_run, name):
    x = model_input(digits_run.prepared.splits.test.images[:64])
    reloaded = keras.models.load_model(digits_run.run_dir / name)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), digits_run.model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_the_best_checkpoint_is_the_epoch_with_the_lowest_val_loss(keras, digits_run):
    """Scored again on the validation split, best.keras has the history's lowest val_loss."""
    history = json.loads((digits_run.run_dir / "history.json").read_text())
    val = digits_run.prepared.splits.val
    best = keras.models.load_model(digits_run.run_dir / "checkpoints" / "best.keras")
    loss, _ = best.evaluate(model_input(val.images), val.labels, verbose=0)
    assert loss == pytest.approx(min(history["val_loss"]), abs=1e-4)


def test_same_seed_gives_the_same_split():
    from dlcv.config import load_config
    from dlcv.data import prepare_data

    first = prepare_data(load_config()).splits
    second = prepare_data(load_config()).splits
    other = prepare_data(load_config(overrides=["seed=7"])).splits
    np.testing.assert_array_equal(first.test.images, second.test.images)
    assert not np.array_equal(first.test.images, other.test.images)
    # stratified: every class is in every part
    for part in (first.train, first.val, first.test):
        assert set(part.labels.tolist()) == set(range(10))


@pytest.mark.slow
def test_quickstart_command_reaches_095(tmp_path):
    """The README's main job exactly as a user runs it (full 30-epoch schedule), in a real process."""
    result = run_cli("train", "--set", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("dlcv ") and "backend" in result.stdout.splitlines()[0]
    assert "Epoch 30/30" in result.stdout
    assert f"run written to {tmp_path}/quickstart/" in result.stdout
    results = json.loads((tmp_path / "quickstart" / "results.json").read_text())
    assert results["test_accuracy"] >= 0.95
    assert "cudart_stub" not in result.stderr and "absl::InitializeLog" not in result.stderr
