"""The gateway's readiness follows the newest probe, not the last to finish."""
from gateway.readiness import ReadinessState


def test_a_probe_that_finishes_late_does_not_undo_a_newer_answer():
    state = ReadinessState()
    slow, quick = state.begin(), state.begin()
    state.record(True, quick)
    state.record(False, slow)  # waited out its timeout while the services came up
    assert state.ready


def test_a_newer_probe_that_finds_a_service_away_makes_the_gateway_not_ready():
    state = ReadinessState()
    state.record(True, state.begin())
    state.record(False, state.begin())
    assert not state.ready
    state.record(True, state.begin())
    assert state.ready
