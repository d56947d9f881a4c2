"""Dispatch's RPC input and output: the contract's schemas (contracts.api.dispatch), and the
external report it takes from its queue. Unknown fields are refused (marshmallow's RAISE)."""
from marshmallow import fields, validate

from contracts.api.dispatch import (AcknowledgementInput, Actor, CadenceRow,  # noqa: F401
                                    DepartmentsInput, Incident, IncidentFilter, IncidentInput,
                                    RequestFilter, RequestInput, RequestStepInput,
                                    ServiceDefinition, ServiceRequest, TransitionInput, Visit,
                                    VisitInput, VisitOutcome)


class ExternalReport(IncidentInput):
    """An incident report from another system; (source, reference) identifies it."""

    source = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))
