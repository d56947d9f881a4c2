"""The gateway's readiness follows the newest probe, not the last to finish."""
from gateway.readiness import Readiness, ReadinessState
from kit.errors import ServiceUnavailable, ValidationFailed
from kit.remote import RemoteError


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


def test_a_call_a_service_could_not_answer_makes_the_next_probe_run_at_once():
    for away in (ServiceUnavailable("dispatch.ping did not answer within 5s"),
                 RemoteError("ServiceUnavailable", "enterprise.responders did not answer", [])):
        readiness = Readiness()
        readiness.state = ReadinessState()
        readiness.worker_result(None, exc_info=(type(away), away, None))
        assert readiness.state.doubted.ready(), away


def test_a_refusal_does_not_make_the_gateway_doubt():
    readiness = Readiness()
    readiness.state = ReadinessState()
    for refusal in (ValidationFailed({"a": ["b"]}), RemoteError("EnterpriseNotFound", "no", ["e"])):
        readiness.worker_result(None, exc_info=(type(refusal), refusal, None))
    assert not readiness.state.doubted.ready()
