"""``dlcv serve``: a trained run or an export behind HTTP, with request batching, bounded queues and
Prometheus metrics. :mod:`.batcher` groups concurrent requests' images into one model call, :mod:`.http`
is the API, :mod:`.server` loads, binds and runs, :mod:`.draining` stops cleanly on SIGTERM.

    from dlcv.serving.server import ServeSettings, serve
    serve("output/quickstart", ServeSettings(port=8000, max_batch=32))
"""
