"""Run folders: portable (no training data needed to use one), one writer at a time, resumable only with
changes that can apply, replaced in the open, and a full disk reported in one line with what was kept."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import ROOT
from data_files import write_class_folders

from dlcv.runs import RunFolder


def folder_overrides(root, tmp_path, *more):
    return ["--set", "dataset.name=folder", "--set", f"dataset.path={root}", "--set", "preprocessing.width=8",
            "--set", "preprocessing.height=8", "--set", "model.name=linear", "--set", "model.params={}",
            "--set", f"output_dir={tmp_path / 'out'}", "--set", "name=run", "--set", "epochs=2",
            "--set", "dataset.test_size=0.3", *more]


def test_a_run_folder_works_without_its_data_anywhere(keras, dlcv, tmp_path, monkeypatch):
    """Train on a folder, delete the folder, copy the run elsewhere, predict from another directory."""
    root = write_class_folders(tmp_path / "photos", per_class=10, size=(30, 40))
    assert dlcv("train", *folder_overrides(root, tmp_path)).code == 0
    probe = tmp_path / "probe.png"
    shutil.copy(sorted((root / "dogs").glob("*.png"))[0], probe)  # a 30x40-ish colour photo
    before = dlcv("predict", "--model", tmp_path / "out" / "run" / "model.h5", probe)
    assert before.code == 0, before.err

    shutil.rmtree(root)
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(tmp_path / "out" / "run", moved)
    shutil.rmtree(tmp_path / "out")
    (tmp_path / "somewhere-else").mkdir()
    monkeypatch.chdir(tmp_path / "somewhere-else")
    after = dlcv("predict", "--model", moved / "model.h5", probe)
    assert after.code == 0, after.err
    assert after.out.split("\t")[1:] == before.out.split("\t")[1:]  # same label, same probability
    assert after.out.split("\t")[1] in ("cats", "dogs", "panda")
    # evaluating needs the data: one line, naming the key
    evaluated = dlcv("evaluate", "--model", moved / "model.h5")
    assert evaluated.code == 2 and "dataset.path: path does not exist" in evaluated.err


def test_resume_after_the_data_moved_applies_the_new_path_and_epochs(keras, dlcv, tmp_path):
    root = write_class_folders(tmp_path / "photos", per_class=10)
    assert dlcv("train", *folder_overrides(root, tmp_path)).code == 0
    moved = tmp_path / "moved-photos"
    root.rename(moved)
    resumed = dlcv("train", "--resume", *folder_overrides(moved, tmp_path, "--set", "epochs=4"))
    assert resumed.code == 0, resumed.err
    assert f"resuming with changed settings: dataset.path '{root}' -> '{moved}'; epochs 2 -> 4" in resumed.out
    history = json.loads((tmp_path / "out" / "run" / "history.json").read_text())
    assert len(history["loss"]) == 4


def test_resume_refuses_changes_that_cannot_apply_to_the_saved_model(keras, dlcv, tmp_path):
    """Through the command (one trained run, refused twice: nothing is touched by a refusal); which keys
    are refused is resume_changes's, unit-tested in test_run_claim.py."""
    root = write_class_folders(tmp_path / "photos", per_class=10)
    args = folder_overrides(root, tmp_path)
    assert dlcv("train", *args).code == 0
    (tmp_path / "out" / "run" / "results.json").unlink()  # as if killed after its last epoch
    for change, message in ((["--set", "model.name=shallownet"], "--resume: model.name 'linear' -> 'shallownet'"),
                            (["--set", "epochs=1"], "--resume: epochs is 1 but 2 epochs are already done")):
        refused = dlcv("train", "--resume", *args, *change)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused.err
        assert message in refused.err
    finished = dlcv("train", "--resume", *args)  # every epoch done: only the outputs are written
    assert finished.code == 0, finished.err
    results = json.loads((tmp_path / "out" / "run" / "results.json").read_text())
    assert results["epochs_run"] == 2 and "test_accuracy" in results


def test_resume_without_a_committed_epoch_is_one_line(dlcv, tmp_path):
    outcome = dlcv("train", "--resume", "--set", f"output_dir={tmp_path}", "--set", "name=fresh")
    assert outcome.code == 2
    assert "--resume: nothing to resume in" in outcome.err and outcome.err.count("\n") == 1


def test_a_new_run_over_a_finished_one_says_what_it_replaces(keras, dlcv, tmp_path):
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=run", "--set", "epochs=2",
            "--set", "callbacks.checkpoint=improvements"]
    assert dlcv("train", *args).code == 0
    first = json.loads((tmp_path / "run" / "results.json").read_text())
    (tmp_path / "run" / "checkpoints" / "weights-099-0.0001.keras").write_bytes(b"old")
    again = dlcv("train", *args, "--set", "epochs=1")
    assert again.code == 0
    assert again.out.startswith(f"dlcv: replacing the finished run in {tmp_path / 'run'}/ (2 epochs, test "
                                f"accuracy {first['test_accuracy']:.4f})\n")
    assert not (tmp_path / "run" / "checkpoints" / "weights-099-0.0001.keras").exists()
    assert json.loads((tmp_path / "run" / "results.json").read_text())["epochs_run"] == 1


HOLD_LOCK = ("import sys, time\n"
             "from dlcv.runs import RunFolder\n"
             "with RunFolder(sys.argv[1]).lock():\n"
             "    print('locked', flush=True)\n"
             "    time.sleep(300)\n")


def test_one_writer_per_run_folder_and_a_killed_holder_is_taken_over(keras, dlcv, tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        args = ["--set", f"output_dir={tmp_path}", "--set", "name=run", "--set", "epochs=1"]
        refused = dlcv("train", *args)
        assert refused.code == 2 and refused.err.count("\n") == 1
        assert f"run folder '{run_dir}' is in use by dlcv (pid {holder.pid} on" in refused.err
        holder.send_signal(signal.SIGKILL)  # its lock file stays behind, but not its lock
        holder.wait()
        assert (run_dir / ".lock").exists()
        taken_over = dlcv("train", *args)
        assert taken_over.code == 0, taken_over.err
        assert not (run_dir / ".lock").exists()
    finally:
        holder.kill()


def test_the_lock_is_per_holder_in_one_process_too(tmp_path):
    from dlcv.errors import DlcvError

    with RunFolder(tmp_path / "r").lock():
        with pytest.raises(DlcvError, match="is in use by dlcv"):
            with RunFolder(tmp_path / "r").lock():
                pass
    with RunFolder(tmp_path / "r").lock():  # released: free again
        pass


def test_a_full_disk_is_one_line_with_what_was_kept_then_resume_finishes(keras, dlcv, tmp_path, monkeypatch):
    """The write of epoch 3's checkpoint fails with ENOSPC, as on a full disk."""
    real_replace = os.replace

    def full_disk(source, destination, **kwargs):
        if "last-epoch0003" in str(destination):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(source, destination, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=run", "--set", "epochs=5"]
    stopped = dlcv("train", *args)
    assert stopped.code == 1, stopped.err
    line = stopped.err.strip()
    assert "\n" not in line and "Traceback" not in stopped.err
    assert f"cannot write {tmp_path / 'run' / 'checkpoints' / 'last-epoch0003.keras'} (No space left on device)" in line
    assert "epochs 1-2 are committed" in line and "--resume" in line
    assert not list((tmp_path / "run").rglob(".tmp-*"))
    monkeypatch.setattr(os, "replace", real_replace)  # space freed
    resumed = dlcv("train", "--resume", *args)
    assert resumed.code == 0, resumed.err
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 5
