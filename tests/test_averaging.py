"""Weight averaging (optimizer.ema): the warm-up as TensorFlow's moving average, and the average saved with
BatchNormalization statistics computed for it."""
import numpy as np
import pytest
from conftest import run_config


def test_the_average_warms_up_as_tensorflows_moving_average(keras):
    """One weight stepping by +1 per step: the average after each step, by the formula written out here."""
    from dlcv.training.averaging import warm_up

    weight = keras.Variable(np.zeros(1, np.float32))
    optimizer = warm_up(keras.optimizers.SGD(1.0, use_ema=True, ema_momentum=0.9998))
    optimizer.build([weight])
    average, steps = 0.0, 30
    for step in range(steps):
        optimizer.apply([np.full(1, -1.0, np.float32)], [weight])
        momentum = 0.0 if step == 0 else min(0.9998, (1 + step) / (10 + step))
        average = momentum * average + (1 - momentum) * (step + 1)
    optimizer.finalize_variable_values([weight])
    assert float(weight.numpy()[0]) == pytest.approx(average, rel=1e-5)
    assert average > steps * 0.6   # Keras's momentum alone (0.9998 from the first step) would leave ~1.06


def test_weight_averaging_is_what_is_saved_with_batch_norm_statistics_for_it(keras, tmp_path):
    """A run of 76 steps with ema 0.999 (1 / (1 - ema) = 1000 steps): the saved weights are the average,
    which the warm-up keeps near the trained weights, with BatchNormalization statistics of the average."""
    from dlcv.inputs import model_input
    from dlcv.training.engine import train

    initial = {}

    class Initial(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            initial.setdefault("weights", [w.numpy().copy() for w in self.model.trainable_variables])

    config = run_config(tmp_path, "epochs=2", "model.name=resnet", "model.params={depth: 20, width: 0.25}",
                    "optimizer={name: sgd, learning_rate: 0.1, ema: 0.999}", "callbacks.checkpoint=none")
    result = train(config, callbacks=[Initial()], verbose=0)
    saved = keras.models.load_model(result.run_dir / "model.keras")
    raw = keras.models.load_model(next((result.run_dir / "checkpoints").glob("last-epoch*.keras")))
    pairs = list(zip(saved.trainable_variables, raw.trainable_variables, initial["weights"]))
    to_raw = sum(float(np.sum((s.numpy() - r.numpy()) ** 2)) for s, r, _ in pairs)
    to_initial = sum(float(np.sum((s.numpy() - i) ** 2)) for s, _, i in pairs)
    assert 0 < to_raw < to_initial / 4          # the average: not the raw weights, nor mostly the initial ones

    train_x = model_input(result.prepared.splits.train.images)
    for model in (saved, raw):
        first_bn = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
        features = keras.Model(model.input, first_bn.input).predict(train_x, verbose=0)
        mean = features.reshape(-1, features.shape[-1]).mean(axis=0)
        spread = features.reshape(-1, features.shape[-1]).std(axis=0) + 1e-3
        gap = np.abs(first_bn.moving_mean.numpy() - mean) / spread
        if model is saved:
            assert gap.max() < 0.1, gap   # statistics of the averaged weights, on the training images
        else:
            assert gap.max() > 0.1, gap   # the raw run's moving statistics lag its weights (momentum 0.99)
