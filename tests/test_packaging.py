"""The package imports light, and the README's commands are the ones CI runs."""
import re
import subprocess
import sys

from conftest import ROOT

LIGHT_MODULES = ["dlcv", "dlcv.config", "dlcv.data", "dlcv.preprocessing", "dlcv.pipeline", "dlcv.cli",
                 "dlcv.files", "dlcv.runtime", "dlcv.pretrained", "dlcv.casestudies.captcha",
                 "dlcv.casestudies.smiles", "dlcv.recipes.case_studies"]


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
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_python_dash_m_dlcv_works():
    result = subprocess.run([sys.executable, "-m", "dlcv", "--version"], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0 and result.stdout.startswith("dlcv ")
