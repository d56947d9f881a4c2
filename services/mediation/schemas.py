"""Mediation's RPC input and output: the contract the gateway sends (contracts.api.mediation),
and who acts."""
from marshmallow import Schema, fields

from contracts.api.mediation import Dispute, DisputeFilter, DisputeInput  # noqa: F401


class Actor(Schema):
    role = fields.String(required=True)
    id = fields.String(required=True)
    enterprise_id = fields.String(load_default=None, allow_none=True)
