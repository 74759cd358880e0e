"""dlcv lr --find: Smith's range test on a real model, and its suggestion rule on a curve worked by hand."""
import numpy as np
import pytest

from dlcv.training.lr_finder import loss_axis_limits, rate_at, suggest


def test_the_suggestion_is_the_steepest_fall_of_the_loss():
    rates = list(10.0 ** np.linspace(-6, 0, 40))
    losses = [2.0] * 40
    drops = {24: 0.1, 25: 0.5, 26: 0.2}  # loss[i + 1] = loss[i] - drop
    for i in range(39):
        losses[i + 1] = losses[i] - drops.get(i, 0.0)
    # central differences: at 25, (l26 - l24) = -(0.1 + 0.5); at 26, (l27 - l25) = -(0.5 + 0.2): the steepest
    assert suggest(rates, losses) == pytest.approx(rates[26])
    assert suggest(rates[:12], losses[:12]) is None  # nothing left after the start-up is skipped


def test_the_plot_shows_the_loss_before_it_diverges_not_the_divergence():
    flat_then_diverging = [0.69] * 80 + [0.7, 5.0, 50.0, 220.0]  # LeNet on the smiles sample, balanced weights
    assert loss_axis_limits(flat_then_diverging) == pytest.approx((0.69 - 0.01725, 1.035 + 0.01725))
    falling = [2.3, 2.0, 1.0, 0.4, 3.0]
    assert loss_axis_limits(falling) == pytest.approx((0.4 - 0.13, 3.0 + 0.13))  # the top: 3.0 < 1.5 x 2.3
    assert loss_axis_limits([0.5, 0.5]) == pytest.approx((0.45, 0.55))  # flat: a band around it


def test_the_sweep_is_exponential_from_start_to_end():
    assert rate_at(0, 1e-6, 1.0, 7) == pytest.approx(1e-6)
    assert rate_at(6, 1e-6, 1.0, 7) == pytest.approx(1.0)
    assert rate_at(3, 1e-6, 1.0, 7) == pytest.approx(1e-3)


def test_a_range_test_on_the_quickstart_suggests_a_working_rate(keras, tmp_path):
    from dlcv import app

    found = app.find_learning_rate(None, overrides=[f"output_dir={tmp_path}"], steps=120)
    ratios = np.array(found.rates[1:]) / np.array(found.rates[:-1])
    assert np.allclose(ratios, (10.0 / 1e-7) ** (1 / 119))
    assert max(found.losses) > 2 * min(found.losses)  # the high rates diverge
    assert 0.01 <= found.suggestion <= 1.0, found.suggestion  # SGD on the digits MLP trains in that range
    assert found.suggestion < found.rates[int(np.argmin(found.losses)) + 2]
    assert (tmp_path / "quickstart" / "lr_find.png").stat().st_size > 5000

    low = app.find_learning_rate(None, overrides=[f"output_dir={tmp_path}"], output=tmp_path / "low.png", end=1e-3,
                                 steps=30)
    assert len(low.rates) == 30 and low.suggestion <= 1e-3


@pytest.mark.parametrize("args, expected", [
    (["--start", "1", "--end", "0.1"], "expected 0 < start < end"),
    (["--start", "-1"], "argument --start: expected a number > 0, got -1"),
])
def test_bad_sweep_bounds_are_one_line(capsys, args, expected):
    from dlcv import cli

    with pytest.raises(SystemExit) as exited:
        raise SystemExit(cli.main(["lr", "--find", *args]))
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert exited.value.code == 2 and expected in error, error
