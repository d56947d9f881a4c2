"""Mediation's use cases on the in-memory fake of the kit's storage."""
from datetime import datetime

from kit.tables import MemoryDatabase
from kit.testing import published
from services.mediation import handlers
from services.mediation.store import Repository

NOW = datetime(2026, 4, 1, 9, 0)
DATA = {"enterprise_id": "e1", "kind": "labour_contract", "summary": "contract dispute",
        "amount_at_stake": 52000, "source": "enterprise"}
LIAISON = {"role": "enterprise", "id": "u-liaison"}


def test_registering_a_dispute_records_who_and_when_and_tells_the_platform():
    repo = Repository(MemoryDatabase())
    dispute = handlers.register_dispute(repo, DATA, LIAISON, NOW)
    assert repo.disputes.get(dispute.id) == dispute
    assert (dispute.registered_by, dispute.registered_at) == ("u-liaison", NOW)
    [event] = published(repo.unit)
    assert event["type"] == "dispute.registered" and event["subject"] == dispute.id
    assert event["data"]["amount_at_stake"] == 52000
    assert "summary" not in event["data"]  # free text stays in mediation


def test_a_registration_retried_with_its_request_key_makes_one_dispute():
    repo = Repository(MemoryDatabase())
    first = handlers.register_dispute(repo, DATA, LIAISON, NOW, request_key="u-liaison:k1")
    again = handlers.register_dispute(repo, DATA, LIAISON, NOW, request_key="u-liaison:k1")
    other = handlers.register_dispute(repo, DATA, LIAISON, NOW, request_key="u-liaison:k2")
    assert again.id == first.id != other.id
    assert repo.disputes.count() == 2
    assert len(published(repo.unit)) == 2
