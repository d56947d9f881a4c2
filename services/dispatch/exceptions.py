"""What dispatch refuses, by name. Each one is rebuilt as itself on the caller's side."""
from kit.errors import RecordNotFound, ValidationFailed, crosses_broker


@crosses_broker
class IncidentNotFound(RecordNotFound):
    what = "incident"


@crosses_broker
class RequestNotFound(RecordNotFound):
    what = "request"


@crosses_broker
class AckNotAllowed(ValidationFailed):
    """Only the officer a page was sent to may acknowledge it."""


@crosses_broker
class AcknowledgementTooLate(ValidationFailed):
    """The page timed out (the case moved on) or someone else acknowledged first."""


@crosses_broker
class IncidentClosed(ValidationFailed):
    """The incident is resolved, referred or cancelled."""


@crosses_broker
class TransitionRefused(ValidationFailed):
    """The incident cannot move to that state from where it is."""


@crosses_broker
class NotOnCase(ValidationFailed):
    """The officer was not notified of this incident, so may not act on it."""


@crosses_broker
class IncidentExists(ValidationFailed):
    """An incident with this id was already taken in (a redelivered report)."""


@crosses_broker
class RequestExists(ValidationFailed):
    """A request with this id was taken in already."""


@crosses_broker
class ChangedMeanwhile(ValidationFailed):
    """Other changes kept winning the race to write the record; the same command may
    succeed if sent again."""


@crosses_broker
class InvalidRequest(ValidationFailed):
    """A request (or a change to one) was refused for its content; nothing was changed."""


@crosses_broker
class RequestTransitionNotAllowed(ValidationFailed):
    """The request's status does not allow this step (e.g. closing a submitted request)."""


@crosses_broker
class InvalidVisit(ValidationFailed):
    """A proposed visit is malformed (e.g. it ends before it starts)."""


@crosses_broker
class VisitRefused(ValidationFailed):
    """A well-formed visit was refused because the enterprise has had enough visits."""
