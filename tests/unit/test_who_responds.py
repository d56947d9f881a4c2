"""Dispatch keeps the registry's who-responds answers only while they hold."""
from datetime import datetime, timedelta

import pytest

from services.dispatch.dependencies import Answers

NOW = datetime(2025, 4, 15, 12, 0)


class Registry:
    """Answers like the registry's responders RPC and counts the calls."""

    def __init__(self, holds_until=None):
        self.calls = []
        self.holds_until = holds_until
        self.on_call = None

    def responders(self, enterprise_id):
        self.calls.append(enterprise_id)
        if self.on_call is not None:
            self.on_call()
        return {"enterprise_id": enterprise_id, "call": len(self.calls),
                "holds_until": self.holds_until}


def test_an_answer_is_asked_for_once_and_then_kept():
    answers, registry = Answers(), Registry()
    first = answers.lookup("e1", registry.responders, NOW)
    assert answers.lookup("e1", registry.responders, NOW + timedelta(seconds=5)) == first
    assert answers.lookup("e2", registry.responders, NOW)["enterprise_id"] == "e2"
    assert registry.calls == ["e1", "e2"]


def test_an_answer_is_asked_for_again_once_it_no_longer_holds():
    answers = Answers()
    registry = Registry(holds_until="2025-04-15T12:00:10Z")
    answers.lookup("e1", registry.responders, NOW)
    answers.lookup("e1", registry.responders, NOW + timedelta(seconds=9))
    assert registry.calls == ["e1"]
    assert answers.lookup("e1", registry.responders, NOW + timedelta(seconds=10))["call"] == 2


def test_no_answer_is_kept_longer_than_the_maximum_age():
    answers, registry = Answers(max_age=timedelta(seconds=30)), Registry()
    answers.lookup("e1", registry.responders, NOW)
    answers.lookup("e1", registry.responders, NOW + timedelta(seconds=29))
    answers.lookup("e1", registry.responders, NOW + timedelta(seconds=30))
    assert registry.calls == ["e1", "e1"]


def test_a_registry_change_makes_every_answer_be_asked_for_again():
    answers, registry = Answers(), Registry()
    answers.lookup("e1", registry.responders, NOW)
    answers.lookup("e2", registry.responders, NOW)
    answers.forget_all()
    answers.lookup("e1", registry.responders, NOW)
    answers.lookup("e2", registry.responders, NOW)
    assert registry.calls == ["e1", "e2", "e1", "e2"]


def test_an_answer_fetched_across_a_change_is_used_once_but_not_kept():
    answers, registry = Answers(), Registry()
    registry.on_call = answers.forget_all  # the change is announced while the RPC is out
    assert answers.lookup("e1", registry.responders, NOW)["call"] == 1
    registry.on_call = None
    assert answers.lookup("e1", registry.responders, NOW)["call"] == 2


def test_a_refused_lookup_keeps_nothing():
    answers = Answers()

    def unknown(enterprise_id):
        raise LookupError(enterprise_id)

    for _ in range(2):
        with pytest.raises(LookupError):
            answers.lookup("nope", unknown, NOW)
    assert answers.held == {}
