"""The mediation service in a real nameko container on a real RabbitMQ: its entrypoints
and its event, as the skeleton every later mediation feature builds on."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from kit.errors import ValidationFailed
from kit.testing import of_type
from services.mediation.exceptions import DisputeNotFound
from services.mediation.service import MediationService

DISPUTE = {"enterprise_id": "e1", "kind": "wage_arrears", "summary": "wages unpaid since May",
           "amount_at_stake": 120000, "source": "enterprise"}
LIAISON = {"role": "enterprise", "id": "u-liaison", "enterprise_id": "e1"}


@pytest.fixture
def mediation(container_factory, config, event_tap):
    events = event_tap("mediation.events")
    container = container_factory(MediationService, config)
    container.start()
    with ServiceRpcProxy("mediation", config, timeout=10) as proxy:
        yield proxy, events


def test_a_registered_dispute_is_kept_and_announced(mediation):
    proxy, events = mediation
    assert proxy.ping() == "pong"
    dispute = proxy.register_dispute(DISPUTE, LIAISON, "u-liaison:key-1")
    assert proxy.get_dispute(dispute["id"]) == dispute
    assert proxy.register_dispute(DISPUTE, LIAISON, "u-liaison:key-1") == dispute
    assert events.wait(lambda seen: of_type(seen, "dispute.registered"), timeout=10)
    [event] = events.of_type("dispute.registered")
    assert event["subject"] == dispute["id"] and event["data"]["kind"] == "wage_arrears"
    assert "summary" not in event["data"] and events.broken == []
    page = proxy.list_disputes({"per_page": 5}, {"enterprise_id": "e1"})
    assert (page["total"], page["items"]) == (1, [dispute])


def test_bad_input_names_the_field_and_changes_nothing(mediation):
    proxy, _ = mediation
    with pytest.raises(ValidationFailed) as refused:
        proxy.register_dispute(dict(DISPUTE, kind="feud", amount_at_stake=-1), LIAISON)
    assert set(refused.value.errors) == {"kind", "amount_at_stake"}
    assert proxy.list_disputes()["total"] == 0
    with pytest.raises(DisputeNotFound):
        proxy.get_dispute("no-such-dispute")
