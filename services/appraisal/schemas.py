"""Appraisal's RPC input and output: the contract the gateway sends (contracts.api.appraisal),
who acts (contracts.api.Actor) and a document answered whole (contracts.api.Document); and
the rules the configuration may set (APPRAISAL_RULES)."""
from marshmallow import Schema, fields, validate

from contracts.api import Actor, Document  # noqa: F401
from contracts.api.appraisal import *  # noqa: F401,F403

from .scoring import COMPONENTS


class RulesConfig(Schema):
    """APPRAISAL_RULES: any of the rules, over the defaults (services.appraisal.scoring)."""
    version = fields.Integer(validate=validate.Range(min=1))
    min_evidence = fields.Integer(validate=validate.Range(min=1, max=1000))
    gap = fields.Float(validate=validate.Range(min=0, max=4))
    level = fields.Float(validate=validate.Range(min=0.5, max=0.999))
    model_max = fields.Integer(validate=validate.Range(min=0, max=100))
    rater_prior = fields.Float(validate=validate.Range(min=0, max=1000))
    iterations = fields.Integer(validate=validate.Range(min=1, max=1000))
    rank_draws = fields.Integer(validate=validate.Range(min=10, max=10000))
    weights = fields.Dict(keys=fields.String(validate=validate.OneOf(COMPONENTS)),
                          values=fields.Float(validate=validate.Range(min=0, max=1)),
                          validate=validate.Length(min=1))
    rate_scale = fields.Float(validate=validate.Range(min=0, max=4))
