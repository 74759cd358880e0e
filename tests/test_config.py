from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from dlcv.config import ExperimentConfig, StepSchedule, load_config, validate_config
from dlcv.errors import ConfigError


def test_quickstart_yaml_is_the_embedded_default():
    assert load_config(ROOT / "configs" / "quickstart.yaml") == ExperimentConfig()
    assert load_config(None) == ExperimentConfig()


def test_every_committed_config_validates(tmp_path):
    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(configs) >= 12
    for path in configs:
        text = path.read_text()
        # recipes on your own photos name datasets/animals, which a fresh clone does not have
        overrides = [f"dataset.path={tmp_path}"] if "name: folder" in text else []
        load_config(path, overrides)


@pytest.mark.parametrize("raw, message", [
    ({"optimizer": {"lerning_rate": 0.1}},
     "optimizer.lerning_rate: unknown key; expected one of: name, learning_rate, momentum, nesterov"),
    ({"epochs": "10"}, "epochs: input should be a valid integer, got '10'"),
    ({"epochs": 0}, "epochs: input should be greater than or equal to 1, got 0"),
    ({"optimizer": {"learning_rate": -1.0}}, "optimizer.learning_rate: input should be greater than 0"),
    ({"dataset": {"path": "/no/such/folder"}}, "dataset.path: path does not exist: '/no/such/folder'"),
    ({"schedule": {"name": "step", "factr": 0.5}}, "schedule.factr: unknown key; expected one of: name, factor"),
    ({"schedule": {"name": "exponential"}}, "schedule.name: expected one of: constant, inverse_time"),
    ({"schedule": {"name": "inverse_time"}}, "schedule.decay: required key is missing"),
    ({"backend": "mxnet"}, "backend: input should be 'tensorflow', 'jax' or 'torch'"),
    ({"callbacks": ["monitor"]}, "callbacks: expected a mapping of keys"),
])
def test_invalid_config_names_the_key(raw, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, source="exp.yaml")
    text = str(caught.value)
    assert text.startswith("exp.yaml: " + message)
    assert "\n" not in text


def test_overrides_are_parsed_as_yaml_and_validated():
    config = load_config(overrides=["optimizer.learning_rate=0.01", "schedule.name=step",
                                    "model.params.hidden=[16]"])
    assert config.optimizer.learning_rate == 0.01
    assert isinstance(config.schedule, StepSchedule) and config.schedule.drop_every == 5
    assert config.model.params == {"hidden": [16]}
    with pytest.raises(ConfigError, match="epochs: input should be a valid integer"):
        load_config(overrides=["epochs=ten"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(overrides=["epochs"])
    with pytest.raises(ConfigError, match="epochs is not a section"):
        load_config(overrides=["epochs=3", "epochs.value=4"])


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("epochs: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- epochs\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listed)


@pytest.mark.parametrize("content, fragment", [
    ("epochs: 2\nbogus_key: 1\n", "bogus_key: unknown key"),
    ("batch_size: big\n", "batch_size: input should be a valid integer"),
    ("dataset:\n  name: folder\n  path: /definitely/not/here\n", "dataset.path: path does not exist"),
])
def test_cli_rejects_a_malformed_config_with_one_line_and_exit_2(tmp_path, content, fragment):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run_cli("train", str(config))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert result.stderr.startswith("dlcv: error: ")
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_rejects_a_bad_override_and_bad_flags():
    result = run_cli("train", "--set", "optimizer.momentum=2")
    assert result.returncode == 2
    assert "optimizer.momentum: input should be less than 1" in result.stderr
    result = run_cli("train", "--backend", "theano")
    assert result.returncode == 2 and "invalid choice: 'theano'" in result.stderr


def test_exponent_floats_are_numbers_in_files_and_overrides(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("optimizer:\n  learning_rate: 1e-3\n")
    assert load_config(config).optimizer.learning_rate == 0.001
    assert load_config(overrides=["optimizer.learning_rate=5E-2"]).optimizer.learning_rate == 0.05
