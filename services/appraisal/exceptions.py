"""What appraisal refuses, by name. Each one is rebuilt as itself on the caller's side."""
from kit.errors import RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class InvitationNotFound(RecordNotFound):
    what = "rating invitation"


@crosses_broker
class InvitationExpired(ValidationFailed):
    """A rating after the invitation's deadline is refused."""

    def __init__(self, invitation_id, expired_at):
        super().__init__({"invitation": [f"{invitation_id} expired at {expired_at}"]})


@crosses_broker
class AlreadyRated(ValidationFailed):
    """An officer is rated once per case."""

    def __init__(self, officer_id, invitation_id):
        super().__init__({"officer_id": [f"{officer_id} was rated on {invitation_id} "
                                         "already"]})


@crosses_broker
class NotOnCase(ValidationFailed):
    """Only the officers who handled the case are rated on it."""

    def __init__(self, officer_id, invitation_id):
        super().__init__({"officer_id": [f"{officer_id} did not handle {invitation_id}"]})


@crosses_broker
class InvitationChangedMeanwhile(ValidationFailed):
    def __init__(self, invitation_id):
        super().__init__({"invitation": [f"{invitation_id} changed meanwhile; try again"]})


@crosses_broker
class InvitationExists(ValidationFailed):
    def __init__(self, invitation_id):
        super().__init__({"invitation": [f"{invitation_id} exists already"]})


@crosses_broker
class ListNotFound(RecordNotFound):
    what = "annual list"


@crosses_broker
class ListRefused(ValidationFailed):
    """The list cannot take this step now (its status, who reviews, who may object)."""

    def __init__(self, field, reason):
        super().__init__({field: [reason]})


@crosses_broker
class ListChangedMeanwhile(ValidationFailed):
    def __init__(self, list_id):
        super().__init__({"year": [f"the {list_id} list changed meanwhile; try again"]})


@crosses_broker
class ListExists(ValidationFailed):
    def __init__(self, list_id):
        super().__init__({"year": [f"the {list_id} list exists already"]})


@crosses_broker
class OfficerNotRated(RecordNotFound):
    """No rating of this officer in that year: nothing to score."""

    what = "score for officer"


@crosses_broker
class SpotCheckNotFound(RecordNotFound):
    what = "spot check"


@crosses_broker
class SpotCheckRefused(ValidationFailed):
    """A survey result that does not fit the sample (not in it, recorded already)."""

    def __init__(self, field, reason):
        super().__init__({field: [reason]})


@crosses_broker
class ChiefRatingRefused(ValidationFailed):
    """A three-chiefs rating that cannot be taken (a quarter not begun, a criterion missing,
    the seat's rating for that quarter given already)."""

    def __init__(self, field, reason):
        super().__init__({field: [reason]})


@crosses_broker
class ChiefRatingNotFound(RecordNotFound):
    what = "three-chiefs rating"

