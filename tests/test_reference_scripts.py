"""The from-scratch chapters' scripts, run as a user runs them (short schedules)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPTS = ["gradient_descent", "sgd", "perceptron", "nn_xor", "nn_mnist", "linear_example", "convolutions", "knn",
           "regularization"]


def run_script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_explains_output_and_seed(name):
    result = run_script(name, "--help")
    assert result.returncode == 0
    assert "--output" in result.stdout and "--seed" in result.stdout


@pytest.mark.parametrize("name, extra", [("gradient_descent", []), ("sgd", ["--batch-size", "16"]),
                                         ("sgd", ["--book"]), ("gradient_descent", ["--optimizer", "nesterov"])])
def test_blobs_scripts_print_every_5_epochs_and_write_plots(tmp_path, name, extra):
    result = run_script(name, "--epochs", "10", "--output", str(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    logged = [line for line in result.stdout.splitlines() if line.startswith("[INFO] epoch=")]
    assert [line.split(",")[0] for line in logged] == ["[INFO] epoch=1", "[INFO] epoch=5", "[INFO] epoch=10"]
    assert "weighted avg" in result.stdout
    for png in ("data.png", "loss.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["final_loss"] < results["first_loss"] and results["test_accuracy"] > 0.9


def test_compare_overlays_three_optimizers(tmp_path):
    result = run_script("sgd", "--compare", "--epochs", "5", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in ("gd", "momentum", "nesterov"))
    assert (tmp_path / "optimizers.png").is_file()


@pytest.mark.parametrize("dataset, accuracy", [("or", "1.00"), ("and", "1.00"), ("xor", "0.")])
def test_perceptron_script(dataset, accuracy):
    result = run_script("perceptron", "--dataset", dataset)
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1].startswith(f"[INFO] accuracy {accuracy}")


def test_nn_xor_script(tmp_path):
    result = run_script("nn_xor", "--epochs", "4000", "--seed", "1", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["2-2-1"]["accuracy"] == 1.0 and results["2-1"]["accuracy"] < 1.0


def test_nn_mnist_script_both_modes(tmp_path):
    for mode in ([], ["--per-sample"]):
        result = run_script("nn_mnist", "--epochs", "3", "--output", str(tmp_path), *mode)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "loss.png").is_file()
        assert "per-sample" in result.stdout if mode else "mini-batches of 128" in result.stdout


def test_linear_example_and_convolutions_write_images(tmp_path):
    assert run_script("linear_example", "--output", str(tmp_path)).returncode == 0
    assert (tmp_path / "linear_example.png").read_bytes()[:4] == b"\x89PNG"
    result = run_script("convolutions", "--output", str(tmp_path))
    assert result.returncode == 0 and "max |convolve - filter2D| = 0" in result.stdout
    assert (tmp_path / "convolutions.png").is_file()


@pytest.mark.parametrize("name, args, message", [
    ("sgd", ["--alpha", "-0.1"], "learning_rate must be > 0"),
    ("gradient_descent", ["--epochs", "0"], "epochs must be an integer >= 1"),
    ("nn_mnist", ["--batch-size", "0"], "batch_size must be an integer >= 1"),
    ("perceptron", ["--alpha", "0"], "alpha must be > 0"),
    ("linear_example", ["--image", "/no/such.png"], "--image: file not found"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, name, args, message):
    result = run_script(name, "--output", str(tmp_path), *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["knn", "regularization"])
def test_classic_baselines_on_a_synthetic_folder(tmp_path, name):
    from data_files import write_class_folders

    root = write_class_folders(tmp_path / "animals", per_class=12)
    result = run_script(name, "--dataset", str(root), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    if name == "knn":
        assert "panda" in result.stdout and "weighted avg" in result.stdout
        report = json.loads((tmp_path / "out" / "knn.json").read_text())
        assert report["accuracy"] > 0.8  # one colour per class: trivially separable
    else:
        accuracies = json.loads((tmp_path / "out" / "regularization.json").read_text())
        assert set(accuracies) == {"None", "l1", "l2"}
        assert "'l2' penalty accuracy" in result.stdout


def test_classic_baseline_on_a_missing_folder_is_one_line(tmp_path):
    result = run_script("knn", "--dataset", str(tmp_path / "nope"), "--output", str(tmp_path))
    assert result.returncode == 2 and "dataset folder not found" in result.stderr
    assert result.stderr.strip().count("\n") == 0
