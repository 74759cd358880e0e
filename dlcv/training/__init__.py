"""Training: optimizers and schedules from configs, callbacks, routes, and the one engine.

Import the modules themselves (``dlcv.training.engine``...): importing this package imports nothing,
so the route and distribution rules can be checked before Keras starts.
"""
