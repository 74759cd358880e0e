"""Test-time augmentation (dlcv.tta): ``dlcv evaluate --tta flip`` and a loaded run's ``with_tta``."""
import shutil

import numpy as np
import pytest
from conftest import at_temperature


def test_flip_tta_is_the_mean_of_the_image_and_its_mirror(keras, digits_run, tmp_path):
    """``dlcv evaluate --tta flip`` and a loaded run's ``with_tta``: the mean of the image's and its mirror's."""
    from dlcv.app import evaluate
    from dlcv.inference import load_classifier
    from dlcv.inputs import model_input

    result = digits_run
    run_dir = shutil.copytree(result.run_dir, tmp_path / "run")  # dlcv evaluate writes evaluation.json there
    test = result.prepared.splits.test
    model = result.model
    plain = model.predict(model_input(test.images), verbose=0)
    mirrored = model.predict(model_input(test.images[:, :, ::-1].copy()), verbose=0)
    assert not np.allclose(plain, mirrored, atol=1e-3)
    expected = at_temperature((plain + mirrored) / 2, run_dir)  # the mean, then the run's temperature
    evaluation = evaluate(str(run_dir / "model.keras"), tta="flip")
    assert evaluation.accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == test.labels))
    run = load_classifier(run_dir / "model.keras").with_tta("flip")
    np.testing.assert_allclose(run.predict_arrays(test.images[:8]), expected[:8], rtol=1e-4, atol=1e-6)
