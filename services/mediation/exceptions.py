"""What mediation refuses, by name. Each one is rebuilt as itself on the caller's side."""
from kit.errors import RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class DisputeNotFound(RecordNotFound):
    what = "dispute"


@crosses_broker
class ReferralNotFound(RecordNotFound):
    """No such referral, or not one held by the agency asking."""

    what = "referral"


@crosses_broker
class CaseNotFound(RecordNotFound):
    """The incident or request to make a dispute of does not exist."""

    what = "incident or request"


@crosses_broker
class LetterNotFound(RecordNotFound):
    what = "warning letter"


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


@crosses_broker
class DisputeClosed(ValidationFailed):
    """The dispute is over (closed, refused or excluded): nothing more happens to it."""

    def __init__(self, dispute_id, status):
        super().__init__({"status": [f"dispute {dispute_id} is {status}"]})


@crosses_broker
class NotAllowed(ValidationFailed):
    """The dispute cannot take this step now (its tier, status, parties or terms say no)."""

    def __init__(self, field, reason):
        super().__init__({field: [reason]})


@crosses_broker
class ConsentMissing(ValidationFailed):
    """A deadline is extended only with every party's recorded consent."""

    def __init__(self, missing):
        super().__init__({"consents": ["every party must consent; missing: "
                                       + ", ".join(f"party {i}" for i in missing)]})


@crosses_broker
class InvalidDispute(ValidationFailed):
    """The dispute as given cannot be taken in (its enterprise is unknown, a term names a
    party it does not have)."""


@crosses_broker
class InvalidRules(ValidationFailed):
    """Grading rules that cannot grade (thresholds missing or out of order)."""
