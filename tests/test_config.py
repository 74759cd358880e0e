"""The experiment schema: every committed config, one-line errors naming the key, duplicate keys,
overrides, YAML 1.2 floats."""
import pytest
from conftest import ROOT

from dlcv.config import ExperimentConfig, StepSchedule, load_config, validate_config
from dlcv.errors import ConfigError


def test_quickstart_yaml_is_the_embedded_default():
    assert load_config(ROOT / "configs" / "quickstart.yaml") == ExperimentConfig()
    assert load_config(None) == ExperimentConfig()


def test_every_committed_config_validates_and_passes_the_checks(tmp_path):
    from dlcv.checks import check_config

    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(configs) >= 12
    for name in ("cats", "dogs"):  # recipes on your own photos name datasets/animals, which a clone lacks
        (tmp_path / name).mkdir()
    for path in configs:
        overrides = [f"dataset.path={tmp_path}"] if "name: folder" in path.read_text() else []
        check_config(load_config(path, overrides), "tensorflow")


@pytest.mark.parametrize("raw, message", [
    ({"optimizer": {"lerning_rate": 0.1}},
     "optimizer.lerning_rate: unknown key; expected one of: name, learning_rate, momentum, nesterov"),
    ({"epochs": "10"}, "epochs: input should be a valid integer, got '10'"),
    ({"epochs": 0}, "epochs: input should be greater than or equal to 1, got 0"),
    ({"optimizer": {"learning_rate": -1.0}}, "optimizer.learning_rate: input should be greater than 0"),
    ({"schedule": {"name": "step", "factr": 0.5}}, "schedule.factr: unknown key; expected one of: name, factor"),
    ({"schedule": {"name": "exponential"}}, "schedule.name: expected one of: constant, inverse_time"),
    ({"schedule": {"name": "inverse_time"}}, "schedule.decay: required key is missing"),
    ({"backend": "mxnet"}, "backend: input should be 'tensorflow', 'jax' or 'torch'"),
    ({"callbacks": ["monitor"]}, "callbacks: expected a mapping of keys"),
    ({"name": ".."}, "name: string should match pattern"),
])
def test_invalid_config_names_the_key(raw, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, source="exp.yaml")
    text = str(caught.value)
    assert text.startswith("exp.yaml: " + message)
    assert "\n" not in text


def test_the_schema_never_touches_the_disk():
    """A saved run's config reads back wherever the run goes: a path that no longer exists is fine here
    (dlcv.checks refuses it for training)."""
    assert load_config(overrides=["dataset.path=/no/such/folder"]).dataset.path == "/no/such/folder"


@pytest.mark.parametrize("text, message", [
    ("epochs: 2\nbatch_size: 8\nepochs: 3\n", "epochs: duplicate key at lines 1 and 3; expected each key once"),
    ("optimizer:\n  learning_rate: 0.1\n  momentum: 0.5\n  learning_rate: 0.2\n",
     "optimizer.learning_rate: duplicate key at lines 2 and 4"),
    ("dataset:\n  name: digits\ndataset:\n  name: mnist\n", "dataset: duplicate key at lines 1 and 3"),
])
def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path, text, message):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}" or str(caught.value).startswith(f"{path}: {message}")


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
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00epochs")
    with pytest.raises(ConfigError, match="binary.yaml"):
        load_config(binary)


def test_exponent_floats_are_numbers_in_files_and_overrides(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("optimizer:\n  learning_rate: 1e-3\n")
    assert load_config(config).optimizer.learning_rate == 0.001
    assert load_config(overrides=["optimizer.learning_rate=5E-2"]).optimizer.learning_rate == 0.05


def alias_bomb(levels: int) -> str:
    """Nine times nine ... times nine: a few hundred bytes of YAML standing for 9**levels values."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_yaml_aliases_cannot_expand_a_config_beyond_reason(tmp_path, dlcv, digits_run):
    """A 500-byte config of nested aliases (9**9 values) is refused as it is read, not after minutes of
    expanding it, as a config and as a run folder's config.yaml; a plain alias still works."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(8) + "book:\n  note: *a8\n")
    refused = dlcv("train", bomb)
    assert refused.code == 2 and len(refused.err.strip().splitlines()) == 1
    assert "aliases (*name) expand it to more than 10,000 values" in refused.err
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.h5", "class_names.json"):
        (run / name).write_bytes((digits_run.run_dir / name).read_bytes())
    (run / "config.yaml").write_text(alias_bomb(8) + "epochs: *a8\n")
    said = dlcv("predict", "--model", run / "model.h5", bomb)
    assert said.code == 2 and "aliases (*name) expand it" in said.err
    fine = tmp_path / "fine.yaml"
    fine.write_text("epochs: &three 3\nbatch_size: *three\n")
    assert load_config(fine).batch_size == 3
