"""The book-named scripts, run in this process as a user runs them: every parser, the from-scratch
chapters' outcomes, and one-line errors for bad arguments (a bug keeps its traceback)."""
import json
import runpy

import pytest
from conftest import ROOT
from data_files import write_class_folders

SCRIPTS = sorted(str(p.relative_to(ROOT / "scripts").with_suffix("")) for p in (ROOT / "scripts").rglob("*.py"))


def test_every_script_explains_its_flags(capsys):
    """Each script's parser (built when the file loads; its __main__ block does not run here)."""
    assert len(SCRIPTS) >= 29
    for name in SCRIPTS:
        parser = runpy.run_path(str(ROOT / "scripts" / f"{name}.py"), run_name="loaded")["parser"]
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["--help"])
        shown = capsys.readouterr().out
        assert exited.value.code == 0 and "--seed" in shown, name
        assert len(parser.description) > 20 and "".join(parser.description.split()) in "".join(shown.split()), name


@pytest.mark.parametrize("name, extra", [("gradient_descent", []), ("sgd", ["--batch-size", "16"]),
                                         ("sgd", ["--book"]), ("gradient_descent", ["--optimizer", "nesterov"])])
def test_blobs_scripts_print_every_5_epochs_and_write_plots(script, tmp_path, name, extra):
    result = script(name, "--epochs", "10", "--output", tmp_path, *extra)
    assert result.code == 0, result.err
    logged = [line for line in result.out.splitlines() if line.startswith("[INFO] epoch=")]
    assert [line.split(",")[0] for line in logged] == ["[INFO] epoch=1", "[INFO] epoch=5", "[INFO] epoch=10"]
    assert "weighted avg" in result.out
    for png in ("data.png", "loss.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["final_loss"] < results["first_loss"] and results["test_accuracy"] > 0.9


def test_compare_overlays_three_optimizers(script, tmp_path):
    result = script("sgd", "--compare", "--epochs", "5", "--output", tmp_path)
    assert result.code == 0, result.err
    assert all(name in result.out for name in ("gd", "momentum", "nesterov"))
    assert (tmp_path / "optimizers.png").is_file()


@pytest.mark.parametrize("dataset, accuracy", [("or", "1.00"), ("and", "1.00"), ("xor", "0.")])
def test_perceptron_script(script, dataset, accuracy):
    result = script("perceptron", "--dataset", dataset)
    assert result.code == 0
    assert result.out.strip().splitlines()[-1].startswith(f"[INFO] accuracy {accuracy}")


def test_nn_xor_script(script, tmp_path):
    result = script("nn_xor", "--epochs", "4000", "--seed", "1", "--output", tmp_path)
    assert result.code == 0, result.err
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["2-2-1"]["accuracy"] == 1.0 and results["2-1"]["accuracy"] < 1.0


def test_nn_mnist_script_both_modes(script, tmp_path):
    for mode in ([], ["--per-sample"]):
        result = script("nn_mnist", "--epochs", "3", "--output", tmp_path, *mode)
        assert result.code == 0, result.err
        assert (tmp_path / "loss.png").is_file()
        assert "per-sample" in result.out if mode else "mini-batches of 128" in result.out


def test_linear_example_and_convolutions_write_images(script, tmp_path):
    assert script("linear_example", "--output", tmp_path).code == 0
    assert (tmp_path / "linear_example.png").read_bytes()[:4] == b"\x89PNG"
    result = script("convolutions", "--output", tmp_path)
    assert result.code == 0 and "max |convolve - filter2D| = 0" in result.out
    assert (tmp_path / "convolutions.png").is_file()


@pytest.mark.parametrize("name, args, message", [
    ("sgd", ["--alpha", "-0.1"], "learning_rate must be > 0"),
    ("gradient_descent", ["--epochs", "0"], "epochs must be an integer >= 1"),
    ("nn_mnist", ["--batch-size", "0"], "batch_size must be an integer >= 1"),
    ("perceptron", ["--alpha", "0"], "alpha must be > 0"),
    ("linear_example", ["--image", "/no/such.png"], "--image: file not found"),
    ("visualize_architecture", ["--shape", "28x28"], "--shape '28x28': expected width,height,depth"),
    ("knn", ["--dataset", "/no/such/folder"], "dataset folder not found"),
])
def test_bad_arguments_exit_2_with_one_line(script, tmp_path, name, args, message):
    result = script(name, "--output", tmp_path, *args)
    assert result.code == 2
    assert result.err.count("\n") == 1 and message in result.err
    assert result.err.startswith(f"{name}.py: error: ")


def test_a_bug_in_a_script_is_not_a_one_line_error(script, tmp_path, monkeypatch):
    """A ValueError that is not the reference path's ArgumentError is a bug: its traceback propagates."""
    from dlcv.recipes import numpy_chapters

    def broken(*args, **kwargs):
        raise ValueError("a bug, not a bad flag")

    monkeypatch.setattr(numpy_chapters, "perceptron_bitwise", broken)
    with pytest.raises(ValueError, match="a bug, not a bad flag"):
        script("perceptron", "--dataset", "or")


@pytest.mark.parametrize("name", ["knn", "regularization"])
def test_classic_baselines_on_a_synthetic_folder(script, tmp_path, name):
    root = write_class_folders(tmp_path / "animals", per_class=12)
    result = script(name, "--dataset", root, "--output", tmp_path / "out")
    assert result.code == 0, result.err
    if name == "knn":
        assert "panda" in result.out and "weighted avg" in result.out
        report = json.loads((tmp_path / "out" / "knn.json").read_text())
        assert report["accuracy"] > 0.8  # one colour per class: trivially separable
    else:
        accuracies = json.loads((tmp_path / "out" / "regularization.json").read_text())
        assert set(accuracies) == {"None", "l1", "l2"}
        assert "'l2' penalty accuracy" in result.out
