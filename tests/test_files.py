"""What a run writes reaches its name by a rename (dlcv.files), and an output folder that cannot be written is
refused before any data is read."""
import os
from pathlib import Path

from conftest import run_config

from dlcv import cli


def test_every_artefact_of_a_run_is_written_by_rename(keras, tmp_path, monkeypatch):
    renamed, real_replace = set(), os.replace

    def recording_replace(source, destination, **kwargs):
        renamed.add(Path(destination).resolve())
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    from dlcv.training.engine import train

    result = train(run_config(tmp_path, "callbacks.checkpoint=improvements"), verbose=0)
    written = {path.resolve() for path in result.run_dir.rglob("*") if path.is_file()}
    assert {"history.json", "model.h5", "results.json", "confusion_matrix.png"} <= {p.name for p in written}
    assert written - renamed == set()  # none was written in place, where a kill would leave half a file
    assert not list(result.run_dir.rglob(".tmp-*"))


def _unwritable_folders(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folders = {"below a file": blocker / "runs"}
    if os.geteuid() != 0:  # root writes anywhere, whatever the mode bits say
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        folders["read-only"] = read_only
    return folders


def test_an_unwritable_output_folder_is_refused_before_any_data_is_read(tmp_path, monkeypatch, capsys):
    from dlcv import app
    from dlcv.training import engine

    def must_not_run(*args, **kwargs):
        raise AssertionError("the data was read (or Keras started) before the output folder was checked")

    monkeypatch.setattr(engine, "prepare_data", must_not_run)
    monkeypatch.setattr(app, "start_keras", must_not_run)
    for why, folder in _unwritable_folders(tmp_path).items():
        code = cli.main(["train", "--set", f"output_dir={folder}", "--set", "name=run"])
        error = capsys.readouterr().err
        assert code == 2, why
        assert error.count("\n") == 1 and "is not writable" in error and str(folder) in error, why
