"""Scale-out on existing engines, on CPU: Mirrored over two logical CPUs, two local MultiWorker
processes on 127.0.0.1, and Keras DataParallel over two forced JAX host devices."""
import json
import os
import socket
import subprocess
import sys

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


def test_multi_worker_with_two_local_workers(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CONFIG": json.dumps(tf_config)}
        processes.append(subprocess.Popen([sys.executable, "-m", "dlcv", *train_args(tmp_path, "multi_worker", "mw")],
                                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "2 replicas" in stdout
    assert (tmp_path / "mw" / "model.h5").is_file()  # the chief's run folder
    assert "run written to" in outputs[0][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mw"]  # the other worker left nothing


def test_jax_data_parallel_over_two_host_devices(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-m", "dlcv", *train_args(tmp_path, "data_parallel", "dp")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas" in result.stdout
    assert json.loads((tmp_path / "dp" / "results.json").read_text())["test_accuracy"] > 0.8


def test_a_strategy_on_the_wrong_backend_is_a_config_error(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-m", "dlcv", *train_args(tmp_path, "mirrored", "x")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "distribution: mirrored runs on the tensorflow backend, not jax" in result.stderr
