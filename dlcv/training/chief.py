"""The chief's state given to every worker of a multi-worker run, so that every worker's callbacks decide
alike (see :func:`broadcast_from_chief`)."""
from __future__ import annotations


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
