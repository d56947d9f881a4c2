"""Appraisal's RPC input and output, as the gateway documents and sends them: appraisal loads
and dumps through these (services.appraisal.schemas)."""
from marshmallow import Schema, fields, validate

from ..fields import UtcDateTime
from ..vocabulary import CHIEF_CRITERIA, CHIEF_SEATS

ID = validate.Length(min=1, max=64)
YEAR = validate.Range(min=2000, max=2100)
SCORE = validate.Range(min=1, max=5)


class RatingInput(Schema):
    officer_id = fields.String(required=True, validate=ID)
    score = fields.Integer(required=True, validate=SCORE)
    satisfied = fields.Boolean(required=True)
    comment = fields.String(load_default="", validate=validate.Length(max=500))


class InvitationFilter(Schema):
    enterprise_id = fields.String(validate=ID)
    officer_id = fields.String(validate=ID)


class YearQuery(Schema):
    year = fields.Integer(required=True, validate=YEAR)


class ReportQuery(YearQuery):
    """A year's report, as printable HTML (the default) or PDF."""
    format = fields.String(load_default="html", validate=validate.OneOf(("html", "pdf")))


class Rating(Schema):
    officer_id = fields.String(required=True)
    score = fields.Integer(required=True)
    satisfied = fields.Boolean(required=True)
    comment = fields.String(required=True)
    rated_at = UtcDateTime(required=True)
    rated_by = fields.String(required=True)


class Invitation(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    case_kind = fields.String(required=True)
    case_id = fields.String(required=True)
    officer_ids = fields.List(fields.String(), required=True)
    issued_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True)
    ratings = fields.List(fields.Nested(Rating), required=True)
    version = fields.Integer(required=True)


class Funnel(Schema):
    plain = fields.String()
    overdispersed = fields.String()


class Component(Schema):
    """One component of a score: its evidence, what was observed, the shrunk estimate, the
    weight it counted with."""
    evidence = fields.Integer(required=True)
    successes = fields.Integer()
    observed = fields.Float(required=True, allow_none=True)
    adjusted = fields.Float(allow_none=True)
    estimate = fields.Float(required=True)
    shrink_weight = fields.Float(required=True)
    weight = fields.Float(required=True)


class OfficerScore(Schema):
    """One officer's score and how it was reached: anyone can check it."""
    officer_id = fields.String(required=True)
    ratings = fields.Integer(required=True)
    raw_mean = fields.Float(required=True, allow_none=True)
    adjusted_mean = fields.Float(required=True, allow_none=True)
    leniency_adjustment = fields.Float(required=True)
    weight = fields.Float(required=True)
    score = fields.Decimal(required=True, as_string=True)
    breakdown = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True),
                            required=True)
    interval = fields.List(fields.Float(), required=True)
    p_below = fields.Float(required=True)
    p_above = fields.Float(required=True)
    funnel = fields.Nested(Funnel, required=True)
    rank = fields.Integer(required=True, allow_none=True)
    rank_interval = fields.List(fields.Integer(), required=True, allow_none=True)
    status = fields.String(required=True)
    components = fields.Dict(keys=fields.String(), values=fields.Nested(Component),
                             required=True)


class Kpis(Schema):
    """What dispatch's events say of an officer's year (kept once per event)."""
    acknowledged = fields.Integer(required=True)
    median_acknowledgement_seconds = fields.Float(required=True, allow_none=True)
    pages_missed = fields.Integer(required=True)
    failovers_caused = fields.Integer(required=True)
    requests_closed = fields.Integer(required=True)
    requests_on_time = fields.Integer(required=True)
    requests_on_time_share = fields.Float(required=True, allow_none=True)


class OfficerAppraisal(Schema):
    """One officer's year: its score from ratings (none without a rating) and its KPIs."""
    officer_id = fields.String(required=True)
    year = fields.Integer(required=True)
    score = fields.Nested(OfficerScore, required=True, allow_none=True)
    kpis = fields.Nested(Kpis, required=True)


class Rules(Schema):
    version = fields.Integer(required=True)
    min_evidence = fields.Integer(required=True)
    gap = fields.Float(required=True)
    level = fields.Float(required=True)
    model_max = fields.Integer(required=True)
    rater_prior = fields.Float(required=True)
    weights = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    rate_scale = fields.Float(required=True)


class Appraisal(Schema):
    """A year's scores and the two lists, with the rules that made them."""
    year = fields.Integer(required=True)
    rules = fields.Nested(Rules, required=True)
    seed = fields.Integer(required=True)
    county_mean = fields.Float(required=True)
    noise_sd = fields.Float(required=True)
    spread_sd = fields.Float(required=True)
    overdispersion_tau = fields.Float(required=True)
    model = fields.List(fields.String(), required=True)
    model_note = fields.String(required=True)
    lagging = fields.List(fields.String(), required=True)
    officers = fields.List(fields.Nested(OfficerScore), required=True)
    weights = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    absent = fields.List(fields.String(), required=True)
    county = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)


class ObjectionInput(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DecisionInput(Schema):
    upheld = fields.Boolean(required=True)
    decision = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class Named(Schema):
    officer_id = fields.String(required=True)
    list = fields.String(required=True)
    score = fields.String(required=True)
    ratings = fields.Integer(required=True)
    probability = fields.Float(required=True)
    interval = fields.List(fields.Float(), required=True)
    rank_interval = fields.List(fields.Integer(), required=True)


class Objection(Schema):
    officer_id = fields.String(required=True)
    reason = fields.String(required=True)
    raised_at = UtcDateTime(required=True)
    state = fields.String(required=True)
    decided_by = fields.String(required=True, allow_none=True)
    decision = fields.String(required=True)
    decided_at = UtcDateTime(required=True, allow_none=True)


class AnnualList(Schema):
    """The year's list: drafted, reviewed by another supervisor, published; objections."""
    year = fields.Integer(required=True)
    status = fields.String(required=True)
    named = fields.List(fields.Nested(Named), required=True)
    model_note = fields.String(required=True)
    rules_version = fields.Integer(required=True)
    seed = fields.Integer(required=True)
    drafted_by = fields.String(required=True)
    drafted_at = UtcDateTime(required=True)
    reviewed_by = fields.String(required=True, allow_none=True)
    reviewed_at = UtcDateTime(required=True, allow_none=True)
    published_by = fields.String(required=True, allow_none=True)
    published_at = UtcDateTime(required=True, allow_none=True)
    objections = fields.List(fields.Nested(Objection), required=True)
    version = fields.Integer(required=True)


class SpotCheckInput(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    quarter = fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    per_officer = fields.Integer(load_default=3, validate=validate.Range(min=1, max=50))
    seed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


class SurveyInput(Schema):
    officer_id = fields.String(required=True, validate=ID)
    invitation_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    result = fields.String(required=True, validate=validate.OneOf(
        ("satisfied", "not_satisfied", "unreachable")))


class Sampled(Schema):
    officer_id = fields.String(required=True)
    invitation_id = fields.String(required=True)
    result = fields.String(required=True, allow_none=True)
    recorded_by = fields.String(required=True, allow_none=True)
    recorded_at = UtcDateTime(required=True, allow_none=True)


class SpotCheck(Schema):
    """A quarter's satisfaction spot check: the seeded sample and what each survey found."""
    id = fields.String(required=True)
    year = fields.Integer(required=True)
    quarter = fields.Integer(required=True)
    per_officer = fields.Integer(required=True)
    seed = fields.Integer(required=True)
    drawn_by = fields.String(required=True)
    drawn_at = UtcDateTime(required=True)
    samples = fields.List(fields.Nested(Sampled), required=True)
    version = fields.Integer(required=True)


Criteria = Schema.from_dict({name: fields.Integer(required=True, validate=SCORE)
                             for name in CHIEF_CRITERIA}, name="Criteria")


class ChiefRatingInput(Schema):
    """One of the three chiefs rates a liaison officer for a quarter on each criterion."""
    officer_id = fields.String(required=True, validate=ID)
    year = fields.Integer(required=True, validate=YEAR)
    quarter = fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    seat = fields.String(required=True, validate=validate.OneOf(CHIEF_SEATS))
    criteria = fields.Nested(Criteria, required=True)


class ChiefRatingFilter(Schema):
    year = fields.Integer(validate=YEAR)
    officer_id = fields.String(validate=ID)


class ChiefRating(Schema):
    id = fields.String(required=True)
    officer_id = fields.String(required=True)
    year = fields.Integer(required=True)
    quarter = fields.Integer(required=True)
    seat = fields.String(required=True)
    criteria = fields.Nested(Criteria, required=True)
    score = fields.Float(required=True)
    rated_by = fields.String(required=True)
    rated_at = UtcDateTime(required=True)
