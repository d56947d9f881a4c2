"""Mediation's repository on the three backends: what it adds to the kit's collection (its
indexed fields, its listing order and filters, the deadlines due, repeated parties, the
statistics' counts and the versions of the grading rules) behaves the same on each."""
from datetime import datetime, timedelta

import pytest

from kit.testing import backend_fixture, published
from services.mediation.domain import Dispute, Party, Timing
from services.mediation.exceptions import DisputeExists, DisputeNotFound
from services.mediation.grading import RuleSet
from services.mediation.store import Repository

T0 = datetime(2026, 4, 1, 9, 0)
DAY = timedelta(days=1)

backend = backend_fixture("mediation")


@pytest.fixture
def repo(backend):
    repository = Repository(backend.database)
    repository.ensure_indexes()
    return repository


def parties(applicant="workers of line 3", respondent="Minjiang Works"):
    return [{"kind": "workers", "side": "applicant", "name": applicant, "contact": "",
             "id_number": "", "headcount": 12},
            {"kind": "enterprise", "side": "respondent", "name": respondent, "contact": "",
             "id_number": "", "headcount": 1}]


def dispute(n, enterprise="e1", at=T0, station="s1", signals=(), **changes):
    data = dict({"kind": "wage_arrears", "parties": parties(), "amount_at_stake": 52_000,
                 "description": "unpaid wages", "source": "officer", "signals": list(signals)},
                **changes)
    place = {"enterprise_id": enterprise, "station_id": station, "park_id": None,
             "grid_id": "g1"}
    return Dispute.register(f"d{n}", place, data, RuleSet(), 0, "o1", Timing(), at)


def test_a_dispute_is_stored_whole_with_its_events(repo, backend):
    original = dispute(1, signals=["threats"])
    repo.disputes.add(original)
    stored = repo.disputes.get("d1")
    assert stored == original and stored.version == 1
    assert stored.parties[0] == Party("workers", "applicant", "workers of line 3", headcount=12)
    assert [e["type"] for e in published(repo.unit)] == [
        "dispute.registered", "dispute.graded", "dispute.risk_flagged",
        "dispute.warning_letter_issued"]
    row = backend.database.table("disputes").get("d1")
    assert (row["grade"], row["risk"], row["next_due"]) == ("high", True, T0 + DAY)
    with pytest.raises(DisputeExists):
        repo.disputes.add(dispute(1))
    with pytest.raises(DisputeNotFound):
        repo.disputes.get("d2")


def test_listings_are_newest_first_and_filter(repo):
    for n in range(5):
        repo.disputes.add(dispute(n, enterprise="e1" if n % 2 else "e2", at=T0 + n * DAY))
    page, total = repo.list(0, 10, enterprise_id="e1")
    assert total == 2 and [d.id for d in page] == ["d3", "d1"]
    page, total = repo.list(1, 2)
    assert total == 5 and [d.id for d in page] == ["d3", "d2"]
    assert repo.list(0, 10, enterprise_ids=["e2"], enterprise_id="e1") == ([], 0)
    assert repo.list(0, 10, grade="medium", tier="enterprise")[1] == 5
    panel = dispute(9, amount_at_stake=6_000_000)
    panel.refer("labour", "m1", T0)
    repo.disputes.add(panel)
    assert [d.id for d in repo.list(0, 10, agency="labour")[0]] == ["d9"]


def test_the_deadlines_due_are_found_on_their_index_earliest_first(repo):
    repo.disputes.add(dispute(1, at=T0))
    repo.disputes.add(dispute(2, at=T0 + DAY, signals=["threats"]))  # a letter due a day on
    assert repo.due(T0 + DAY) == []
    assert repo.due(T0 + 3 * DAY) == ["d2"]
    assert repo.due(T0 + 31 * DAY) == ["d2", "d1"]
    assert sorted(repo.pending()) == [("d1", T0 + 30 * DAY), ("d2", T0 + 2 * DAY)]


def test_earlier_disputes_between_the_same_parties(repo):
    repo.disputes.add(dispute(1, at=T0))
    repo.disputes.add(dispute(2, at=T0, parties=parties(respondent="another firm")))
    repo.disputes.add(dispute(3, at=T0, parties=parties(applicant="Minjiang Works",
                                                        respondent="workers of line 3")))
    ours = [Party(**p) for p in parties()]
    assert repo.earlier_between(ours, T0 - DAY) == 2  # d1, and d3 with the sides swapped
    assert repo.earlier_between(ours, T0 + DAY) == 0
    assert repo.earlier_between(ours, T0 - DAY, until=T0) == 0
    assert repo.earlier_between(ours, T0 - DAY, but="d1") == 1


def test_the_statistics_are_counted_by_area_and_period(repo):
    timing = Timing()
    settled = dispute(1, signals=["threats"])
    settled.agree("facts", "issues", [{"party": 1, "obligation": "pay", "due": T0 + 9 * DAY}],
                  [{"party": 0, "at": T0}, {"party": 1, "at": T0}], "m1", timing, T0 + 2 * DAY)
    settled.term_performed(0, "m1", T0 + 5 * DAY)
    repo.disputes.add(settled)
    meeting = dispute(2)
    meeting.record_session("analysis_meeting", T0, "station", ["m1"], "adjourned", "", "m1", T0)
    repo.disputes.add(meeting)
    repo.disputes.add(dispute(3, station="s2"))
    counts = repo.statistics(T0 - DAY, T0 + DAY, {"station_id": "s1"})
    assert counts["by_status"] == {"closed": 1, "mediating": 1}
    assert counts["risks"] == {"closed": 1}
    assert counts["meetings"] == {1: 1}
    assert counts["days_to_settle"] == {2: 1} and counts["kept"] == {True: 1}
    assert counts["at_start_tier"] == {True: 1}
    assert sum(repo.statistics(T0 - DAY, T0 + DAY)["by_status"].values()) == 3
    assert repo.statistics(T0 + DAY, T0 + 2 * DAY)["by_status"] == {}
    assert repo.figures() == {("high", "closed"): 1, ("medium", "mediating"): 2}


def test_each_revision_of_the_rules_is_kept_as_a_version(repo, backend):
    assert repo.current_rules() == RuleSet()
    revised = RuleSet().revised(large_group=50)
    assert repo.store_rules(revised)
    assert not repo.store_rules(revised)  # that version was stored meanwhile
    assert repo.current_rules() == revised and repo.current_rules().version == 2
    assert Repository(backend.reopen()).current_rules() == revised
