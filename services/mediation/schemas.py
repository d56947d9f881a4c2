"""Mediation's RPC input and output."""
from marshmallow import Schema, fields, validate

from contracts.fields import UtcDateTime
from contracts.vocabulary import DISPUTE_KINDS, DISPUTE_SOURCES


class DisputeInput(Schema):
    enterprise_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(DISPUTE_KINDS))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    amount_at_stake = fields.Integer(load_default=0, validate=validate.Range(min=0))
    source = fields.String(load_default="officer", validate=validate.OneOf(DISPUTE_SOURCES))


class Actor(Schema):
    role = fields.String(required=True)
    id = fields.String(required=True)


class DisputeFilter(Schema):
    enterprise_id = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(("registered",)))


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
