"""The README's examples that need a folder of photos, run as written on the data set `dlcv data sample`
makes (as on a fresh clone), at tiny sizes: each command of the Data, Labels in a table, Multi-label,
Searching hyperparameters, Compare and inspect, k-fold runs, Where the model looks, Serve over HTTP and
Transfer learning sections.
Lines that need a network, a database server or Docker are left out (they say so in the README); the
ImageNet weights come from a file the test writes."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, Server

SECTIONS = {"data": "### Data", "table": "### Labels in a table", "multilabel": "### Multi-label",
            "tune": "## Searching hyperparameters", "compare": "## Compare and inspect runs",
            "kfold": "### k-fold runs", "explain": "### Where the model looks", "serve": "### Serve over HTTP",
            "transfer": "## Transfer learning"}
NOT_HERE = ("--storage", "weights fetch", "docker", "mlflow")
"""What needs more than a clone: a database server, a network, Docker."""
TINY = {"train": ["--set", "epochs=1"], "tune": ["--set", "epochs=1"], "lr": ["--steps", "8"]}
"""Added to each command so that it runs in seconds; what the README shows is what runs."""


def commands(section: str) -> list[str]:
    """The shell commands of the README section's ```bash blocks (up to its next heading), comments cut."""
    readme = (ROOT / "README.md").read_text()
    heading = SECTIONS[section]
    text = readme.split(heading, 1)[1]
    text = re.split(r"\n#{2,3} ", text, maxsplit=1)[0]
    blocks = [block for block in re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
              if not any(skip in block for skip in NOT_HERE)]  # a block that needs more is left out whole
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A working directory with the repository's configs and scripts and nothing else (no datasets/)."""
    for name in ("configs", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(line: str, dlcv, script, replaced: list | None = None) -> int:
    words = shlex.split(line)
    if words[0] == "python":
        return script(words[1].removeprefix("scripts/").removesuffix(".py"), *words[2:]).code
    args = words[1:]
    if args[:2] == ["data", "sample"]:
        args += ["--per-class", "12"]
    if args[0] == "tune":
        args = [a if previous != "--trials" else "2" for previous, a in zip([None, *args], args)]
        args += [] if "--trials" in args else ["--trials", "2"]
    outcome = dlcv(*args, *TINY.get(args[0], []))
    assert outcome.code == 0, f"{line}: {outcome.err[-1500:]}"
    if replaced is not None and "replacing" in outcome.out + outcome.err:
        replaced.append(line)
    return outcome.code


def test_the_readme_examples_run_in_order_on_a_fresh_clone(clone, dlcv, script, capsys):
    """... one section after the other in one clone, as a reader follows them: no example replaces
    another's run (each writes its own run folder)."""
    replaced = []
    for section in ("data", "table", "multilabel", "tune", "compare", "kfold", "explain"):
        lines = commands(section)
        assert lines and all(line.startswith(("dlcv ", "python scripts/")) for line in lines), lines
        for line in lines:
            assert run(line, dlcv, script, replaced) == 0, line
    assert replaced == [], replaced
    serve_examples(clone)


def serve_examples(clone: Path) -> None:
    """The serve section's commands against the run "Compare and inspect runs" trained: the server started as
    written (on a free port instead of 8000), each curl line, then the Python example."""
    serve, *calls = commands("serve")
    words = shlex.split(serve.removesuffix("&"))
    assert words[:2] == ["dlcv", "serve"] and words[3:5] == ["--port", "8000"], words
    server = Server(clone / words[2], cwd=clone)
    port = server.url.rsplit(":", 1)[1]
    try:
        for line in calls:
            result = subprocess.run(shlex.split(line.replace(":8000", f":{port}")), cwd=clone, capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0 and '"error"' not in result.stdout, (line, result.stdout, result.stderr)
            assert "predictions" in result.stdout or "labels" in result.stdout, result.stdout
        example = python_blocks("serve")[0].replace(":8000", f":{port}")
        printed = subprocess.run([sys.executable, "-c", example], cwd=clone, capture_output=True, text=True,
                                 timeout=60)
        assert printed.returncode == 0 and printed.stdout.strip() in ("circles", "squares", "triangles"), printed
    finally:
        assert server.stop() == 0


def python_blocks(section: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    text = re.split(r"\n#{2,3} ", readme.split(SECTIONS[section], 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)\n```", text, flags=re.S)


def test_the_transfer_learning_example_runs_on_a_fresh_clone(keras, clone, dlcv, script, monkeypatch):
    from conftest import serve_weights

    network = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    network.save(clone / "served.h5")
    serve_weights(monkeypatch, "mobilenet_v2", clone / "served.h5")  # "downloads MobileNetV2's weights once"
    monkeypatch.setenv("KERAS_HOME", str(clone / "keras-home"))
    TINY_TRANSFER = ["--set", "preprocessing.width=32", "--set", "preprocessing.height=32", "--set",
                     "fine_tune.epochs=1"]
    monkeypatch.setitem(TINY, "train", [*TINY["train"], *TINY_TRANSFER])
    lines = commands("transfer")
    assert any("configs/transfer_animals.yaml" in line for line in lines), lines
    for line in lines:
        assert run(line, dlcv, script) == 0, line
