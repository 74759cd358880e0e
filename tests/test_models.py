"""The book's networks: parameter counts, data formats, and save/load round trips."""
import numpy as np
import pytest

from dlcv.errors import ConfigError


@pytest.mark.parametrize("name, shape, classes, params, expected", [
    ("lenet", (28, 28, 1), 10, {}, 1_256_080),
    ("minivggnet", (32, 32, 3), 10, {}, 2_171_178),
    # without BN: γ, β, mean, var of each BN layer fewer
    ("minivggnet", (32, 32, 3), 10, {"batch_norm": False}, 2_171_178 - 4 * (32 + 32 + 64 + 64 + 512)),
    ("shallownet", (32, 32, 3), 3, {}, (3 * 3 * 3 * 32 + 32) + 32 * 32 * 32 * 3 + 3),
    ("mlp", (28, 28, 1), 10, {"hidden": [256, 128], "activation": "sigmoid"}, 235_146),
    ("linear", (32, 32, 3), 10, {}, 3072 * 10 + 10),
    # He et al.'s ResNet-20 for CIFAR-10 ("0.27M", Table 6), with 1x1 projection shortcuts: stem conv + BN,
    # 3 blocks of two 3x3 convs + BNs per stage, projection conv + BN into stages 2 and 3, the classifier
    ("resnet", (32, 32, 3), 10, {"depth": 20},
     (27 * 16 + 64) + 3 * (2 * 9 * 16 * 16 + 128)
     + (9 * 16 * 32 + 9 * 32 * 32 + 256 + 16 * 32 + 128) + 2 * (2 * 9 * 32 * 32 + 256)
     + (9 * 32 * 64 + 9 * 64 * 64 + 512 + 32 * 64 + 256) + 2 * (2 * 9 * 64 * 64 + 512) + 64 * 10 + 10),
])
def test_parameter_counts(keras, name, shape, classes, params, expected):
    from dlcv.models import build_model

    assert build_model(name, *shape, classes, **params).count_params() == expected


@pytest.mark.parametrize("name, params", [("shallownet", {}), ("lenet", {}), ("minivggnet", {}),
                                          ("resnet", {"depth": 20}), ("resnet", {"depth": 32, "preact": True}),
                                          ("fastnet", {"width": 0.5})])
def test_channels_first_builds_the_same_network(keras, name, params):
    from dlcv.models import build_model

    last = build_model(name, 32, 32, 3, 10, **params)
    keras.config.set_image_data_format("channels_first")
    try:
        first = build_model(name, 32, 32, 3, 10, **params)  # built, not run: TensorFlow's CPU convolutions are NHWC
    finally:
        keras.config.set_image_data_format("channels_last")
    assert first.input_shape == (None, 3, 32, 32) and last.input_shape == (None, 32, 32, 3)
    assert first.count_params() == last.count_params()
    if name != "shallownet" and name != "lenet":
        axes = {layer.axis for layer in first.layers if isinstance(layer, keras.layers.BatchNormalization)}
        assert axes == {1}


def test_minivggnet_rejects_a_non_boolean_batch_norm():
    from dlcv.errors import ConfigError
    from dlcv.models import check_params

    with pytest.raises(ConfigError, match="model.params.batch_norm: input should be a valid boolean"):
        check_params("minivggnet", {"batch_norm": "yes"})


@pytest.mark.parametrize("name, default", [("minivggnet", 0.99), ("resnet", 0.99), ("fastnet", 0.6)])
def test_the_networks_with_batch_norm_take_its_momentum(keras, name, default):
    from dlcv.models import build_model, check_params

    def momenta(**params):
        model = build_model(name, 16, 16, 3, 2, **params)
        return {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}

    assert momenta() == {default} and momenta(batch_norm_momentum=0.85) == {0.85}
    for bad in (0, 1, 1.5):
        with pytest.raises(ConfigError, match=f"model.params.batch_norm_momentum: input should be .* for model "
                                              f"'{name}', got {bad}"):
            check_params(name, {"batch_norm_momentum": bad})


def test_a_run_too_short_for_batch_norm_is_told_the_momentum_that_fits_it(keras, caplog):
    from dlcv.config import load_config
    from dlcv.models import build_model
    from dlcv.training.engine import _say_if_batch_norm_lags

    config = load_config(overrides=["model={name: minivggnet}", "epochs=15"])
    with caplog.at_level("WARNING", logger="dlcv"):  # the Animals sample's 7 steps an epoch, 105 in all
        _say_if_batch_norm_lags(build_model("minivggnet", 8, 8, 1, 3), config, 7)
        [said] = caplog.messages
        assert "still be 35% their 0/1 start" in said  # 0.99 ** 105 = 0.348
        assert said.endswith("more epochs or a smaller batch size give them time, or "
                             "model.params.batch_norm_momentum: 0.85 (about one epoch's memory)")  # 1 - 1/7 = 0.857
        caplog.clear()
        _say_if_batch_norm_lags(build_model("minivggnet", 8, 8, 1, 3, batch_norm_momentum=0.85), config, 7)
        assert not caplog.messages  # 0.85 ** 105: 4e-8
        one_epoch = load_config(overrides=["model={name: minivggnet}", "epochs=1"])
        _say_if_batch_norm_lags(build_model("minivggnet", 8, 8, 1, 3, batch_norm_momentum=0.85), one_epoch, 7)
        [said] = caplog.messages  # 0.85 ** 7 = 0.32, and 0.85 is already what it would suggest
        assert said.endswith("more epochs or a smaller batch size give them time") and "32%" in said


@pytest.mark.parametrize("name", ["lenet", "minivggnet"])  # minivggnet: BN statistics and dropout
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_save_and_load_predict_identically(keras, tmp_path, name, suffix):
    from dlcv.models import build_model
    from dlcv.training.schedules import step_decay

    model = build_model(name, 28, 28, 3, 4)
    model.compile(optimizer=keras.optimizers.SGD(step_decay(0.01, 0.5, 5, 10, 20), momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).random((8, 28, 28, 3)).astype("float32")
    model.fit(x, np.arange(8) % 4, epochs=1, verbose=0)
    model.save(tmp_path / f"m{suffix}")
    reloaded = keras.models.load_model(tmp_path / f"m{suffix}")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert "PiecewiseConstantDecay" in str(reloaded.optimizer.get_config()["learning_rate"])  # the schedule survives
    assert int(keras.ops.convert_to_numpy(reloaded.optimizer.iterations)) == 1  # and the optimizer state


def test_model_registry_builds_and_validates_params(keras):
    from dlcv.models import MODELS, build_model

    assert {"linear", "mlp", "shallownet", "lenet", "minivggnet"} <= set(MODELS)
    mnist = build_model("mlp", 28, 28, 1, 10, hidden=[256, 128], activation="sigmoid")
    assert mnist.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    with pytest.raises(ConfigError, match="model.params.depth_multiplier: unknown parameter"):
        build_model("mlp", 8, 8, 1, 10, depth_multiplier=2)
    with pytest.raises(ConfigError, match=r"model.params.hiden: unknown parameter for model 'mlp' \(did you mean "
                                          r"'hidden'\?\); expected one of: hidden, activation"):
        build_model("mlp", 8, 8, 1, 10, hiden=[2])
    with pytest.raises(ConfigError, match="model.name: unknown model 'resnet9000'"):
        build_model("resnet9000", 8, 8, 1, 10)


def test_the_registry_is_usable_without_keras():
    import subprocess
    import sys

    code = ("import sys\nfrom dlcv.models import check_params, describe_models\n"
            "check_params('mlp', {'hidden': [8]})\nprint(len(describe_models()), 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["19", "False"], result.stderr  # the book's 5, 11 backbones, from_run, 2 more


def test_a_bug_inside_a_builder_keeps_its_traceback(keras, monkeypatch):
    """Only the parameters are user input: an error raised while building is a bug, not a ConfigError."""
    from dlcv.models import build_model, registry

    def broken(width: int, height: int, depth: int, classes: int, classifier_activation: str = "softmax"):
        raise ValueError("a bug in a layer")

    monkeypatch.setitem(registry.MODELS, "broken", broken)
    with pytest.raises(ValueError, match="a bug in a layer"):
        build_model("broken", 8, 8, 1, 10)


def test_dlcv_models_lists_each_network_whole_in_one_column(dlcv):
    """Each description whole (MiniVGGNet's runs over two docstring lines) and in one column (the longest
    names, efficientnet_v2_b0 and mobilenet_v3_large, pushed theirs out of line); the head's activation is
    the task's, as every builder takes it."""
    said = dlcv("models")
    assert said.code == 0, said.err
    lines = said.out.splitlines()
    assert len({len(line) - len(line.split(None, 1)[1]) for line in lines}) == 1
    described = dict(line.split(None, 1) for line in lines)
    assert described["minivggnet"].endswith("Dropout .5 -> FC(classes) -> the task's activation.")
    assert not [name for name, text in described.items() if "softmax head" in text or text.endswith("softmax.")]
