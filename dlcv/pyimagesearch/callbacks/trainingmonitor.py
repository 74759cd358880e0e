"""``TrainingMonitor(figPath, jsonPath=None, startAt=0)`` (ch. 17), over dlcv's TrainingMonitor: a Keras 3
``Callback`` (the book subclassed ``BaseLogger``, which Keras 3 no longer has) that plots every metric
Keras logs — ``accuracy``, not Keras 2's ``acc`` — and redraws its PNG after every epoch, as the book's did."""
from __future__ import annotations

from ...training.monitor import TrainingMonitor as _TrainingMonitor


class TrainingMonitor(_TrainingMonitor):
    def __init__(self, figPath, jsonPath=None, startAt: int = 0) -> None:  # noqa: N803  (the book's names)
        super().__init__(figPath, json_path=jsonPath, start_at=startAt, min_interval=0.0)
