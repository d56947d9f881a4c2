"""Tests run under eventlet, like the services (nameko's pytest fixtures expect it)."""
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # eventlet announces its maintenance mode on import
    import eventlet

eventlet.monkey_patch()  # must run before anything opens sockets or starts threads
