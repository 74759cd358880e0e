"""A real training process SIGKILLed at random moments and resumed each time: nothing lost, nothing twice
(the engine's commits, atomic checkpoints and resume record; README "Reliability")."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _history(path: Path) -> dict[str, list]:
    try:  # not "if path.exists()": a fresh start's run.clear() can remove it between the check and the read
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


@pytest.mark.slow
def test_five_sigkills_at_random_points_each_resumed(tmp_path):
    """Kill a real training process five times at random moments, resume each time, lose nothing."""
    seed = int.from_bytes(os.urandom(4), "little")
    # five kills take 5-10 epochs, and each lands within the epoch after its target: 25 leave the last run
    # epochs to train, whatever the draws
    rng, epochs = random.Random(seed), 25
    context = f"(kill points drawn with random seed {seed})"
    # Not tracked: MLflow's start costs each of the six processes 4 s; a resumed run's MLflow run is
    # tests/test_tracking.py's (each epoch logged once, a replaced run ended KILLED)
    args = ["--set", f"output_dir={tmp_path}", "--set", "name=killed", "--set", f"epochs={epochs}",
            "--set", "callbacks.checkpoint=improvements"]
    run_dir = tmp_path / "killed"
    history_path = run_dir / "history.json"
    committed = []  # (epochs the resume record had committed, the history as it stood) at each kill
    record_path = run_dir / "checkpoints" / "last.json"
    for kill in range(5):
        # A kill before the first epoch is committed leaves nothing to resume: start afresh, as a user would.
        command = [sys.executable, "-m", "dlcv", "train", *args] + (["--resume"] if record_path.exists() else [])
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        done = len(_history(history_path).get("loss", []))
        target, epoch_seconds, ended = done + rng.randint(1, 2), 0.1, None
        deadline = time.time() + 120
        while done < target and process.poll() is None:
            assert time.time() < deadline, f"no progress before kill {kill + 1} {context}"
            time.sleep(0.01)
            now_done = len(_history(history_path).get("loss", []))
            if now_done > done:  # the last epoch's length, timed from the one before it
                epoch_seconds = (time.time() - ended) / (now_done - done) if ended else epoch_seconds
                done, ended = now_done, time.time()
        time.sleep(rng.uniform(0, epoch_seconds))  # anywhere in the next epoch: mid-batch, mid-checkpoint
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate()
        assert process.returncode == -signal.SIGKILL, f"kill {kill + 1} came too late {context}: " \
                                                      f"{stderr.decode()[-500:]}"
        epoch = json.loads(record_path.read_text())["epoch"] if record_path.exists() else 0
        committed.append((epoch, _history(history_path)))

    assert record_path.exists(), context
    from dlcv import app

    app.train(None, overrides=[a for a in args if a != "--set"], resume=True)  # in this process: one TF start less
    history = _history(history_path)
    assert history and all(len(values) == epochs for values in history.values()), context
    for epoch, before in committed:  # epochs committed before a kill are kept as they were, not re-run
        assert all(history[key][:epoch] == before[key][:epoch] for key in history), context
    import keras

    checkpoints = sorted((run_dir / "checkpoints").glob("*.keras")) + [run_dir / "model.h5"]
    assert len(checkpoints) >= 3
    for checkpoint in checkpoints:
        keras.models.load_model(checkpoint)
    assert not list(run_dir.rglob(".tmp-*")) and not (run_dir / ".lock").exists(), context
    assert json.loads((run_dir / "results.json").read_text())["epochs_run"] == epochs  # before the kills too
