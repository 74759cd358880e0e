"""The package imports light, and the README's commands are the ones CI runs."""
import re
import subprocess
import sys

from conftest import ROOT

LIGHT_MODULES = ["dlcv", "dlcv.inference", "dlcv.predictions", "dlcv.export.formats", "dlcv.export.exporter",
                 "dlcv.doctor", "dlcv.config", "dlcv.checks", "dlcv.data", "dlcv.models", "dlcv.preprocessing",
                 "dlcv.pipeline", "dlcv.inputs", "dlcv.cli", "dlcv.app", "dlcv.runs", "dlcv.files", "dlcv.runtime",
                 "dlcv.training", "dlcv.training.routes", "dlcv.training.distribution", "dlcv.folds",
                 "dlcv.label_issues",
                 "dlcv.casestudies.pretrained", "dlcv.casestudies.captcha", "dlcv.casestudies.smiles",
                 "dlcv.recipes.numpy_chapters", "dlcv.pyimagesearch.nn", "dlcv.pyimagesearch.preprocessing"]


def test_importing_dlcv_loads_neither_keras_nor_tensorflow():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in LIGHT_MODULES) +
            "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", quickstart, flags=re.S)


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "dlcv train" in commands[0] and "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = commands[1].split(" && .venv/bin/ruff", 1)
    assert f".venv/bin/ruff{test}" in ci  # the same checks and tests; installed faster, from the same files
    assert install.endswith("-r requirements.txt -e .") and ci.count("-r requirements.txt -e .") == 2


def test_dlcv_version(capsys):
    import pytest

    from dlcv import __version__, cli

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"dlcv {__version__}\n"


def test_the_declared_lower_bounds_have_what_dlcv_calls():
    """pyproject's floors are versions dlcv runs on: NumPy 2 (np.bitwise_count, the duplicate check's
    hash distances) and Pillow (image headers, the pixel limit)."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.version import Version

    declared = {(r := Requirement(text)).name: r.specifier
                for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert not declared["numpy"].contains(Version("1.26.4")) and declared["numpy"].contains(Version("2.0.0"))
    assert "pillow" in declared
