"""The phases of a run: one, or two for a pretrained backbone with a ``fine_tune`` section (Keras's
transfer-learning guide: train the head on the frozen backbone, then unfreeze, recompile at a lower rate
and go on). Epochs are numbered across the whole run, so history, checkpoints, the plot and ``--resume``
continue over the boundary; a resumed run starts in the phase its last committed epoch belongs to.

    >>> from dlcv.config import load_config
    >>> config = load_config(overrides=["epochs=3", "fine_tune={epochs: 2, unfreeze: 4}"])
    >>> [(p.name, p.first_epoch, p.end_epoch) for p in plan_phases(config)]
    [('head', 0, 3), ('fine-tune', 3, 5)]
    >>> plan_phases(config, resume_epoch=4)[0].name
    'fine-tune'
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ..config import ExperimentConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase:
    name: str
    first_epoch: int
    end_epoch: int
    """One past its last epoch."""
    unfreeze: str | int | None = None
    """fine-tune: the backbone layers it unfreezes (``all`` or N); None for the first phase."""

    @property
    def fine_tuning(self) -> bool:
        return self.unfreeze is not None


def plan_phases(config: ExperimentConfig, resume_epoch: int = 0) -> list[Phase]:
    """The phases still to train, after ``resume_epoch`` epochs are done; every epoch done (a run killed after
    its last epoch, before its outputs were written): the last phase, with nothing left to train in it."""
    phases = [Phase("train" if config.fine_tune is None else "head", 0, config.epochs)]
    if config.fine_tune is not None:
        phases.append(Phase("fine-tune", config.epochs, config.total_epochs, config.fine_tune.unfreeze))
    return [phase for phase in phases if phase.end_epoch > resume_epoch] or phases[-1:]


def unfreeze(model, phase: Phase) -> None:
    """Open the backbone layers the fine-tune phase trains (BatchNormalization stays frozen)."""
    from ..models.backbones import set_trainable

    set_trainable(model, phase.unfreeze)
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    log.info(f"fine-tune from epoch {phase.first_epoch + 1}: {trainable:,} trainable parameters")
