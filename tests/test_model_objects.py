"""dlcv's registered Keras objects: the loss and accuracy of smoothed or mixed labels, and the names older
run folders' files give (a saved model finds each by its registered name, whatever module holds it)."""
import json

import numpy as np
import pytest
from conftest import run_config


def test_every_object_keeps_the_name_saved_files_give_it(keras):
    from dlcv import model_objects

    for name in ("CrossEntropy", "Accuracy", "MeanAveragePrecision", "StepDecay", "BackboneInput"):
        assert keras.saving.get_registered_object(f"dlcv>{name}") is getattr(model_objects, name)


def test_the_cross_entropy_takes_integer_and_soft_labels_alike(keras):
    from dlcv.model_objects import CrossEntropy

    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    integer = float(CrossEntropy()(np.array([0, 2]), p))
    one_hot = float(CrossEntropy()(np.array([[1, 0, 0], [0, 0, 1]], np.float32), p))
    assert integer == pytest.approx(one_hot) == pytest.approx(-(np.log(0.7) + np.log(0.8)) / 2, rel=1e-5)
    mixed = float(CrossEntropy()(np.array([[0.5, 0.5, 0.0]], np.float32), p[:1]))
    assert mixed == pytest.approx(-(0.5 * np.log(0.7) + 0.5 * np.log(0.2)), rel=1e-5)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        CrossEntropy(1.0)


def test_the_accuracy_counts_a_mixed_image_as_its_main_class(keras):
    from dlcv.model_objects import Accuracy

    metric = Accuracy()
    p = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]], np.float32)
    metric.update_state(np.array([[0.7, 0.3], [0.9, 0.1], [0.0, 1.0]], np.float32), p)
    assert float(metric.result()) == pytest.approx(1 / 3)
    assert metric.name == "accuracy"


def test_the_mean_average_precision_is_scikit_learns_over_the_classes_with_a_positive(keras):
    from sklearn.metrics import average_precision_score

    from dlcv.model_objects import MeanAveragePrecision

    rng = np.random.default_rng(0)
    labels = (rng.random((300, 3)) < [0.3, 0.5, 0.0]).astype(np.float32)  # no image of the third class
    scores = np.clip(0.3 * labels + 0.7 * rng.random((300, 3)), 0, 1).astype(np.float32)
    metric = MeanAveragePrecision()
    for start in range(0, 300, 64):  # batch by batch, as an epoch sees them
        metric.update_state(labels[start:start + 64], scores[start:start + 64])
    expected = np.mean([average_precision_score(labels[:, k], scores[:, k]) for k in (0, 1)])
    assert float(metric.result()) == pytest.approx(expected, abs=0.01) and expected < 0.9
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(again, MeanAveragePrecision) and again.name == "map" and again.num_thresholds == 200


def test_plain_labels_compile_keras_own_loss_and_metric():
    from dlcv.model_objects import CrossEntropy, loss_and_metrics

    assert loss_and_metrics() == ("sparse_categorical_crossentropy", ["accuracy"])
    loss, metrics = loss_and_metrics(label_smoothing=0.1)
    assert isinstance(loss, CrossEntropy) and loss.label_smoothing == 0.1 and metrics[0].name == "accuracy"


def test_label_smoothing_changes_the_loss_of_a_known_batch_by_the_formula(keras):
    from dlcv.model_objects import loss_and_metrics

    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    labels = np.array([0, 1])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    losses = {}
    for e in (0.0, 0.2):
        model.compile(loss=loss_and_metrics(e)[0], metrics=loss_and_metrics(e)[1])
        losses[e] = model.evaluate(p, labels, verbose=0)[0]
    target = np.eye(3)[labels] * 0.8 + 0.2 / 3                           # (1 - e) y + e / K
    assert losses[0.2] == pytest.approx(np.mean(-(target * np.log(p)).sum(axis=1)), rel=1e-5)
    assert losses[0.0] == pytest.approx(np.mean(-np.log([0.7, 0.3])), rel=1e-5)
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75]], np.float32)    # mixed images' labels
    model.compile(loss=loss_and_metrics(0.0, soft_labels=True)[0])
    expected = np.mean(-(soft * np.log(p)).sum(axis=1))
    assert model.evaluate(p, soft, verbose=0, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


def test_a_focal_loss_run_trains_and_reports_balanced_accuracy_and_macro_f1(keras, tmp_path):
    """loss: focal trains (Keras's focal cross-entropy); results.json's balanced accuracy and macro F1 are
    scikit-learn's on the saved model's own test predictions."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    result = train(run_config(tmp_path, "loss=focal", "model.name=linear", "model.params={}",
                              "callbacks.checkpoint=none", "callbacks.monitor=false", epochs=5), verbose=0)
    assert result.test_accuracy > 0.8  # trained: ten classes, chance is 0.1
    assert type(result.model.loss).__name__ == "FocalCrossEntropy"
    results = json.loads((result.run_dir / "results.json").read_text())
    test = result.prepared.splits.test
    saved = keras.saving.load_model(result.run_dir / "model.keras")
    predicted = np.asarray(saved.predict(model_input(test.images), verbose=0)).argmax(axis=1)
    assert results["test_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(test.labels, predicted))
    assert results["test_macro_f1"] == pytest.approx(f1_score(test.labels, predicted, average="macro"))
