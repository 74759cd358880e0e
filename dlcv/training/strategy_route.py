"""Training under ``tf.distribute.MultiWorkerMirroredStrategy``: an epoch loop of ``strategy.run`` over
Keras's own ``train_step`` (Keras 3's ``fit`` fails under that strategy, keras-team/keras#20585); a
lost worker ends the run in one line naming it and the committed epoch.

    route = StrategyRoute("why", epochs=10, batch_size=64, strategy=strategy)
    history = route.fit(model, EpochPlan(splits.train, splits.val, 64, seed=42), callbacks)
"""
from __future__ import annotations

import numpy as np

from ..errors import Preempted, TrainingStopped
from ..runtime import native_stderr_captured
from .cluster_errors import lost_worker, tell_peers_of_preemption
from .plan import EpochPlan
from .routes import EpochLoopRoute


class StrategyRoute(EpochLoopRoute):
    """Epochs through ``strategy.run`` of Keras's ``train_step``; a lost worker ends the run in one line."""

    name = "strategy"

    def __init__(self, reason: str, epochs: int, batch_size: int, strategy) -> None:
        super().__init__(reason, epochs, batch_size)
        self.strategy = strategy

    def build_trainer(self, model, plan):
        trainer = StrategyEpochs(model, plan, self.strategy)
        trainer.stop = self.stop
        return trainer

    def fit(self, model, plan, callbacks, initial_epoch=0, verbose="auto", within=None):
        # a cluster resumes at its last committed epoch: never within one
        import keras
        import tensorflow as tf

        from .preemption import on_sigterm

        done = {"epochs": initial_epoch}
        progress = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: done.update(epochs=epoch + 1))
        lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
                tf.errors.AbortedError, tf.errors.InternalError)
        # TensorFlow logs a lost peer in several C++ lines: held, and replaced by our one line. SIGTERM: the
        # first raises a flag the loop looks at after each step (installed now, over the handler TensorFlow's
        # coordination service installed, which only notes the signal: a worker would train on); the worker
        # tells its peers and leaves, they stop as for any lost worker, and the cluster resumes at its last
        # committed epoch.
        with native_stderr_captured(replay=lambda exc: not isinstance(exc, (*lost, TrainingStopped, Preempted))), \
                on_sigterm() as flag:
            self.stop = flag
            try:
                return super().fit(model, plan, [*callbacks, progress], initial_epoch, verbose, within)
            except lost as exc:
                _close_abandoned_thread_pools()
                raise TrainingStopped(
                    f"{lost_worker(exc)} after epoch {done['epochs']} was committed; run the same command with "
                    "--resume on every worker to continue from there") from None
            except Preempted:  # this worker's SIGTERM: its peers are told, and stop as for a lost worker
                tell_peers_of_preemption()
                _close_abandoned_thread_pools()
                raise Preempted(f"stopped by SIGTERM after epoch {done['epochs']} was committed; run the same "
                                "command with --resume on every worker to continue from there") from None


def _close_abandoned_thread_pools() -> None:
    """Close the thread pools TensorFlow's eager all-reduce left running when a peer was lost: it opens
    one per call and closes it only when every device returned (cross_device_ops.py), and a pool still
    running when the interpreter exits writes to a closed pipe in ``Pool.__del__`` (a traceback after
    our one line). Only the failure path pays for the search."""
    import gc
    from multiprocessing.pool import RUN, ThreadPool

    for pool in [o for o in gc.get_objects() if isinstance(o, ThreadPool)]:
        if pool._state == RUN:
            pool.close()


class StrategyEpochs:
    """TensorFlow's custom-training-loop pattern for a ``tf.distribute`` strategy: each global batch is
    one ``strategy.run`` of Keras's ``train_step`` inside a ``tf.function``, gradients all-reduced by the
    strategy (Keras scales the loss by the replica count, as under ``fit``). Each epoch's batches are the
    plan's, in its order (the same on every worker), as on every other route; tf.data's auto-sharding
    deals them out to the workers. After each epoch the metric totals are summed across workers, so
    every worker logs the global loss and accuracy."""

    stop = None
    """A flag raised by SIGTERM (:func:`~.preemption.on_sigterm`): the loop leaves between steps."""

    def __init__(self, model, plan: EpochPlan, strategy):
        import tensorflow as tf

        from ..pipeline import build_pipeline
        from .compiled import build_training_state

        self.tf, self.model, self.strategy, self.plan = tf, model, strategy, plan
        build_training_state(model, *plan.train.batch(np.arange(min(2, plan.count))))
        self.weights = None if plan.class_weight is None else tf.constant(plan.class_weight, tf.float32)
        self.val_data = strategy.experimental_distribute_dataset(build_pipeline(plan.val, plan.batch_size))
        self._train = tf.function(lambda batch: strategy.run(model.train_step, args=(batch,)))
        self._test = tf.function(lambda batch: strategy.run(model.test_step, args=(batch,)))
        self._globalise = tf.function(self._globalise_fn)

    def _globalise_fn(self):
        """Sum every metric variable over all workers, in place. A cross-replica read of a metric variable
        (sync on read, SUM) is this worker's total; the all-reduce adds up the workers' totals."""
        tf = self.tf
        local_replicas = len(self.strategy.extended.worker_devices)
        totals = [tf.convert_to_tensor(variable.value) for variable in self.model.metrics_variables]

        def replica_fn(values):
            context = tf.distribute.get_replica_context()
            return [context.all_reduce(tf.distribute.ReduceOp.SUM, v / tf.cast(local_replicas, v.dtype))
                    for v in values]

        summed = self.strategy.run(replica_fn, args=(totals,))
        for variable, value in zip(self.model.metrics_variables, summed):
            variable.assign(self.strategy.experimental_local_results(value)[0])

    def _pass(self, step, data, prefix: str = "") -> dict[str, float]:
        from .compiled import metric_logs

        self.model.reset_metrics()
        for batch in data:
            step(batch)
            if self.stop:  # SIGTERM (StrategyRoute.fit): leave the cluster now, between steps
                raise Preempted("stopped by SIGTERM")
        self._globalise()
        return metric_logs(self.model, prefix)

    def train_epoch(self, epoch: int, skip: int = 0, state=None, stop=None) -> dict[str, float]:
        if skip:  # a cluster resumes at its last committed epoch, never within one
            raise ValueError("a multi-worker epoch cannot be resumed part-way")
        from ..pipeline import training_pipeline

        batches = training_pipeline(self.plan, (epoch, epoch + 1))
        if self.weights is not None:  # each image's class weight, as fit(class_weight=...) gives it
            batches = batches.map(lambda x, y: (x, y, self.tf.gather(self.weights, y)))
        return self._pass(self._train, self.strategy.experimental_distribute_dataset(batches))

    def evaluate(self) -> dict[str, float]:
        return self._pass(self._test, self.val_data, "val_")

    def predict(self, images: np.ndarray) -> np.ndarray:
        # Each worker scores the images itself: a forward pass needs no collectives.
        from ..pipeline import predict_probabilities

        return predict_probabilities(self.model, images)
