"""The private Keras APIs dlcv relies on, in one place, each with why no public one does the job. Keras
may change any of them in a minor release: ``tests/test_keras_private.py`` checks that each still exists
with the signature used here, and fails loudly naming it after an upgrade (tested with Keras 3.15).

- ``Model._symbolic_build(data_batch=...)``: builds the compiled loss and metrics as ``fit`` does on its
  first batch. The compiled training loops trace ``train_step`` themselves, and Keras has no public way
  to build the compiled metrics without running a step.
- ``ModelCheckpoint._save_model(epoch, batch, logs)``: the hook ``on_epoch_end`` calls to save;
  :class:`~dlcv.training.callbacks.AtomicModelCheckpoint` overrides it to write through a temporary file.
- ``ModelCheckpoint._get_file_path(epoch, batch, logs)`` and ``_should_save_model(epoch, batch, logs,
  filepath)``: the file name Keras formats and its decision whether to save (the best value it tracks),
  kept Keras's rather than copied.
- ``Optimizer._update_model_variables_moving_average(trainable_variables)`` and
  ``Optimizer._model_variables_moving_average``: the weight average ``use_ema`` keeps, whose momentum
  has no warm-up and no public hook to give it one (:mod:`dlcv.training.averaging`).
- ``keras.src.backend.common.variables.initialize_all_variables`` and the global list
  ``uninitialized_variables``: what ``StatelessScope(initialize_variables=False)`` leaves waiting, started
  (what the scope's exit would do) or forgotten (a model refused for its size,
  :mod:`dlcv.training.footprint`); Keras exports the scope but not these.
"""
from __future__ import annotations

KERAS_TESTED = "3.15"
"""The Keras minor version these were checked against (README, "Keras version")."""


def build_compiled(model, data_batch: tuple) -> None:
    """Build ``model``'s compiled loss and metrics (and its layers) from one batch, without a step."""
    model._symbolic_build(data_batch=data_batch)


def checkpoint_path(callback, epoch: int, batch: int | None, logs: dict | None) -> str:
    """The file a ``ModelCheckpoint`` would write for this epoch (its ``filepath`` formatted)."""
    return callback._get_file_path(epoch, batch, logs)


def checkpoint_wanted(callback, epoch: int, batch: int | None, logs: dict | None, filepath: str) -> bool:
    """Whether a ``ModelCheckpoint`` saves now (``save_best_only``: an improvement on its best value)."""
    return callback._should_save_model(epoch, batch, logs, filepath)


SAVE_HOOK = "_save_model"
"""The ``ModelCheckpoint`` method that saves, which AtomicModelCheckpoint overrides."""


EMA_UPDATE = "_update_model_variables_moving_average"
"""The ``Optimizer`` method that updates the weights' moving average after each step (``use_ema``), with
a fixed momentum: :func:`dlcv.training.averaging.warm_up` replaces it on an optimizer instance, as Keras
has no public hook for the average's momentum."""


def averaged_variables(optimizer) -> list:
    """The optimizer's moving averages of the weights, in the order of the variables it was built for."""
    return optimizer._model_variables_moving_average


def start_waiting_variables() -> None:
    """Give every variable created in a ``StatelessScope(initialize_variables=False)`` its initial value."""
    from keras.src.backend.common.variables import initialize_all_variables

    initialize_all_variables()


def waiting_variables() -> int:
    """How many variables wait for :func:`start_waiting_variables`."""
    from keras.src.backend.common import global_state

    return len(global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True))


def forget_waiting_variables(keep: int) -> None:
    """Drop the waiting variables past the first ``keep``: they never start (no memory is ever taken)."""
    from keras.src.backend.common import global_state

    waiting = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    global_state.set_global_attribute("uninitialized_variables", waiting[:keep])
