"""Scale-out on existing engines, on CPU: Mirrored over two logical CPUs, two local MultiWorker
processes on 127.0.0.1, and Keras DataParallel over two forced JAX host devices."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import ROOT

TWO_LOGICAL_CPUS = (
    "import sys, tensorflow as tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
    "from dlcv.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n")


def train_args(tmp_path, distribution, name):
    return ["train", "--set", f"distribution={distribution}", "--set", "epochs=3", "--set", f"name={name}",
            "--set", f"output_dir={tmp_path}"]


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", TWO_LOGICAL_CPUS, *train_args(tmp_path, "mirrored", "m")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas" in result.stdout and "route: fit (distribution: mirrored" in result.stdout
    assert json.loads((tmp_path / "m" / "results.json").read_text())["test_accuracy"] > 0.8


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(tmp_path, ports, *extra, only=(0, 1), timeout="300"):
    workers = [f"127.0.0.1:{port}" for port in ports]
    processes = {}
    for index in only:
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CONFIG": json.dumps(tf_config),
               "DLCV_WORKER_TIMEOUT": timeout}
        processes[index] = subprocess.Popen([sys.executable, "-m", "dlcv", *train_args(tmp_path, "multi_worker", "mw"),
                                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
    return processes


@pytest.mark.slow
def test_two_workers_one_preempted_both_resumed(tmp_path):
    """MultiWorkerMirroredStrategy on 127.0.0.1: worker 1 gets SIGTERM mid-run (its machine is preempted;
    TensorFlow's own handler would only note it) and leaves at once in one line; the chief, its peer lost,
    stops in one line naming the worker and the committed epoch, both within 30 s; both resume from the
    chief's epoch; every epoch is in the history once, the earlier ones as they were. (The worker tells
    the coordination service, so the chief stops at once instead of waiting out the heartbeats.)"""
    ports = _free_ports(2)
    record = tmp_path / "mw" / "checkpoints" / "last.json"
    processes = start_workers(tmp_path, ports, "--set", "epochs=40")
    deadline = time.time() + 240
    while not (record.exists() and json.loads(record.read_text())["epoch"] >= 2):
        assert time.time() < deadline and processes[0].poll() is None, processes[0].communicate()[1][-2000:]
        time.sleep(0.1)
    sent = time.time()
    processes[1].send_signal(signal.SIGTERM)
    _, worker_err = processes[1].communicate(timeout=60)
    assert processes[1].returncode == 143, worker_err[-2000:]
    assert worker_err.strip().splitlines()[-1].startswith("dlcv: stopped by SIGTERM after epoch ")
    _, chief_err = processes[0].communicate(timeout=240)
    assert time.time() - sent < 30  # told by the worker: without it, 10 s idle, 42 s seen on a loaded machine
    assert processes[0].returncode == 1, chief_err[-2000:]
    committed = json.loads(record.read_text())["epoch"]
    assert chief_err.count("\n") == 1 and "Traceback" not in chief_err, chief_err
    assert f"worker 1 at 127.0.0.1:{ports[1]} stopped by SIGTERM after epoch {committed} was committed" in chief_err
    assert "--resume on every worker" in chief_err
    before = json.loads((tmp_path / "mw" / "history.json").read_text())

    resumed = start_workers(tmp_path, _free_ports(2), "--resume", "--set", f"epochs={committed + 1}")
    outputs = {index: p.communicate(timeout=300) for index, p in resumed.items()}
    for index, process in resumed.items():
        assert process.returncode == 0, outputs[index][1][-3000:]
        assert "2 replicas" in outputs[index][0]
    assert f"resuming after epoch {committed}" in outputs[0][0]
    history = json.loads((tmp_path / "mw" / "history.json").read_text())
    assert all(len(values) == committed + 1 for values in history.values())
    assert all(history[key][:committed] == before[key][:committed] for key in history)
    assert (tmp_path / "mw" / "model.h5").is_file() and "run written to" in outputs[0][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mw"]  # the other worker left nothing


def test_a_lost_worker_is_named_by_its_address(monkeypatch):
    from dlcv.training.cluster_errors import lost_worker

    cluster = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    told = RuntimeError("UNAVAILABLE: /job:worker/replica:0/task:1 stopped by SIGTERM [reported by the service]")
    assert lost_worker(told) == "worker 1 at 10.0.0.2:2222 stopped by SIGTERM"
    gone = RuntimeError("Connection reset, reported from /job:worker/replica:0/task:1 while receiving")
    assert lost_worker(gone) == "worker 1 at 10.0.0.2:2222 was lost (RuntimeError)"
    silent = RuntimeError("Socket closed")
    assert lost_worker(silent) == "a worker of the cluster (10.0.0.2:2222) stopped answering (RuntimeError)"


@pytest.mark.slow
def test_a_worker_alone_ends_in_one_line_instead_of_waiting_forever(tmp_path):
    alone = start_workers(tmp_path, _free_ports(2), "--set", "epochs=2", only=(1,), timeout="2")[1]
    _, stderr = alone.communicate(timeout=120)
    assert alone.returncode == 1
    assert stderr.strip().count("\n") == 0 and "did not all join within 2 s" in stderr, stderr[-2000:]


@pytest.mark.slow
def test_jax_data_parallel_over_two_host_devices(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-m", "dlcv", *train_args(tmp_path, "data_parallel", "dp")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas" in result.stdout
    assert json.loads((tmp_path / "dp" / "results.json").read_text())["test_accuracy"] > 0.8
