"""`dlcv predict` and `dlcv evaluate` on a saved run, as real subprocesses."""
import cv2
import numpy as np
import pytest

from conftest import run_cli


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
def test_predict_prints_the_saved_models_predictions(digits_run, digit_pngs, name):
    result = run_cli("predict", "--model", str(digits_run.run_dir / name), str(digit_pngs))
    assert result.returncode == 0, result.stderr
    printed = _parse(result.stdout)
    assert len(printed) == 8
    expected = digits_run.model.predict(digits_run.prepared.splits.test.images[:8] / 255.0, verbose=0)
    for i in range(8):
        label, probability = printed[str(digit_pngs / f"digit{i}.png")]
        assert label == str(expected[i].argmax())
        assert probability == pytest.approx(expected[i].max(), abs=1e-4)


def test_predict_resizes_per_the_runs_preprocessing_and_skips_bad_files(digits_run, tmp_path):
    image = digits_run.prepared.splits.test.images[0]
    big = cv2.resize(image, (64, 64), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "big.png"), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))  # colour, 64x64
    (tmp_path / "notes.jpg").write_text("not an image")
    result = run_cli("predict", "--model", str(digits_run.run_dir / "model.h5"), str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "big.png") in _parse(result.stdout)
    assert "skipped 1 unreadable file(s)" in result.stderr and "notes.jpg" in result.stderr


@pytest.mark.parametrize("model, image, fragment", [
    ("missing.h5", "digit0.png", "model file not found"),
    ("model.h5", "missing.png", "image path not found"),
    ("weights.txt", "digit0.png", "expected a .h5 or .keras file"),
])
def test_predict_errors_are_one_line_exit_2(digits_run, digit_pngs, tmp_path, model, image, fragment):
    result = run_cli("predict", "--model", str(digits_run.run_dir / model), str(digit_pngs / image))
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_predict_refuses_a_corrupt_model(tmp_path, digit_pngs):
    corrupt = tmp_path / "model.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    result = run_cli("predict", "--model", str(corrupt), str(digit_pngs / "digit0.png"))
    assert result.returncode == 2
    assert "cannot load model" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_reproduces_the_runs_test_accuracy(digits_run):
    result = run_cli("evaluate", "--model", str(digits_run.run_dir / "model.h5"))
    assert result.returncode == 0, result.stderr
    assert f"accuracy {digits_run.test_accuracy:.4f}" in result.stdout
    assert "weighted avg" in result.stdout


def test_predict_refuses_an_image_of_the_wrong_size_for_a_bare_model(digits_run, tmp_path, capsys):
    """A model file with no run beside it cannot know how to resize: one line, exit 2."""
    from dlcv import cli

    bare = tmp_path / "bare.h5"
    bare.write_bytes((digits_run.run_dir / "model.h5").read_bytes())
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((16, 16), np.uint8))
    code = cli.main(["predict", "--model", str(bare), str(tmp_path / "big.png")])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "is 16x16x1 but the model expects 8x8x1" in error
