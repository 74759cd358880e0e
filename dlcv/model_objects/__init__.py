"""What a dlcv model is compiled with beyond Keras's own, and what older files may name, one concept per
module: :mod:`.losses` (the classifier's loss, :class:`CrossEntropy` for smoothed or mixed labels,
:class:`FocalCrossEntropy`), :mod:`.metrics` (:class:`Accuracy` for them, :class:`MeanAveragePrecision`),
:mod:`.schedules` (:class:`StepDecay`), :mod:`.layers` (:class:`BackboneInput`).

Training compiles :class:`CrossEntropy` and :class:`Accuracy` where labels are smoothed or mixed, and
:class:`MeanAveragePrecision` for multi-label data, so the resume checkpoints name them; a run's final
``model.keras`` / ``model.h5`` hold Keras's own objects only (:func:`dlcv.saving.portable`). :class:`StepDecay`
and :class:`BackboneInput` are no longer used: they stay registered, under the names older files give them,
so that run folders written before still load through dlcv. Importing this package registers them all; it
needs nothing of the trainer, so loading and scoring a run does not either.

    >>> from dlcv.model_objects import LOSS, loss_and_metrics
    >>> loss_and_metrics()
    ('sparse_categorical_crossentropy', ['accuracy'])
"""
from .layers import BackboneInput
from .losses import LOSS, CrossEntropy, FocalCrossEntropy, loss_and_metrics
from .metrics import Accuracy, MeanAveragePrecision
from .schedules import StepDecay

__all__ = ["LOSS", "Accuracy", "BackboneInput", "CrossEntropy", "FocalCrossEntropy", "MeanAveragePrecision",
           "StepDecay", "loss_and_metrics"]
