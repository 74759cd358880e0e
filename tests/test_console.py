"""The library logs; the command line prints: dlcv used as a library is silent unless logging is
configured, and the dlcv command prints the same plain lines through its console handler."""
import logging
import sys

import pytest

pytestmark = pytest.mark.usefixtures("keras")


def quick(tmp_path, name):
    return ["epochs=1", f"output_dir={tmp_path}", f"name={name}", "model.params={hidden: [16]}"]


def test_the_library_prints_nothing_unless_logging_is_configured(tmp_path, capsys, caplog):
    from dlcv import app

    caplog.set_level(logging.CRITICAL)  # pytest's own capture handler must not count as configured logging
    result = app.train(None, overrides=quick(tmp_path, "silent"))
    assert result.test_accuracy > 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_configured_logging_receives_what_the_command_prints(tmp_path, caplog):
    from dlcv import app

    with caplog.at_level(logging.INFO, logger="dlcv"):
        app.train(None, overrides=quick(tmp_path, "logged"))
    ours = {record.getMessage(): record.name for record in caplog.records if record.name.startswith("dlcv.")}
    assert any(m.startswith("logged: mlp_16 on digits") for m in ours)
    assert ours[f"run written to {tmp_path / 'logged'}/"] == "dlcv.training.engine"


def test_the_command_prints_the_plain_lines(dlcv, tmp_path, monkeypatch):
    # as absl does mid-run (Keras's HDF5 warning calls logging.basicConfig()): the lines must not double
    basic = logging.StreamHandler(sys.stderr)
    basic.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    monkeypatch.setattr(logging.getLogger(), "handlers", [basic])
    said = dlcv("train", *[item for o in quick(tmp_path, "printed") for item in ("--set", o)])
    assert said.code == 0
    assert "INFO:dlcv" not in said.err and "run written to" not in said.err
    lines = said.out.splitlines()
    assert lines[0].startswith("dlcv ") and "| Keras " in lines[0]  # the banner
    assert any(line.startswith("printed: mlp_16 on digits") for line in lines)
    assert f"run written to {tmp_path / 'printed'}/" in lines
    assert "dlcv: warning" not in said.out


def test_a_warning_goes_to_stderr_with_the_prefix(capsys):
    from dlcv.console import console

    with console():
        logging.getLogger("dlcv.data").warning("skipped 2 unreadable image file(s)")
        logging.getLogger("dlcv.data").info("data: streaming")
    captured = capsys.readouterr()
    assert captured.err == "dlcv: warning: skipped 2 unreadable image file(s)\n"
    assert captured.out == "data: streaming\n"
    logging.getLogger("dlcv.data").warning("after the command")
    assert capsys.readouterr() == ("", "")


def test_tensorflows_own_warnings_are_hidden_unless_verbose(keras, caplog):
    """A k-fold run or a search builds a model per fold or trial, each with its compiled step: TensorFlow's
    "triggered tf.function retracing" warning said nothing a user can act on (shown with --verbose)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's warning")
    import numpy as np
    import tensorflow as tf

    step = tf.function(lambda x: x + 1)
    for size in range(1, 9):  # a new shape each call: traced each time
        step(tf.constant(np.zeros(size)))
    assert "retracing" not in caplog.text
