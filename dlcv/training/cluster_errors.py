"""Which worker a multi-worker run lost, in one line, from TensorFlow's error text (it names the task in
several forms, and sometimes none).

    lost_worker(tf.errors.UnavailableError(None, None, "... reported from /job:worker/replica:0/task:1 ..."))
    # 'worker 1 at 10.0.0.2:12345 was lost (UnavailableError)'   (the address from TF_CONFIG)
"""
from __future__ import annotations

import re

from .chief import cluster_config


def lost_worker(exc: Exception) -> str:
    """One line naming the worker a collective lost, from TensorFlow's error text."""
    text = str(exc)
    found = (re.search(r"unhealthy[^/]*/job:(\w+)/replica:\d+/task:(\d+)", text)
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
    return f"worker {index}{where} was lost ({type(exc).__name__})"
