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
