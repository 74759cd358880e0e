"""The benchmark suites run end to end (tiny sizes on the CPU): the GPU suite writes its JSON and table."""
import json
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_the_gpu_suite_runs_with_tiny_sizes(keras, tmp_path):
    from suite import gpu_suite

    result = gpu_suite(tmp_path, w1_samples=320, w2_samples=128, long_epochs=3, repeats=1, transfer_folder=None)
    written = json.loads((tmp_path / "gpu-suite.json").read_text())
    assert written["ratios"] == result["ratios"] and written["device"]
    assert {"W1: default x book fit", "W2: default x book fit", "W1 x3 incl. compilation: default / book",
            "W1: windowed / whole-set throughput"} <= set(result["ratios"])
    assert all(value > 0 for value in result["ratios"].values())
    table = (tmp_path / "gpu-suite.md").read_text()
    assert table.startswith("GPU suite — ") and "| W1-windows | dlcv: host-fed windows of 64 batches |" in table

