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


def seed_county(registry):
    """One enterprise with A, B and the three chiefs, and a duty officer at its station (a
    grid and station of their own), made through the registry's RPC; their ids by role."""
    from services.enterprise.domain import credit_code_check_char

    station = registry.create_place("station", {"name": "城东派出所", "kind": "station"})
    grid = registry.create_place("grid", {"code": "WG-01", "name": "一格",
                                          "station_id": station["id"]})
    first17 = "91330482MA2B3C4D5"
    enterprise = registry.register_enterprise({
        "name": "恒盛纺织", "credit_code": first17 + credit_code_check_char(first17),
        "kind": "enterprise", "level": "above_scale", "stage": "production",
        "grid_id": grid["id"]})
    people = {}
    for badge, role, key in (("100001", "community_officer", "a"),
                             ("100002", "auxiliary_officer", "b"),
                             ("100003", "station_chief", "station_leader"),
                             ("100004", "bureau_leader", "bureau_leader"),
                             ("100005", "area_chief", "area_chief"),
                             ("100000", "community_officer", "duty")):
        people[key] = registry.register_officer({
            "badge_number": badge, "name": f"警员{badge}", "role": role,
            "station_id": station["id"]})["id"]
    registry.assign(enterprise["id"], {
        "a_officer_id": people["a"], "b_officer_id": people["b"],
        "bureau_leader_id": people["bureau_leader"],
        "station_leader_id": people["station_leader"], "area_chief_id": people["area_chief"],
        "departments": ["criminal_investigation"]})
    return {"station": station, "grid": grid, "enterprise": enterprise, **people}
