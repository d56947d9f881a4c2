"""`python -m infra.serve CONFIG MODULE...`: run services as `nameko run` does, and stop them
promptly and quietly on SIGTERM or SIGINT.

The stop is nameko's graceful one (entrypoints stop taking work, running workers finish,
then the dependencies stop), but nameko's consumer looks for each step only once a second
(three steps for a service with an RPC proxy and its own consumers); here it looks every
0.1 s. A stop not done within STOP_GRACE seconds kills the containers instead. Either way the
process exits without a traceback; a container that dies of an error still ends it with one.
"""
import sys

STOP_GRACE = 3.0
CONSUMER_POLL = 0.1


def _end_with_parent():
    """Ask Linux for SIGTERM when the launcher that started us dies, even by SIGKILL: our
    process group is our own, so nothing else would stop us. Elsewhere a no-op."""
    import ctypes
    import os
    import signal

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv=None):
    import eventlet
    eventlet.monkey_patch()  # first, as `nameko run` does
    _end_with_parent()

    import logging
    import logging.config
    import signal

    import yaml
    from kombu.mixins import ConsumerMixin
    from nameko.cli.main import setup_yaml_parser
    from nameko.cli.run import import_service
    from nameko.messaging import QueueConsumer
    from nameko.runners import ServiceRunner

    config_path, *modules = sys.argv[1:] if argv is None else argv
    setup_yaml_parser()
    with open(config_path) as file:
        config = yaml.safe_load(file)
    logging.config.dictConfig(config["LOGGING"])

    def consume(self, *args, safety_interval=CONSUMER_POLL, **kwargs):
        return ConsumerMixin.consume(self, *args, safety_interval=safety_interval, **kwargs)

    QueueConsumer.consume = consume

    runner = ServiceRunner(config)
    for module in modules:
        for service in import_service(module):
            runner.add_service(service)

    def stop():
        try:
            with eventlet.Timeout(STOP_GRACE):
                runner.stop()
        except eventlet.Timeout:
            logging.getLogger(__name__).warning(
                "services did not stop within %ss; killing them", STOP_GRACE)
            runner.kill()

    def on_signal(signum, frame):
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        eventlet.spawn_n(stop)  # a signal handler may not block on eventlet primitives

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    runner.start()
    runner.wait()


if __name__ == "__main__":
    main()
