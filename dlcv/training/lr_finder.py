"""Smith's learning-rate range test (L. Smith, "Cyclical Learning Rates for Training Neural Networks",
2017), as fastai's ``lr_find`` and Lightning's ``Tuner.lr_find`` run it: one short run from a fresh model
with the rate growing exponentially batch by batch, the loss against the rate, and a suggested rate where
the loss falls fastest. The cheapest search, and a good centre for ``dlcv tune``'s range.

    test = find_learning_rate(config, start=1e-7, end=10.0, steps=100)   # a config's model and data
    test.suggestion                     # e.g. 0.03
    plot_range_test(test, "output/quickstart/lr_find.png", "quickstart")

Keras has no range test (KerasTuner searches; it does not sweep a rate within one run), so it is here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SMOOTHING = 0.98
"""The loss is averaged exponentially over batches (bias-corrected, as fastai does): one batch is noisy."""
DIVERGED = 4.0
"""The test stops once the smoothed loss exceeds this many times its lowest (Lightning's threshold)."""


@dataclass(frozen=True)
class RangeTest:
    rates: list[float]
    losses: list[float]
    """The smoothed loss after each batch."""
    suggestion: float | None
    """The rate at the steepest fall of the smoothed loss (None: too few batches to tell)."""


def rate_at(step: int, start: float, end: float, steps: int) -> float:
    """The exponential sweep: ``start`` at step 0, ``end`` at step ``steps - 1``."""
    return start * (end / start) ** (step / max(steps - 1, 1))


def range_test(model, batches: Sequence, start: float = 1e-7, end: float = 10.0, steps: int = 100) -> RangeTest:
    """Train ``model`` (compiled, with a constant rate) one batch at a time from ``batches`` (cycled),
    at rates from ``start`` to ``end``; stops early once the loss has clearly diverged."""
    if not 0 < start < end:
        raise ValueError(f"expected 0 < start < end, got start {start}, end {end}")
    rates, losses, average, lowest = [], [], 0.0, math.inf
    for step in range(steps):
        rate = rate_at(step, start, end, steps)
        model.optimizer.learning_rate = rate
        x, y = batches[step % len(batches)][:2]
        loss = float(np.asarray(model.train_on_batch(x, y, return_dict=True)["loss"]))
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        smoothed = average / (1 - SMOOTHING ** (step + 1))
        if not math.isfinite(smoothed):
            break
        rates.append(rate)
        losses.append(smoothed)
        lowest = min(lowest, smoothed)
        if smoothed > DIVERGED * lowest:
            break
    return RangeTest(rates, losses, suggest(rates, losses))


def find_learning_rate(config, start: float = 1e-7, end: float = 10.0, steps: int = 100) -> RangeTest:
    """The range test on ``config``'s model, compiled as training compiles it, and its training images (no
    augmentation, no test images read), the rate held by the sweep alone (no schedule, no average)."""
    from ..batches import Batches
    from ..config import ConstantSchedule
    from ..data import prepare_data
    from ..runtime import seed_everything
    from .engine import compile_model
    from .plan import EpochPlan

    seed_everything(config.seed)
    prepared = prepare_data(config, with_test=False)
    swept = prepared.config.model_copy(update={
        "schedule": ConstantSchedule(), "optimizer": prepared.config.optimizer.model_copy(update={"ema": 0.0})})
    train = prepared.splits.train
    batches = Batches(train, config.batch_size, plan=EpochPlan(train, None, config.batch_size, config.seed))
    model = compile_model(swept, prepared.task, len(batches))
    return range_test(model, batches, start, end, steps)


def suggest(rates: Sequence[float], losses: Sequence[float], skip_begin: int = 10) -> float | None:
    """The rate where the loss falls fastest against log(rate) (Lightning's suggestion), leaving out the
    first batches (the smoothing's start-up) and everything after the lowest loss (a diverged model's
    loss can fall again from its peak, far too high a rate to suggest)."""
    end = int(np.argmin(losses)) + 2 if len(losses) else 0  # the lowest point and the one after it
    kept_rates = np.asarray(rates[skip_begin:end], dtype=float)
    kept_losses = np.asarray(losses[skip_begin:end], dtype=float)
    if len(kept_rates) < 3:
        return None
    slopes = np.gradient(kept_losses, np.log(kept_rates))
    return float(kept_rates[int(np.argmin(slopes))])


def plot_range_test(test: RangeTest, path, title: str) -> None:
    from ..plotting import new_figure, save_figure

    figure, axes = new_figure()
    axes.plot(test.rates, test.losses, linewidth=1.5)
    if test.suggestion is not None:
        axes.axvline(test.suggestion, color="tab:red", linestyle="--", label=f"suggested {test.suggestion:.3g}")
        axes.legend()
    axes.set(title=title, xlabel="learning rate (log scale)", ylabel="training loss (smoothed)", xscale="log")
    if test.losses:
        axes.set_ylim(*loss_axis_limits(test.losses))
    save_figure(figure, path)


def loss_axis_limits(losses: Sequence[float], margin: float = 0.05) -> tuple[float, float]:
    """The loss axis from the lowest loss to 1.5 times the start (or the lowest), padded by ``margin``:
    the divergence is cut off, or its scale would squash the part that matters (matplotlib's own limits,
    even with only the top set, pad the bottom by a share of the whole range: a loss of 0.69 diverging to
    220 drew from -10)."""
    low = min(losses)
    high = min(max(losses), 1.5 * max(losses[0], low))
    pad = margin * (high - low) if high > low else margin * max(abs(low), 1.0)
    return low - pad, high + pad
