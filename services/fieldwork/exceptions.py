"""What field work refuses, by name. Each one is rebuilt as itself on the caller's side."""
from kit.errors import RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class GuardNotFound(RecordNotFound):
    what = "guard"


@crosses_broker
class PatrolNotFound(RecordNotFound):
    what = "patrol"


@crosses_broker
class HazardNotFound(RecordNotFound):
    what = "hazard"


@crosses_broker
class OutreachNotFound(RecordNotFound):
    what = "outreach"


@crosses_broker
class InvalidFieldWork(ValidationFailed):
    """The record as given cannot be taken (an area, enterprise, officer or guard it names does
    not exist, a guard of another enterprise, a time out of order)."""


@crosses_broker
class HazardStepRefused(ValidationFailed):
    """The hazard cannot take this step now (it is rectified already, or nothing was reported
    to verify)."""

    def __init__(self, hazard_id, status, step):
        super().__init__({"status": [f"hazard {hazard_id} is {status}: cannot {step}"]})


@crosses_broker
class RecordChangedMeanwhile(ValidationFailed):
    """Other changes kept winning the race to write the record; sending the same command again
    may succeed."""

    def __init__(self, record_id):
        super().__init__({"id": [f"{record_id} changed meanwhile; try again"]})


@crosses_broker
class RecordExists(ValidationFailed):
    def __init__(self, record_id):
        super().__init__({"id": [f"{record_id} already exists"]})
