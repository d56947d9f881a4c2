"""Mediation's RPC input and output: the contract the gateway sends (contracts.api.mediation)
and who acts (contracts.api.Actor); and what other systems put on its queue."""
from marshmallow import fields, validate

from contracts.api import Actor  # noqa: F401
from contracts.api.mediation import *  # noqa: F401,F403
from contracts.api.mediation import DisputeInput


class ExternalDisputeReport(DisputeInput):
    """A dispute reported by another system (a township's grid platform, a labour inspection
    system) on `mediation.dispute_reports`; (system, reference) identifies it, so the same
    report delivered twice makes one dispute."""

    system = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))
