"""The experiment schema: every committed config, one-line errors naming the key, duplicate keys,
overrides, YAML 1.2 floats."""
import pytest
import yaml
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcv import cli
from dlcv.config import ExperimentConfig, StepSchedule, load_config, validate_config
from dlcv.errors import ConfigError


def test_quickstart_yaml_is_the_embedded_default():
    assert load_config(ROOT / "configs" / "quickstart.yaml") == ExperimentConfig()
    assert load_config(None) == ExperimentConfig()


def test_every_committed_config_validates_and_passes_the_checks(tmp_path):
    from dlcv.checks import check_config

    configs = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(configs) >= 12
    from dlcv.data.sample import write_mosaics

    for name in ("cats", "dogs"):  # recipes on your own photos name datasets/animals, which a clone lacks
        (tmp_path / name).mkdir()
    write_mosaics(tmp_path / "mosaics", count=12)  # dlcv data sample --multilabel's table
    for path in configs:
        text = path.read_text()
        overrides = [f"dataset.path={tmp_path}"] if "name: folder" in text else \
            [f"dataset.path={tmp_path / 'mosaics' / 'labels.csv'}"] if "name: labels" in text else []
        check_config(load_config(path, overrides), "tensorflow")


@pytest.mark.parametrize("raw, message", [
    ({"optimizer": {"lerning_rate": 0.1}},
     "optimizer.lerning_rate: unknown key (did you mean 'learning_rate'?); expected one of: name, learning_rate, "
     "momentum, nesterov"),
    ({"epoch": 10}, "epoch: unknown key (did you mean 'epochs'?); expected one of: name, description, seed"),
    ({"epochs": "10"}, "epochs: input should be a valid integer, got '10'"),
    ({"epochs": 0}, "epochs: input should be greater than or equal to 1, got 0"),
    ({"optimizer": {"learning_rate": -1.0}}, "optimizer.learning_rate: input should be greater than 0"),
    ({"schedule": {"name": "step", "factr": 0.5}},
     "schedule.factr: unknown key (did you mean 'factor'?); expected one of: name, factor"),
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


_TEXT = st.text(min_size=1, max_size=12).filter(lambda s: s not in ("official", "auto"))
_NOT_A_NUMBER = st.one_of(_TEXT, st.lists(st.integers(), max_size=2), st.booleans(),
                          st.dictionaries(st.sampled_from("ab"), st.integers(), min_size=1, max_size=1))
_NOT_AN_INT = st.one_of(_NOT_A_NUMBER, st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda v: not float(v).is_integer()))
_NOT_POSITIVE = st.integers(max_value=0)
_NOT_A_BOOL = st.one_of(_TEXT, st.integers(), st.lists(st.booleans(), max_size=2))
_NOT_A_STRING = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                          st.lists(_TEXT, min_size=1, max_size=2))
_NOT_A_FRACTION = st.one_of(_NOT_A_NUMBER, st.floats(min_value=1.0, max_value=1e6),
                            st.floats(max_value=0.0, min_value=-1e6))
_BAD_VALUES = {
    "name": st.one_of(_NOT_A_STRING, st.just(""), st.sampled_from(["my run", "a/b", "../up", "x:y"])),
    "description": _NOT_A_STRING,
    "seed": _NOT_AN_INT,
    "backend": st.one_of(_TEXT, st.integers()),
    "output_dir": _NOT_A_STRING,
    "epochs": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "batch_size": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "route": st.one_of(_TEXT, st.integers()),
    "precision": st.one_of(_TEXT, st.floats(allow_nan=False)),
    "jit_compile": st.one_of(_TEXT, st.integers()),
    "distribution": st.one_of(_TEXT, st.booleans()),
    "dataset.name": _NOT_A_STRING,
    "dataset.path": st.one_of(_NOT_A_STRING, st.just("no/such/folder")),
    "dataset.test_size": _NOT_A_FRACTION,
    "dataset.val_size": _NOT_A_FRACTION,
    "dataset.streaming": st.one_of(_TEXT, st.integers()),
    "dataset.memory_budget": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "dataset.cache": st.one_of(_TEXT.filter(lambda s: s not in ("disk", "none")), st.booleans()),
    "dataset.cache_dir": _NOT_A_STRING,
    "preprocessing.width": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "preprocessing.height": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "preprocessing.channels": st.one_of(st.integers().filter(lambda n: n not in (1, 3)), _TEXT),
    "preprocessing.resize": st.one_of(_TEXT, st.integers()),
    "model.name": _NOT_A_STRING,
    "model.params": st.one_of(_TEXT, st.integers(), st.lists(st.integers(), max_size=2)),
    "optimizer.name": st.one_of(_TEXT.filter(lambda s: s != "sgd"), st.integers()),
    "optimizer.learning_rate": st.one_of(_NOT_A_NUMBER, st.floats(max_value=0.0, min_value=-10.0)),
    "optimizer.momentum": st.one_of(_NOT_A_NUMBER, st.floats(min_value=1.0, max_value=1e3),
                                    st.floats(max_value=-1e-6, min_value=-1e3)),
    "optimizer.nesterov": _NOT_A_BOOL,
    "schedule.name": st.one_of(_TEXT.filter(lambda s: s not in ("constant", "step", "cosine",
                                                                "inverse_time")), st.integers()),
    "callbacks.monitor": _NOT_A_BOOL,
    "callbacks.checkpoint": st.one_of(_TEXT, st.booleans()),
    "callbacks.checkpoint_format": st.one_of(_TEXT, st.integers()),
    "callbacks.checkpoint_dir": _NOT_A_STRING,
    "callbacks.early_stopping_patience": st.one_of(_NOT_AN_INT, _NOT_POSITIVE),
    "callbacks.terminate_on_nan": _NOT_A_BOOL,
    "callbacks.tensorboard": _NOT_A_BOOL,
}
_STEP_SCHEDULE_BAD = {"schedule.factor": _NOT_A_FRACTION,
                      "schedule.drop_every": st.one_of(_NOT_AN_INT, _NOT_POSITIVE)}
_SECTIONS = ["dataset", "preprocessing", "model", "optimizer", "schedule", "callbacks"]


@st.composite
def malformed_configs(draw) -> tuple[dict, str]:
    """A valid config with one thing broken, and the dotted key the error must name."""
    config = ExperimentConfig().to_dict()
    config["schedule"] = {"name": "step", "factor": 0.5, "drop_every": 2}
    kind = draw(st.sampled_from(["bad value", "bad value", "bad value", "unknown key", "not a section"]))
    if kind == "unknown key":
        section = draw(st.sampled_from([None, *_SECTIONS]))
        node = config if section is None else config[section]
        key = draw(st.from_regex(r"[a-z][a-z_]{0,14}", fullmatch=True).filter(lambda k: k not in node))
        node[key] = draw(st.one_of(st.integers(), _TEXT))
        return config, key if section is None else f"{section}.{key}"
    if kind == "not a section":
        section = draw(st.sampled_from(_SECTIONS))
        config[section] = draw(st.one_of(st.integers(), _TEXT, st.lists(st.integers(), max_size=2)))
        return config, section
    field, values = draw(st.sampled_from(sorted({**_BAD_VALUES, **_STEP_SCHEDULE_BAD}.items())))
    *sections, leaf = field.split(".")
    (config[sections[0]] if sections else config)[leaf] = draw(values)
    return config, field


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(malformed=malformed_configs())
def test_malformed_configs_exit_2_with_one_line_naming_the_key(tmp_path, capsys, malformed):
    config, key = malformed
    path = tmp_path / "malformed.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    code = cli.main(["train", str(path)])
    captured = capsys.readouterr()
    assert code == 2, f"{key}: exit {code}; stdout {captured.out[-300:]!r}"
    assert captured.err.startswith("dlcv: error: ") and captured.err.count("\n") == 1, captured.err
    assert f"{key}:" in captured.err or f"{key}." in captured.err, (key, captured.err)
    assert "Traceback" not in captured.err and captured.out == ""
