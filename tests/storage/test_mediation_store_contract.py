"""Mediation's repository on the three backends: what it adds to the kit's collection is
its indexed fields and its listing order."""
from datetime import datetime, timedelta

import pytest

from kit.testing import backend_fixture, published
from services.mediation import handlers
from services.mediation.domain import Dispute
from services.mediation.exceptions import DisputeExists, DisputeNotFound
from services.mediation.store import Repository

T0 = datetime(2026, 4, 1, 9, 0)

backend = backend_fixture("mediation")


@pytest.fixture
def repo(backend):
    repository = Repository(backend.database)
    repository.ensure_indexes()
    return repository


def dispute(n, enterprise="e1", minutes=0):
    return Dispute.register(f"d{n}", enterprise, "wage_arrears", "unpaid wages", 1000,
                            "officer", "o1", T0 + timedelta(minutes=minutes))


def test_a_dispute_is_stored_with_its_registration_event(repo, backend):
    repo.disputes.add(dispute(1))
    stored = repo.disputes.get("d1")
    assert (stored.kind, stored.status, stored.version) == ("wage_arrears", "registered", 1)
    assert [e["type"] for e in published(repo.unit)] == ["dispute.registered"]
    row = backend.database.table("disputes").get("d1")
    assert row["enterprise_id"] == "e1" and len(row["outbox"]) == 1
    with pytest.raises(DisputeExists):
        repo.disputes.add(dispute(1))
    with pytest.raises(DisputeNotFound):
        repo.disputes.get("d2")


def test_listings_are_newest_first_and_filter_by_enterprise(repo):
    for n in range(5):
        repo.disputes.add(dispute(n, enterprise="e1" if n % 2 else "e2", minutes=n))
    page, total = handlers.list_disputes(repo, 0, 10, enterprise_id="e1")
    assert total == 2 and [d.id for d in page] == ["d3", "d1"]
    page, total = handlers.list_disputes(repo, 1, 2)
    assert total == 5 and [d.id for d in page] == ["d3", "d2"]
