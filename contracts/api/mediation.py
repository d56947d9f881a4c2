"""Mediation's RPC input and output, as the gateway documents and sends them: mediation loads
and dumps through these (services.mediation.schemas)."""
from marshmallow import Schema, fields, validate

from ..fields import UtcDateTime
from ..vocabulary import DISPUTE_KINDS, DISPUTE_SOURCES, DISPUTE_STATUSES


class DisputeInput(Schema):
    enterprise_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(DISPUTE_KINDS))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    amount_at_stake = fields.Integer(load_default=0, validate=validate.Range(min=0))
    source = fields.String(load_default="officer", validate=validate.OneOf(DISPUTE_SOURCES))


class DisputeFilter(Schema):
    enterprise_id = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(DISPUTE_STATUSES))


class Dispute(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    kind = fields.String(required=True)
    summary = fields.String(required=True)
    amount_at_stake = fields.Integer(required=True)
    source = fields.String(required=True)
    registered_by = fields.String(required=True)
    registered_at = UtcDateTime(required=True)
    status = fields.String(required=True)
