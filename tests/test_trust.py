"""What a new user tripped on and an attacker tried (issue "trust, round two"): names that carry terminal
escapes, files a run reads back that are not what dlcv wrote, a pixel limit that is not a number, messages
that would dump megabytes, and the help a newcomer reads."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, transfer_overrides

FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "multilabel"
TITLE = "\x1b]0;owned\x07"
"""An OSC sequence: printed raw, it sets the terminal's title."""


def test_a_pixel_limit_that_is_not_a_number_is_one_line_not_an_abort(tmp_path, dlcv, monkeypatch):
    """OpenCV parses OPENCV_IO_MAX_IMAGE_PIXELS with stoull and aborts the process (exit 134) on "abc":
    dlcv hands it only whole numbers (a real process: OpenCV reads it as it is first imported), and
    refuses the rest itself, before any command's work."""
    env = {**os.environ, "DLCV_MAX_PIXELS": "abc"}
    env.pop("OPENCV_IO_MAX_IMAGE_PIXELS", None)
    said = subprocess.run([sys.executable, "-m", "dlcv", "runs", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)
    assert said.returncode == 2, (said.returncode, said.stderr[-500:])
    assert said.stderr.strip().splitlines() == ["dlcv: error: DLCV_MAX_PIXELS='abc'; expected a whole number of "
                                                "pixels, e.g. 89478485"]
    for value in ("-1", "1e12"):
        monkeypatch.setenv("DLCV_MAX_PIXELS", value)
        said = dlcv("runs", tmp_path)
        assert said.code == 2 and said.err == (f"dlcv: error: DLCV_MAX_PIXELS={value!r}; expected a whole number "
                                               "of pixels, e.g. 89478485\n")


def test_names_with_terminal_escapes_are_printed_escaped(dlcv, tmp_path):
    """A label table's class named with an OSC sequence: dlcv data check prints it escaped."""
    root = tmp_path / "photos"
    root.mkdir()
    rows = []
    for i in range(6):
        cv2.imwrite(str(root / f"{i}.png"), np.full((8, 8, 3), 40 * i, np.uint8))
        rows.append(f"{i}.png,{'cats' if i % 2 else 'dogs' + TITLE}")
    (root / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    said = dlcv("data", "check", root / "labels.csv")
    assert said.code == 0, said.err
    assert "\x1b" not in said.out + said.err and "\x07" not in said.out + said.err
    assert "dogs\\x1b]0;owned\\x07" in said.out


def test_a_message_with_a_huge_name_is_cut(dlcv, tmp_path):
    """A one-megabyte model path: the one line names it, cut, instead of printing a megabyte."""
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    said = dlcv("predict", "--model", "m" * 1_000_000 + ".h5", tmp_path / "a.png")
    assert said.code == 2 and said.err.count("\n") == 1
    assert len(said.err) < 2_200 and "characters cut ...]" in said.err and "File name too long" in said.err


@pytest.mark.parametrize("saved, field", [
    ('{"thresholds": {"circles": NaN, "squares": 0.5, "triangles": 0.5}}', "thresholds.circles: nan"),
    ('{"thresholds": {"circles": -1, "squares": 0.5, "triangles": 0.5}}', "thresholds.circles: -1"),
    ('{"thresholds": {"circles": 0.5, "squares": 2, "triangles": 0.5}}', "thresholds.squares: 2"),
    ('{"thresholds": {"circles": 0.5, "squares": 0.5, "triangles": true}}', "thresholds.triangles: True"),
    ('{"thresholds": {"circles": "0.5", "squares": 0.5, "triangles": 0.5}}', "thresholds.circles: '0.5'"),
    ('{"thresholds": {"circles": 0.5, "squares": 0.5}}', "thresholds.triangles: None"),
    ('{"thresholds": [0.5, 0.5, 0.5]}', "thresholds: expected an object"),
    ('{"thresholds": {', "not readable JSON"),
])
def test_a_thresholds_file_that_is_not_what_dlcv_wrote_is_one_line(dlcv, tmp_path, saved, field):
    run = shutil.copytree(FIXTURE, tmp_path / "run")
    (run / "thresholds.json").write_text(saved)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((32, 32, 3), np.uint8))
    said = dlcv("predict", "--model", run / "model.keras", tmp_path / "a.png")
    [line] = [line for line in said.err.splitlines() if line.startswith("dlcv")][1:]  # after the banner
    assert said.code == 2 and line.startswith(f"dlcv: error: {run / 'thresholds.json'}: "), said.err
    assert field in line, line


def test_an_export_of_a_multi_label_run_without_thresholds_is_refused(dlcv, tmp_path):
    """It used to fall back to the most probable class, silently."""
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.onnx").write_bytes(b"not read: serving.json is checked first")
    spec = {"input": {"shape": [None, 32, 32, 3]}, "labels": ["a", "b"], "preprocessing": {}, "task": "multilabel"}
    (export / "serving.json").write_text(json.dumps(spec))
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((32, 32, 3), np.uint8))
    said = dlcv("predict", "--model", export / "model.onnx", tmp_path / "a.png")
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert "task: multilabel without thresholds" in said.err


def test_the_help_a_newcomer_reads(capsys):
    from dlcv.cli import build_parser

    def help_of(*path: str) -> str:
        with pytest.raises(SystemExit):
            build_parser().parse_args([*path, "--help"])
        return " ".join(capsys.readouterr().out.split())

    assert "write a sample data set" in help_of() and "sample write a small photo-like data set" in help_of("data")
    assert "--seed SEED the images drawn" in help_of("data", "sample")
    train = help_of("train")
    assert "within the epoch after SIGTERM" in train and "last finished epoch" not in train


def test_dlcv_runs_prints_a_run_folders_name_escaped(dlcv, digits_run, tmp_path):
    shutil.copytree(digits_run.run_dir, tmp_path / f"run{TITLE}")
    said = dlcv("runs", tmp_path)
    assert said.code == 0 and "\x1b" not in said.out and "run\\x1b]0;owned\\x07" in said.out


def test_escaping_leaves_printable_text_alone():
    from dlcv.console import printable

    text = "Ünïcödé cats, 猫, tabs\tand\nlines"
    assert printable(text) == text
    assert printable("\u202eevil") == "\\u202eevil"  # a bidi override: escaped too


@pytest.mark.parametrize("record, field", [
    ({"epoch": -1, "model": "last-epoch0001.keras"}, "epoch: '-1'"),
    ({"epoch": True, "model": "last-epoch0001.keras"}, "epoch: 'True'"),
    ({"epoch": 2, "batch": -5, "model": "last-epoch0002.keras"}, "batch: '-5'"),
    ({"epoch": 2, "batch": 10**12, "model": "last-epoch0002.keras"}, "batch: '1000000000000'"),
    ({"epoch": 2, "model": None}, "model: 'None'"),
    ({"epoch": 2, "model": "../../../etc/passwd"}, "model: '../../../etc/passwd'"),
    ({"epoch": 2, "model": "a.keras", "metrics": 7}, "metrics: '7'"),
    ({"epoch": 2, "model": "a.keras", "best_val_loss": "low"}, "best_val_loss: 'low'"),
])
def test_a_resume_record_that_is_not_what_dlcv_wrote_is_one_line(tmp_path, record, field):
    from dlcv.runs import DamagedRun, RunFolder

    run = RunFolder(tmp_path / "run")
    (run.checkpoints).mkdir(parents=True)
    (run.checkpoints / "last.json").write_text(json.dumps(record))
    with pytest.raises(DamagedRun) as refused:
        run.resume_point()
    assert str(run.checkpoints / "last.json") in str(refused.value) and field in str(refused.value)


def test_a_resume_record_past_the_end_of_an_epoch_is_refused_before_training(dlcv, digits_run, tmp_path):
    """batch 10^9 - 1 of a 152-batch epoch: it used to be taken, and epoch 2's metrics were lost."""
    run = shutil.copytree(digits_run.run_dir, tmp_path / "digits-short")
    (run / "results.json").unlink()
    (run / "checkpoints").mkdir(exist_ok=True)
    model = sorted((run / "checkpoints").glob("*.keras")) or [run / "model.keras"]
    shutil.copy(model[0], run / "checkpoints" / "last-epoch0002.keras")
    (run / "checkpoints" / "last.json").write_text(json.dumps({"epoch": 2, "batch": 999_999_999,
                                                                "model": "last-epoch0002.keras"}))
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", "name=digits-short", "--set", "epochs=5",
                "--resume")
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert "last.json is damaged (batch: 999999999; expected fewer than the" in said.err


def test_a_value_set_on_the_command_line_is_blamed_on_it_not_on_the_file(dlcv):
    said = dlcv("train", ROOT / "configs" / "quickstart.yaml", "--set", "epochs=-1")
    assert said.code == 2
    assert said.err == "dlcv: error: --set epochs=-1: epochs: input should be greater than or equal to 1, got -1\n"
    said = dlcv("train", ROOT / "configs" / "quickstart.yaml", "--set", "optimizer={name: sgd, learning_rate: -1}")
    assert said.err.startswith("dlcv: error: --set optimizer={name: sgd, learning_rate: -1}: optimizer.learning_rate")


def test_a_run_whose_config_is_damaged_is_listed_as_damaged(dlcv, digits_run, tmp_path):
    damaged = shutil.copytree(digits_run.run_dir, tmp_path / "damaged")
    (damaged / "config.yaml").write_text("epochs: [unclosed\n")
    (tmp_path / "other-tool").mkdir()
    (tmp_path / "other-tool" / "config.yaml").write_text("server: {port: 80}\n")  # not a run: passed over
    rows = json.loads(dlcv("runs", tmp_path, "--format", "json").out)
    assert [(r["name"], r["status"]) for r in rows] == [("damaged", "damaged (config.yaml)")]


def test_a_missing_diagram_tool_is_not_said_on_every_run(keras, monkeypatch, tmp_path, capsys, console_output):
    """dlcv doctor says pydot or Graphviz is missing; a run (32 of them in one search) does not."""
    from dlcv.visualize import plot_architecture

    def no_pydot(*args, **kwargs):
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.")

    monkeypatch.setattr(keras.utils, "plot_model", no_pydot)
    assert plot_architecture(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), tmp_path / "a.png") is None
    printed = capsys.readouterr()
    assert "pydot" not in printed.out + printed.err and not (tmp_path / "a.png").exists()


def test_a_resumed_runs_time_counts_its_earlier_processes(dlcv, digits_run, tmp_path):
    """results.json's seconds: 500 s before the interruption (as its resume record says) and this process's."""
    run = shutil.copytree(digits_run.run_dir, tmp_path / "digits-short")
    (run / "results.json").unlink()
    (run / "checkpoints").mkdir(exist_ok=True)
    shutil.copy(run / "model.keras", run / "checkpoints" / "last-epoch0004.keras")
    (run / "checkpoints" / "last.json").write_text(json.dumps({"epoch": 4, "model": "last-epoch0004.keras",
                                                                "seconds": 500.0}))
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set", "name=digits-short", "--set", "epochs=5",
                "--resume")
    assert said.code == 0, said.err
    results = json.loads((run / "results.json").read_text())
    assert results["epochs_run"] == 5 and 500 < results["seconds"] < 800


def test_data_check_refuses_a_table_as_training_would_and_calls_it_a_table(dlcv, tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    rows = []
    for i in range(10):
        if i >= 3:  # 3 of the 10 rows name files that are not there: 30%, over dataset.max_missing's 5%
            cv2.imwrite(str(root / f"{i}.png"), np.full((8, 8, 3), 20 * i, np.uint8))
        rows.append(f"{i}.png,{'cats' if i % 2 else 'dogs'}")
    (root / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    checked = dlcv("data", "check", root / "labels.csv")
    trained = dlcv("train", "--set", "dataset.name=labels", "--set", f"dataset.path={root / 'labels.csv'}",
                   "--set", "preprocessing.width=8", "--set", "preprocessing.height=8", "--set",
                   f"output_dir={tmp_path / 'out'}")
    assert checked.code == trained.code == 2 and checked.err.count("\n") == 1
    assert "(dataset.max_missing)" in checked.err and "(dataset.max_missing)" in trained.err
    (root / "labels.csv").write_text("path,label\n" + "\n".join(rows[3:]) + "\n")
    checked = dlcv("data", "check", root / "labels.csv")
    assert checked.code == 0 and "one table (a training run splits it at random)" in checked.out


def test_data_sample_table_suggests_training_the_table(dlcv, tmp_path):
    said = dlcv("data", "sample", tmp_path / "sample", "--table", "--per-class", "2")
    assert said.code == 0
    assert f"--set dataset.name=labels --set dataset.path={tmp_path / 'sample'}/labels.csv" in said.out + said.err


def write_table(root, rows: list[str], header: str = "path,label") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return root / "labels.csv"


def images(root, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(root / f"{i}.png"), np.full((8, 8, 3), 20 * i, np.uint8))


def test_a_link_out_of_the_images_folder_is_refused(tmp_path):
    from dlcv.data.table import read_table
    from dlcv.errors import DlcvError

    images(tmp_path / "photos", 4)
    images(tmp_path / "elsewhere", 1)
    (tmp_path / "photos" / "link.png").symlink_to(tmp_path / "elsewhere" / "0.png")
    (tmp_path / "photos" / "inside.png").symlink_to(tmp_path / "photos" / "0.png")  # within: followed
    table = write_table(tmp_path / "photos", ["0.png,a", "1.png,b", "inside.png,a", "2.png,b", "link.png,a"])
    with pytest.raises(DlcvError, match=r"line 6: '.*photos/link.png' is a link to .*elsewhere/0.png', outside the "):
        read_table(table)
    from dlcv.data.folder import list_labelled_images

    for name in ("a", "b"):  # the same rule for a class folder
        images(tmp_path / "classes" / name, 2)
    (tmp_path / "classes" / "a" / "out.png").symlink_to(tmp_path / "elsewhere" / "0.png")
    with pytest.raises(DlcvError, match=r"classes/a/out.png' is a link to .*elsewhere/0.png', outside the folder"):
        list_labelled_images(tmp_path / "classes")
    write_table(tmp_path / "photos", ["0.png,a", "1.png,b", "inside.png,a", "2.png,b"])
    assert len(read_table(table).paths) == 4


def test_one_file_under_two_labels_is_refused_and_a_repeated_row_is_said(tmp_path, caplog):
    from dlcv.config import DatasetConfig, PreprocessingConfig
    from dlcv.data.table import read_table, table_source
    from dlcv.errors import DlcvError

    images(tmp_path / "photos", 4)
    table = write_table(tmp_path / "photos", ["0.png,cats", "1.png,dogs", "2.png,cats", "0.png,dogs"])
    with pytest.raises(DlcvError, match="line 5: 0.png is labelled dogs, but line 2 labels it cats; expected one"):
        read_table(table)
    write_table(tmp_path / "photos", ["0.png,cats", "1.png,dogs", "2.png,cats", "0.png,cats", "3.png,dogs"])
    with caplog.at_level("WARNING", logger="dlcv"):
        table_source(DatasetConfig(name="labels", path=str(table)), PreprocessingConfig(width=8, height=8))
    assert "1 file(s) named by more than one row, each row trained as an image (lines 2 and 5: 0.png)" in caplog.text


def test_classes_with_no_image_are_dropped_in_one_line(tmp_path, caplog):
    """10,000 one-hot columns of which 3 are used: 3 classes, not a 10,000-way output."""
    from dlcv.data.table import read_table

    images(tmp_path / "photos", 6)
    columns = [f"c{k}" for k in range(10_000)]
    rows = []
    for i in range(6):
        hot = ["0"] * len(columns)
        hot[(i % 3) * 17] = "1"
        rows.append(",".join([f"{i}.png", *hot]))
    table = write_table(tmp_path / "photos", rows, header=",".join(["path", *columns]))
    with caplog.at_level("INFO", logger="dlcv"):
        read = read_table(table)
    assert read.class_names == ["c0", "c17", "c34"] and read.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert "9,997 class(es) with no image dropped (c1, c2, c3, c4, c5, ...); 3 kept" in caplog.text


def test_a_class_with_no_training_image_is_said(keras, tmp_path, caplog):
    from dlcv.config import load_config
    from dlcv.training.engine import train

    images(tmp_path / "photos", 9)
    rows = [f"{i}.png,{'cats' if i % 2 else 'dogs'},{'val' if i < 2 else 'train'}" for i in range(8)]
    rows.append("8.png,panda,test")
    table = write_table(tmp_path / "photos", rows, header="path,label,split")
    config = load_config(overrides=["dataset.name=labels", f"dataset.path={table}", "preprocessing.width=8",
                                    "preprocessing.height=8", "model.name=linear", "model.params={}", "epochs=1",
                                    f"output_dir={tmp_path / 'out'}", "callbacks.checkpoint=none",
                                    "callbacks.monitor=false"])
    with caplog.at_level("WARNING", logger="dlcv"):
        train(config, verbose=0, with_test=False)
    assert "no training image of 1 class(es): panda; their images are all in the validation or test" in caplog.text


def test_a_killed_cache_build_leaves_nothing_behind_for_good(tmp_path, caplog):
    """Its temporary file is removed at the next build in the folder; a fresh one (another run's build in
    progress) is left alone."""
    from data_files import write_class_folders

    from dlcv.config import PreprocessingConfig
    from dlcv.data.cache import cached
    from dlcv.data.folder import folder_source

    root = write_class_folders(tmp_path / "photos", per_class=3, size=(12, 12))
    cache = tmp_path / "cache"
    cache.mkdir()
    killed, live = cache / ".tmp-killed.h5", cache / ".tmp-live.h5"
    killed.write_bytes(b"\0" * 1000)
    live.write_bytes(b"\0" * 1000)
    os.utime(killed, (1_700_000_000, 1_700_000_000))
    with caplog.at_level("INFO", logger="dlcv"):
        cached(folder_source(str(root), PreprocessingConfig(width=8, height=8, channels=3)), cache, progress=False)
    assert not killed.exists() and live.exists() and len(list(cache.glob("photos-*.h5"))) == 1
    assert "removed 1 temporary file(s) of builds killed part-way" in caplog.text


def test_a_json_lines_row_nested_thousands_deep_is_one_line(tmp_path):
    from dlcv.data.table import read_table
    from dlcv.errors import DlcvError

    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "labels.jsonl").write_text('{"path": "a.png", "label": "cats"}\n' + deep + "\n")
    with pytest.raises(DlcvError, match="line 2: nested too deep to read; expected one flat object"):
        read_table(tmp_path / "labels.jsonl")


@pytest.mark.parametrize("where", ["under a file", "read-only"])
def test_data_sample_into_a_folder_it_cannot_write_is_one_line(dlcv, tmp_path, where):
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere, whatever the mode bits say")
        (tmp_path / "ro").mkdir(mode=0o500)
        target = tmp_path / "ro" / "sample"
    else:
        (tmp_path / "a-file").write_text("not a folder")
        target = tmp_path / "a-file" / "sample"
    said = dlcv("data", "sample", target, "--per-class", "2")
    assert said.code == 2 and said.err.count("\n") == 1 and "is not writable" in said.err, said.err


def test_a_database_that_refuses_connections_is_one_line_at_once(dlcv, tmp_path):
    """MLflow's store retried a refused PostgreSQL connection for about 100 s, then raised a traceback."""
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    said = dlcv("train", "--set", f"output_dir={tmp_path}", "--set",
                f"tracking.mlflow.uri=postgresql://alice:S3cret@127.0.0.1:{port}/runs")
    assert said.code == 2 and said.err.count("\n") == 1, said.err
    assert "its database server does not answer" in said.err and f"127.0.0.1:{port}" in said.err
    assert "S3cret" not in said.err and time.monotonic() - started < 30


def test_a_model_too_big_for_memory_is_refused_before_its_weights_exist(dlcv, photo_folders, tmp_path, monkeypatch):
    """LeNet on 32 x 100,000 images: 8 x 25,000 x 50 features into 500 units, 5 billion weights (20 GB),
    refused in one line, not allocated."""
    import dlcv.training.footprint as footprint

    monkeypatch.setattr(footprint, "available_memory", lambda: 8 * 2**30)
    overrides = transfer_overrides(tmp_path, photo_folders, "tall", "preprocessing.height=100000", "model.name=lenet")
    outcome = dlcv("train", *[arg for value in overrides for arg in ("--set", value)])
    assert outcome.code == 2 and outcome.err.count("error") == 1, outcome.err
    assert "model: lenet at 32x100000x3 has 5,000,028,573 parameters" in outcome.err
    assert "8.00 GiB of memory available" in outcome.err
    assert not (tmp_path / "tall" / "model.h5").exists()
    from dlcv.training.keras_private import waiting_variables  # the refused ones are not left to start later

    assert waiting_variables() == 0


@pytest.mark.parametrize("name", ["lenet", "minivggnet", "mobilenet_v2"])
def test_a_model_measured_before_it_is_built_starts_from_the_same_weights(keras, name):
    """The stateless build gives the seeded values an ordinary build gives (MobileNetV2's input conversion
    is a fixed layer set with set_weights)."""
    from dlcv.config import load_config
    from dlcv.models import build_model
    from dlcv.training.footprint import build_within_memory

    params = {"weights": "none"} if name == "mobilenet_v2" else {}
    keras.utils.set_random_seed(7)
    plain = build_model(name, 32, 32, 3, 3, **params)
    keras.utils.set_random_seed(7)
    measured = build_within_memory(lambda: build_model(name, 32, 32, 3, 3, **params), load_config(), False)
    assert len(plain.weights) == len(measured.weights)
    for ordinary, deferred in zip(plain.weights, measured.weights):
        np.testing.assert_array_equal(ordinary.numpy(), deferred.numpy(), err_msg=ordinary.path)


def test_data_check_reads_a_file_many_rows_name_once(tmp_path, monkeypatch, caplog):
    """3,000 rows naming 3 files (the 2,000,000-row table in small): 3 files read, the rows said in one
    entry each, with a progress line."""
    import dlcv.data.audit as audit

    images(tmp_path / "photos", 3)
    table = write_table(tmp_path / "photos", [f"{row % 3}.png,{'ab'[row % 3 % 2]}" for row in range(3000)])
    read = []
    original = audit._fingerprint
    monkeypatch.setattr(audit, "_fingerprint", lambda path: read.append(path) or original(path))
    monkeypatch.setattr(audit, "PROGRESS_FROM", 3)
    with caplog.at_level("INFO", logger="dlcv"):
        report = audit.audit_table(table)
    assert sorted(Path(path).name for path in read) == ["0.png", "1.png", "2.png"]
    assert report.repeated[0] == "lines 2, 5, 8 and 997 more: 0.png" and len(report.repeated) == 3
    assert report.counts == {"all": {"a": 2000, "b": 1000}}
    assert [(group.paths, group.rows) for group in report.duplicates] == [
        ((str(tmp_path / "photos" / f"{i}.png"),), 1000) for i in range(3)]  # each may land in train and test
    assert "checking: 3 img in" in caplog.text
