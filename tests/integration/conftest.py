"""What the integration tests share: a service config on the test's own RabbitMQ vhost (nameko's
`rabbit_config`), with the CloudEvents serializer and a data directory of the test's own, and
the event tap.

A test module that needs more config (shorter windows, timeouts) overrides `config` with a
fixture of the same name that takes this one.
"""
import pytest

from contracts.events import EVENT_SCHEMAS
from kit import storage
from kit.testing import EventTap


@pytest.fixture
def data_dir(tmp_path):
    """Where the services of this test keep their embedded stores."""
    return tmp_path / "data"


@pytest.fixture
def config(rabbit_config, data_dir):
    return dict(rabbit_config, DATA_DIR=str(data_dir), **storage.SERIALIZATION_CONFIG)


@pytest.fixture
def event_tap(config):
    """`event_tap(exchange, routing_key="#")`: a kit.testing.EventTap on this test's vhost,
    bound at once (so it sees everything published after), opening each event through its
    contract (what does not honour it is in `tap.broken`); closed after the test."""
    taps = []

    def open_tap(exchange, routing_key="#"):
        tap = EventTap(config["AMQP_URI"], exchange, routing_key, schemas=EVENT_SCHEMAS)
        taps.append(tap)
        return tap

    yield open_tap
    for tap in taps:
        tap.close()
