"""Learning-rate schedules: Keras 2's decay, the book's step decay, cosine with warm-up, each against its
formula written out; and dlcv lr, which prints and plots them."""
import pytest

from dlcv.config import CosineSchedule, InverseTimeSchedule, StepSchedule

# The book's step decay, lr0 * factor ** floor((1 + epoch) / 5), written out per epoch for lr0 = 0.01.
BOOK_STEP_RATES = {
    0.25: [0.01] * 4 + [0.0025] * 5 + [0.000625] * 5 + [0.00015625] * 5,
    0.5: [0.01] * 4 + [0.005] * 5 + [0.0025] * 5 + [0.00125] * 5,
    0.75: [0.01] * 4 + [0.0075] * 5 + [0.005625] * 5 + [0.00421875] * 5,
}


def test_inverse_time_equals_keras2_decay_over_many_steps(keras):
    from dlcv.training.schedules import build_schedule

    schedule = build_schedule(InverseTimeSchedule(name="inverse_time", decay=0.01 / 40), 0.01, 100, 40)
    # Keras 2's SGD(lr=0.01, decay=0.01/40): lr / (1 + decay * iterations), written out at a few steps
    expected = {0: 0.01, 40: 0.01 / 1.01, 400: 0.01 / 1.1, 4000: 0.01 / 2.0, 3960: 0.01 / 1.99}
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate, rel=1e-6)


@pytest.mark.parametrize("factor", sorted(BOOK_STEP_RATES))
def test_step_decay_follows_the_books_formula(keras, factor):
    from dlcv.training.schedules import build_schedule

    steps_per_epoch = 10
    schedule = build_schedule(StepSchedule(name="step", factor=factor, drop_every=5), 0.01, steps_per_epoch, 19)
    for epoch, rate in enumerate(BOOK_STEP_RATES[factor]):
        for step in (epoch * steps_per_epoch, epoch * steps_per_epoch + steps_per_epoch - 1):
            assert float(schedule(step)) == pytest.approx(rate, rel=1e-6), (epoch, step)


def test_cosine_warms_up_then_decays(keras):
    from dlcv.training.schedules import build_schedule

    schedule = build_schedule(CosineSchedule(name="cosine", warmup_epochs=2), 0.1, 10, 12)
    lrs = [float(schedule(s)) for s in range(120)]
    assert lrs[0] == pytest.approx(0.0) and lrs[10] == pytest.approx(0.05) and lrs[20] == pytest.approx(0.1)
    assert lrs[70] == pytest.approx(0.05, rel=1e-5)  # half-way through the 100 decay steps: cos(pi/2)
    assert all(a <= b + 1e-9 for a, b in zip(lrs[:20], lrs[1:21]))   # rising
    assert all(a >= b - 1e-9 for a, b in zip(lrs[20:], lrs[21:]))    # falling
    assert lrs[-1] < 0.01


def test_lr_command_prints_and_plots_the_step_schedule(dlcv, tmp_path):
    from conftest import ROOT

    outcome = dlcv("lr", ROOT / "configs" / "cifar10_lr_decay.yaml", "--steps-per-epoch", "10", "--set", "epochs=12",
                   "--output", tmp_path / "lr.png")
    assert outcome.code == 0, outcome.err
    rates = [float(line.split()[-1]) for line in outcome.out.splitlines() if line.startswith("epoch")]
    assert rates == pytest.approx(BOOK_STEP_RATES[0.25][:12])
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
