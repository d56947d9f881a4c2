"""An availability change names each field that does not fit its status."""
import pytest

from kit.errors import ValidationFailed
from kit.schemas import load
from services.enterprise.schemas import AvailabilityInput


def refusal(data):
    with pytest.raises(ValidationFailed) as refused:
        load(AvailabilityInput, data)
    return refused.value.errors


def test_leave_needs_its_days():
    assert refusal({"status": "on_leave", "first_day": "2026-07-01"}) == {
        "last_day": ["required when status is on_leave"]}


def test_a_field_of_another_status_is_refused_by_name():
    assert refusal({"status": "off_duty", "first_day": "2026-07-01",
                    "last_day": "2026-07-02"}) == {
        "first_day": ["not used when status is off_duty"],
        "last_day": ["not used when status is off_duty"]}
    assert refusal({"status": "on_duty", "start": "2026-07-01T08:00:00Z"}) == {
        "start": ["not used when status is on_duty"]}


def test_each_status_with_its_own_fields_is_accepted():
    assert load(AvailabilityInput, {"status": "off_duty", "start": "2026-07-01T08:00:00Z",
                                    "end": None})["end"] is None
    assert load(AvailabilityInput, {"status": "on_duty", "at": "2026-07-01T08:00:00Z"})
    assert load(AvailabilityInput, {"status": "on_leave", "first_day": "2026-07-01",
                                    "last_day": "2026-07-01", "note": "family"})
