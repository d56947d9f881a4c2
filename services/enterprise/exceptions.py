"""What the registry refuses, by name. Each one is rebuilt as itself on the caller's side."""
from kit.errors import DuplicateRecord, RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class StationNotFound(RecordNotFound):
    what = "station or park post"


@crosses_broker
class ParkNotFound(RecordNotFound):
    what = "park"


@crosses_broker
class GridNotFound(RecordNotFound):
    what = "grid"


@crosses_broker
class EnterpriseNotFound(RecordNotFound):
    what = "enterprise"


@crosses_broker
class OfficerNotFound(RecordNotFound):
    what = "officer"


@crosses_broker
class DuplicateCreditCode(DuplicateRecord):
    pass


@crosses_broker
class DuplicateBadgeNumber(DuplicateRecord):
    pass


@crosses_broker
class DuplicateGridCode(DuplicateRecord):
    pass


@crosses_broker
class InvalidEnterprise(ValidationFailed):
    pass


@crosses_broker
class InvalidAssignment(ValidationFailed):
    pass


@crosses_broker
class InvalidPlace(ValidationFailed):
    pass


@crosses_broker
class InvalidAvailability(ValidationFailed):
    pass


@crosses_broker
class InvalidImport(ValidationFailed):
    """A CSV file was refused as a whole (unknown kind, bad header)."""


@crosses_broker
class ChangedMeanwhile(Exception):
    """Other changes to the same record kept winning the race to write it; nothing was
    written, and the same command may succeed if sent again."""

    def __init__(self, record_id):
        super().__init__(record_id)
        self.record_id = record_id

    def __str__(self):
        return f"record {self.record_id} kept changing meanwhile; try again"


@crosses_broker
class AssignmentChangedMeanwhile(ChangedMeanwhile):
    """Other changes to the same enterprise's assignment kept landing first; nothing was
    written."""

    @property
    def enterprise_id(self):
        return self.record_id

    def __str__(self):
        return f"the assignment of enterprise {self.enterprise_id} changed meanwhile; reload and retry"
