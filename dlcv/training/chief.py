"""The roles of a multi-worker run's processes: which one is the chief (TF_CONFIG), and the chief's state
given to every worker, so that every worker's callbacks decide alike (see :func:`broadcast_from_chief`)."""
from __future__ import annotations

import json
import os
from typing import Any

from ..errors import DlcvError


def cluster_config() -> dict[str, Any]:
    """TF_CONFIG of a multi-worker run (empty when there is none)."""
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        raise DlcvError("TF_CONFIG is not valid JSON; expected e.g. {\"cluster\": {\"worker\": "
                        "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", "
                        "\"index\": 0}}") from None


def is_chief() -> bool:
    """True unless TF_CONFIG makes this process a non-chief worker of a multi-worker run (only the chief
    writes the run folder)."""
    cluster = cluster_config()
    task = cluster.get("task")
    if not task:
        return True
    if "chief" in cluster.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def broadcast_from_chief(model, strategy, epoch: int, best_val_loss: float | None) -> tuple[int, float | None]:
    """Give every worker the chief's weights, optimizer state, resume epoch and best validation loss
    (all-reduced: the chief contributes its values, the others zeros), so every worker's callbacks decide
    alike: under this strategy creating a variable is a collective, and each Keras ``model.save`` creates
    some (keras-team/keras: ``get_attr_skipset`` caches under another key than it reads), so a checkpoint
    saved on one worker only would unpair the collectives. Returns (epoch, best)."""
    import tensorflow as tf

    variables = list(model.variables) + list(model.optimizer.variables)

    @tf.function
    def gather():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)  # global replica 0: the chief's first
            values = [tf.convert_to_tensor(v.value) for v in variables] + [
                tf.constant(float(epoch)), tf.constant(-1.0 if best_val_loss is None else best_val_loss)]
            return [context.all_reduce(tf.distribute.ReduceOp.SUM, value * tf.cast(first, value.dtype))
                    for value in values]
        return strategy.run(replica_fn)

    gathered = [strategy.experimental_local_results(value)[0] for value in gather()]
    for variable, value in zip(variables, gathered):
        variable.assign(value)
    best = float(gathered[-1].numpy())  # a loss is >= 0: -1 stands for "none yet"
    return int(gathered[-2].numpy()), None if best < 0 else best
