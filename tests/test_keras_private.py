"""The private Keras APIs dlcv uses (dlcv/training/keras_private.py) still exist as used: after a Keras
upgrade this fails naming the one that changed, before anything subtler breaks."""
import inspect

import pytest

pytestmark = pytest.mark.usefixtures("keras")


@pytest.mark.parametrize("owner, name, parameters", [
    ("keras.Model", "_symbolic_build", ["self", "iterator", "data_batch"]),
    ("keras.callbacks.ModelCheckpoint", "_save_model", ["self", "epoch", "batch", "logs"]),
    ("keras.callbacks.ModelCheckpoint", "_get_file_path", ["self", "epoch", "batch", "logs"]),
    ("keras.callbacks.ModelCheckpoint", "_should_save_model", ["self", "epoch", "batch", "logs", "filepath"]),
    ("keras.optimizers.Optimizer", "_update_model_variables_moving_average", ["self", "trainable_variables"]),
])
def test_each_private_keras_api_dlcv_uses_is_still_there(keras, owner, name, parameters):
    cls = {"keras.Model": keras.Model, "keras.callbacks.ModelCheckpoint": keras.callbacks.ModelCheckpoint,
           "keras.optimizers.Optimizer": keras.optimizers.Optimizer}[owner]
    method = getattr(cls, name, None)
    assert method is not None, f"Keras {keras.__version__} has no {owner}.{name}: update dlcv/training/keras_private.py"
    found = list(inspect.signature(method).parameters)
    assert found == parameters, f"{owner}.{name}{found} changed in Keras {keras.__version__}: update keras_private.py"


def test_the_save_hook_is_what_model_checkpoint_calls_at_epoch_end(keras):
    from dlcv.training.keras_private import SAVE_HOOK

    assert f"self.{SAVE_HOOK}(" in inspect.getsource(keras.callbacks.ModelCheckpoint.on_epoch_end)


def test_build_compiled_builds_the_metrics_without_a_step(keras):
    import numpy as np

    from dlcv.training.keras_private import build_compiled

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="not yet been built"):
        model.get_metrics_result()
    build_compiled(model, (np.zeros((1, 4), np.float32), np.zeros(1, np.int64)))
    assert "accuracy" in model.get_metrics_result()
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))  # no step was taken


def test_the_weight_average_is_where_dlcv_reads_it(keras):
    """(That Keras still calls the hook dlcv replaces is tests/test_averaging.py's warm-up test.)"""
    import numpy as np

    from dlcv.training.keras_private import averaged_variables

    weight = keras.Variable(np.ones(2, np.float32))
    optimizer = keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5)
    optimizer.build([weight])
    optimizer.apply([np.ones(2, np.float32)], [weight])   # weight 1 -> 0.5; the first average is the weight
    np.testing.assert_allclose(averaged_variables(optimizer)[0].numpy(), [0.5, 0.5])


def test_the_variables_a_stateless_scope_leaves_waiting_are_where_dlcv_looks(keras):
    from dlcv.training.keras_private import forget_waiting_variables, start_waiting_variables, waiting_variables

    before = waiting_variables()
    with keras.StatelessScope(initialize_variables=False):
        kept, dropped = keras.Variable(keras.initializers.Ones(), shape=(2,)), keras.Variable(
            keras.initializers.Ones(), shape=(3,))
    assert waiting_variables() == before + 2
    forget_waiting_variables(before + 1)
    start_waiting_variables()
    assert waiting_variables() == 0 and keras.ops.convert_to_numpy(kept.value).tolist() == [1.0, 1.0]
    assert dropped._value is None  # never started
