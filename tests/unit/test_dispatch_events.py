"""Dispatch's typed events against their contracts: one dataclass per event type, holding
exactly the fields its schema in contracts/events.py dumps."""
import dataclasses

import pytest

from contracts.events import DISPATCH_EVENTS
from services.dispatch.events import DISPATCH_EVENT_TYPES


def test_every_dispatch_event_type_has_its_dataclass():
    assert set(DISPATCH_EVENT_TYPES) == set(DISPATCH_EVENTS)


@pytest.mark.parametrize("event_type", sorted(DISPATCH_EVENTS))
def test_an_events_fields_are_its_schemas(event_type):
    event_cls = DISPATCH_EVENT_TYPES[event_type]
    assert dataclasses.is_dataclass(event_cls) and event_cls.__dataclass_params__.frozen
    assert {f.name for f in dataclasses.fields(event_cls)} == set(
        DISPATCH_EVENTS[event_type]().fields)
