"""dlcv runs: every run under a folder, finished or not, and nothing that is not a run."""
import csv
import io
import json
import shutil

import pytest


@pytest.fixture
def output(digits_run, tmp_path):
    root = tmp_path / "output"
    finished = shutil.copytree(digits_run.run_dir, root / "finished")
    interrupted = shutil.copytree(digits_run.run_dir, root / "group" / "interrupted")
    for written_at_the_end in ("results.json", "report.html"):  # killed before the end:
        (interrupted / written_at_the_end).unlink()          # its resume record says how far it got
    (interrupted / "checkpoints").mkdir(exist_ok=True)
    (interrupted / "checkpoints" / "last.json").write_text(json.dumps({"epoch": 3, "model": "last-epoch0003.keras"}))
    started = root / "started"
    started.mkdir()
    shutil.copy(finished / "config.yaml", started / "config.yaml")
    (root / "cache").mkdir()
    (root / "cache" / "store.h5").write_bytes(b"not a run")
    (root / "foreign").mkdir()
    (root / "foreign" / "config.yaml").write_text("server: {port: 80}\n")  # someone else's config
    better = json.loads((finished / "results.json").read_text())
    worse = shutil.copytree(finished, root / "worse")
    (worse / "results.json").write_text(json.dumps({**better, "test_accuracy": 0.5}))
    return root


def test_the_table_lists_runs_with_their_state_and_nothing_else(dlcv, output, digits_run):
    said = dlcv("runs", output, "--format", "csv", "--sort", "test_accuracy")
    assert said.code == 0, said.err
    rows = list(csv.DictReader(io.StringIO(said.out)))
    assert [r["name"] for r in rows] == ["finished", "worse", "group/interrupted", "started"]
    assert [r["status"] for r in rows] == ["finished", "finished", "interrupted after epoch 3",
                                            "unfinished (or running)"]
    assert float(rows[0]["test_accuracy"]) == pytest.approx(digits_run.test_accuracy)
    assert rows[2]["epochs"] == "3/5" and rows[0]["model"] == "mlp" and rows[0]["image_size"] == "8x8x1"
    assert "4 run(s); wrote" in said.err

    ascending = json.loads(dlcv("runs", output, "--format", "json", "--sort", "test_accuracy", "--ascending").out)
    assert [r["name"] for r in ascending][:2] == ["worse", "finished"]
    text = dlcv("runs", output).out.splitlines()
    assert text[0].split()[:3] == ["name", "status", "model"] and len(text) == 5
    # single-label runs never re-evaluated: no mAP columns and no evaluated one in the text; every one in CSV
    assert {"val_map", "test_map", "evaluated"} & set(text[0].split()) == set()
    assert {"val_map", "test_map", "evaluated"} <= set(rows[0]) and "test_accuracy" in text[0].split()


def test_runs_html_links_each_report(dlcv, output):
    assert dlcv("runs", output).code == 0
    page = (output / "runs.html").read_text()
    assert '<a href="finished/report.html">finished</a>' in page
    assert "white-space:nowrap" in page  # a date stays on one line
    assert "<th>test_accuracy</th>" in page and "<th>test_map</th>" not in page  # the text table's columns
    assert "group/interrupted" in page and 'href="group/interrupted/report.html"' not in page


def test_an_unknown_column_or_folder_is_one_line(dlcv, tmp_path):
    said = dlcv("runs", tmp_path, "--sort", "accuracy")
    assert said.code == 2 and "--sort accuracy: no such column; expected one of: name," in said.err
    said = dlcv("runs", tmp_path / "nothing")
    assert said.code == 2 and "not a folder" in said.err


def test_a_damaged_run_is_listed_as_such_and_hides_no_other(dlcv, output):
    """A results.json cut short (a full disk, a partial copy): `dlcv runs` lists the others and marks it, in
    every format; `dlcv report` on it is one line."""
    damaged = shutil.copytree(output / "finished", output / "damaged")
    text = (damaged / "results.json").read_text()
    (damaged / "results.json").write_text(text[:len(text) // 2])
    for output_format in ("csv", "json", "text"):
        said = dlcv("runs", output, "--format", output_format)
        assert said.code == 0, said.err
        assert "damaged (results.json)" in said.out and "finished" in said.out and "group/interrupted" in said.out
    rows = json.loads(dlcv("runs", output, "--format", "json").out)
    assert {r["name"]: r["status"] for r in rows}["damaged"] == "damaged (results.json)" and len(rows) == 5
    report = dlcv("report", damaged)
    assert report.code == 2 and len(report.err.strip().splitlines()) == 1
    assert "results.json is damaged (not complete JSON" in report.err
