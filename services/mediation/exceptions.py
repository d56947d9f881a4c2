"""What mediation refuses, by name."""
from kit.errors import RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class DisputeNotFound(RecordNotFound):
    what = "dispute"


@crosses_broker
class DisputeChangedMeanwhile(ValidationFailed):
    """Other changes kept winning the race to write the dispute; sending the same command
    again may succeed."""

    def __init__(self, dispute_id):
        super().__init__({"dispute_id": [f"dispute {dispute_id} changed meanwhile; try again"]})


@crosses_broker
class DisputeExists(ValidationFailed):
    """A dispute with this id was taken in already."""

    def __init__(self, dispute_id):
        super().__init__({"id": [f"dispute {dispute_id} already exists"]})
