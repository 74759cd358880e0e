"""`dlcv predict` and `dlcv evaluate` on a saved run."""
import shutil

import cv2
import numpy as np
import pytest
from conftest import at_temperature

from dlcv.inputs import model_input


@pytest.fixture(scope="module")
def digit_pngs(digits_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs")
    test = digits_run.prepared.splits.test
    for i in range(8):
        cv2.imwrite(str(folder / f"digit{i}.png"), test.images[i])
    return folder


def _parse(stdout: str) -> dict[str, tuple[str, float]]:
    rows = [line.split("\t") for line in stdout.splitlines() if "\t" in line]
    return {path: (label, float(prob)) for path, label, prob in rows}


@pytest.mark.parametrize("name", ["model.h5", "model.keras"])
def test_predict_prints_the_saved_models_predictions(dlcv, digits_run, digit_pngs, name):
    result = dlcv("predict", "--model", digits_run.run_dir / name, digit_pngs)
    assert result.code == 0, result.err
    printed = _parse(result.out)
    assert len(printed) == 8
    raw = digits_run.model.predict(model_input(digits_run.prepared.splits.test.images[:8]), verbose=0)
    expected = at_temperature(raw, digits_run.run_dir)  # the run's calibration, applied by predict
    for i in range(8):
        label, probability = printed[str(digit_pngs / f"digit{i}.png")]
        assert label == str(expected[i].argmax())
        assert probability == pytest.approx(expected[i].max(), abs=1e-4)


def test_predicts_text_output_escapes_what_a_file_name_could_forge(dlcv, digits_run, digit_pngs, tmp_path):
    """A newline in a file name would start a line of its own ("fake.png<TAB>7<TAB>1.0000"), an escape
    code would colour the terminal: both written as escapes, one line per image."""
    forged = tmp_path / "x.png\nfake.png\t7\t1.0000\x1b[2J"
    forged.write_bytes(sorted(digit_pngs.iterdir())[0].read_bytes())
    result = dlcv("predict", "--model", digits_run.run_dir / "model.h5", forged)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 and "\x1b" not in result.out
    assert lines[0].startswith(str(tmp_path / "x.png\\nfake.png\\t7\\t1.0000\\x1b[2J") + "\t")
    assert len(lines[0].split("\t")) == 3


def test_predict_resizes_per_the_runs_preprocessing_and_skips_bad_files(dlcv, digits_run, tmp_path):
    image = digits_run.prepared.splits.test.images[0]
    big = cv2.resize(image, (64, 64), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))  # colour, 64x64
    (tmp_path / "notes.jpg").write_text("not an image")
    result = dlcv("predict", "--model", digits_run.run_dir / "model.h5", tmp_path)
    assert result.code == 1, result.err  # some files were not labelled
    assert str(tmp_path / "big.png") in _parse(result.out)
    assert "skipped 1 unreadable file(s)" in result.err and "notes.jpg" in result.err


def test_predict_takes_a_run_folder_as_explain_serve_and_export_do(dlcv, digits_run, digit_pngs):
    from_folder = dlcv("predict", "--model", digits_run.run_dir, digit_pngs, "--format", "csv")
    from_file = dlcv("predict", "--model", digits_run.run_dir / "model.keras", digit_pngs, "--format", "csv")
    assert from_folder.code == from_file.code == 0, from_folder.err
    assert from_folder.out == from_file.out and len(from_folder.out.splitlines()) == 1 + 8
    parent = dlcv("predict", "--model", digits_run.run_dir.parent, digit_pngs)  # the runs' parent: no model
    assert parent.code == 2 and parent.err.count("\n") == 1, parent.err
    assert (f"holds no model.keras or model.h5 (it holds the run(s) {str(digits_run.run_dir)!r}); expected a "
            "finished run folder" in parent.err)
    empty = dlcv("predict", "--model", digit_pngs, digit_pngs)  # a folder of images: no run in it either
    assert empty.code == 2 and "holds no model.keras or model.h5; expected a finished run folder" in empty.err


@pytest.mark.parametrize("model, image, fragment", [
    ("missing.h5", "digit0.png", "model file not found"),
    ("model.h5", "missing.png", "image path not found"),
    ("weights.txt", "digit0.png", "expected a .h5 or .keras file"),
])
def test_predict_errors_are_one_line_exit_2(dlcv, digits_run, digit_pngs, model, image, fragment):
    result = dlcv("predict", "--model", digits_run.run_dir / model, digit_pngs / image)
    assert result.code == 2
    assert fragment in result.err and result.err.count("\n") == 1


def test_predict_refuses_a_corrupt_model(dlcv, tmp_path, digit_pngs):
    corrupt = tmp_path / "model.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    result = dlcv("predict", "--model", corrupt, digit_pngs / "digit0.png")
    banner, error = result.err.splitlines()  # the banner goes to stderr: stdout is for predictions
    assert banner.startswith("dlcv ") and " | Keras " in banner
    assert result.code == 2 and error.startswith("dlcv: error: cannot load model")


@pytest.mark.parametrize("model", ["model.h5", "."])  # ".": the run folder itself
def test_evaluate_reproduces_the_runs_test_accuracy(dlcv, digits_run, model, tmp_path):
    run_dir = shutil.copytree(digits_run.run_dir, tmp_path / "run")  # evaluate writes evaluation.json into it
    result = dlcv("evaluate", "--model", run_dir / model)
    assert result.code == 0, result.err
    assert f"accuracy {digits_run.test_accuracy:.4f}, 95% interval " in result.out
    assert f"(Wilson, 450 images), loss {digits_run.evaluation.loss:.4f}" in result.out
    assert "weighted avg" in result.out and (run_dir / "evaluation.json").is_file()


def test_predict_refuses_an_image_of_the_wrong_size_for_a_bare_model(dlcv, digits_run, tmp_path):
    """A model file with no run beside it cannot know how to resize: one line, exit 2."""
    bare = tmp_path / "bare.h5"
    bare.write_bytes((digits_run.run_dir / "model.h5").read_bytes())
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((16, 16), np.uint8))
    result = dlcv("predict", "--model", bare, tmp_path / "big.png")
    assert result.code == 2
    warning, error = result.err.splitlines()[-2:]
    assert "labels are class indexes 0-9" in warning
    assert error.startswith("dlcv: error:") and "is 16x16x1 but the model expects 8x8x1" in error
