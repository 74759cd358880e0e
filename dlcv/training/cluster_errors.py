"""A multi-worker run's lost peers: which worker it lost, in one line, from TensorFlow's error text (it
names the task in several forms, and sometimes none), and a signalled worker telling its peers at once.

    lost_worker(tf.errors.UnavailableError(None, None, "... reported from /job:worker/replica:0/task:1 ..."))
    # 'worker 1 at 10.0.0.2:12345 was lost (UnavailableError)'   (the address from TF_CONFIG)
    tell_peers_of_preemption()   # on SIGTERM: each peer's collectives fail at once, and lost_worker
    # says 'worker 1 at 10.0.0.2:12345 stopped by SIGTERM'
"""
from __future__ import annotations

import logging
import re

from .chief import cluster_config

log = logging.getLogger(__name__)

_PREEMPTED = "stopped by SIGTERM"


def lost_worker(exc: Exception) -> str:
    """One line naming the worker a collective lost, from TensorFlow's error text."""
    text = str(exc)
    told = re.search(rf"/job:(\w+)/replica:\d+/task:(\d+) {_PREEMPTED}", text)
    found = (told or re.search(r"unhealthy[^/]*/job:(\w+)/replica:\d+/task:(\d+)", text)
             or re.search(r"reported from /job:(\w+)/(?:replica:\d+/)?task:(\d+)", text))
    if not found:  # TensorFlow does not always say which: name the others
        cluster = cluster_config()
        own = int(cluster.get("task", {}).get("index", -1))
        others = [a for i, a in enumerate(cluster.get("cluster", {}).get("worker", [])) if i != own]
        return (f"a worker of the cluster ({', '.join(others) or 'unknown'}) stopped answering "
                f"({type(exc).__name__})")
    job, index = found.group(1), int(found.group(2))
    addresses = cluster_config().get("cluster", {}).get(job, [])
    where = f" at {addresses[index]}" if index < len(addresses) else ""
    return f"worker {index}{where} {_PREEMPTED}" if told else f"worker {index}{where} was lost ({type(exc).__name__})"


def tell_peers_of_preemption() -> None:
    """Report this worker's SIGTERM to the cluster's coordination service, which aborts every peer's
    collectives at once. Unreported, the peers learn of it only when the service misses the worker's
    heartbeats: 10 s on an idle machine, over 40 s seen on a loaded one, longer than a cloud's notice."""
    import tensorflow as tf
    from tensorflow.python.eager import context  # the public API has no way to report an error to peers

    task = cluster_config().get("task", {})
    try:
        context.context().report_error_to_cluster(
            tf.errors.UNAVAILABLE, f"/job:{task.get('type')}/replica:0/task:{task.get('index')} {_PREEMPTED}")
    except (tf.errors.OpError, ValueError) as exc:  # the peers still notice by the heartbeats
        log.debug("could not tell the cluster of the SIGTERM: %s", exc)
