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



def test_the_recipe_tables_pool_seeds_and_the_ablation_removes_only_what_a_recipe_has():
    from recipes import Run, ablation_rows, parts_in, spread_rows

    assert list(parts_in(str(ROOT / "configs" / "animals_modern.yaml"))) == [
        "label smoothing", "weight averaging (ema)", "mixup", "random crop", "horizontal flip", "weight decay",
        "warm-up + cosine (constant rate)"]                              # no cutmix: the recipe has none
    assert parts_in(str(ROOT / "configs" / "quickstart.yaml")) == {}  # nothing of the modern recipe's
    runs = [Run("configs/a.yaml", seed, 10.0, 40, 41, 50, correct, correct, 75) for seed, correct in ((1, 45), (2, 60))]
    row = spread_rows(runs)[2]
    # 45/75 and 60/75: mean 0.7 (0.6-0.8); pooled 105 of 150, Wilson's 95% interval 0.622-0.768
    assert row.startswith("| `a` | 1, 2 | 0.700 (0.600-0.800) | 0.700 (0.622-0.768) |"), row
    assert ablation_rows({"(nothing)": runs})[2].startswith("| (nothing) | 0.800 (0.711-0.867) |")  # 80 of 100
