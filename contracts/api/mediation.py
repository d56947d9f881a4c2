"""Mediation's RPC input and output, as the gateway documents and sends them: mediation loads
and dumps through these (services.mediation.schemas). Unknown fields are refused."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..fields import UtcDateTime
from ..vocabulary import (DESCRIPTION_MAX, DISPUTE_KINDS, DISPUTE_SOURCES, DISPUTE_STATUSES,
                          EXCLUSION_GROUNDS, NOTE_MAX, PANEL_AGENCIES, PARTY_KINDS, PARTY_SIDES,
                          REFERRAL_RESULTS, REFERRED_FOR, RISK_FLAGS,
                          RISK_GRADES, RISK_SIGNALS, SESSION_KINDS, SESSION_OUTCOMES, TIERS)

ID = validate.Length(min=1, max=64)
NAME = validate.Length(min=1, max=200)
MAX_PARTIES = 50
AMOUNT_MAX = 10**12  # yuan


class PartyInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))
    side = fields.String(required=True, validate=validate.OneOf(PARTY_SIDES))
    name = fields.String(required=True, validate=NAME)
    contact = fields.String(load_default="", validate=validate.Length(max=100))
    id_number = fields.String(load_default="", validate=validate.Regexp(
        r"^(|[0-9A-Za-z]{6,30})$", error="letters and digits, 6 to 30 of them"))
    headcount = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))

    @validates_schema
    def _headcount(self, data, **kwargs):
        if data.get("kind") != "workers" and data.get("headcount", 1) != 1:
            raise ValidationError("only workers as a group have a headcount", "headcount")


class DisputeInput(Schema):
    enterprise_id = fields.String(required=True, validate=ID)
    kind = fields.String(required=True, validate=validate.OneOf(DISPUTE_KINDS))
    parties = fields.List(fields.Nested(PartyInput), required=True,
                          validate=validate.Length(min=2, max=MAX_PARTIES))
    amount_at_stake = fields.Integer(load_default=0, validate=validate.Range(min=0,
                                                                             max=AMOUNT_MAX))
    description = fields.String(required=True,
                                validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    source = fields.String(load_default="officer", validate=validate.OneOf(
        [s for s in DISPUTE_SOURCES if s not in ("incident", "request")]))
    signals = fields.List(fields.String(validate=validate.OneOf(RISK_SIGNALS)),
                          load_default=list, validate=validate.Length(max=len(RISK_SIGNALS)))
    exclusion = fields.String(load_default=None, allow_none=True,
                              validate=validate.OneOf(EXCLUSION_GROUNDS))
    referred_for = fields.String(load_default=None, allow_none=True,
                                 validate=validate.OneOf(REFERRED_FOR))


class FromCaseInput(Schema):
    """Turn an incident or an enterprise request into a dispute: what the case does not say."""
    kind = fields.String(required=True, validate=validate.OneOf(DISPUTE_KINDS))
    parties = fields.List(fields.Nested(PartyInput), required=True,
                          validate=validate.Length(min=2, max=MAX_PARTIES))
    amount_at_stake = fields.Integer(load_default=0, validate=validate.Range(min=0,
                                                                             max=AMOUNT_MAX))
    signals = fields.List(fields.String(validate=validate.OneOf(RISK_SIGNALS)),
                          load_default=list, validate=validate.Length(max=len(RISK_SIGNALS)))


class RegradeInput(Schema):
    amount_at_stake = fields.Integer(validate=validate.Range(min=0, max=AMOUNT_MAX))
    signals = fields.List(fields.String(validate=validate.OneOf(RISK_SIGNALS)),
                          validate=validate.Length(max=len(RISK_SIGNALS)))


class EscalationInput(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class ExtensionInput(Schema):
    days = fields.Integer(required=True, validate=validate.Range(min=1, max=90))
    consents = fields.List(fields.Integer(validate=validate.Range(min=0, max=MAX_PARTIES)),
                           required=True)


class ExclusionInput(Schema):
    ground = fields.String(required=True, validate=validate.OneOf(EXCLUSION_GROUNDS))
    referred_for = fields.String(load_default="police_case",
                                 validate=validate.OneOf(REFERRED_FOR))


class RefusalInput(Schema):
    party = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_PARTIES))
    next_step = fields.String(required=True, validate=validate.OneOf(REFERRED_FOR))


class SessionInput(Schema):
    kind = fields.String(load_default="mediation", validate=validate.OneOf(SESSION_KINDS))
    at = UtcDateTime(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attendees = fields.List(fields.String(validate=NAME), required=True,
                            validate=validate.Length(min=1, max=100))
    outcome = fields.String(required=True, validate=validate.OneOf(SESSION_OUTCOMES))
    notes = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX))


class TermInput(Schema):
    party = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_PARTIES))
    obligation = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due = UtcDateTime(required=True)


class SignatureInput(Schema):
    party = fields.Integer(required=True, validate=validate.Range(min=0, max=MAX_PARTIES))
    at = UtcDateTime(required=True)


class AgreementInput(Schema):
    facts = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))
    issues = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))
    terms = fields.List(fields.Nested(TermInput), required=True,
                        validate=validate.Length(max=50))
    signatures = fields.List(fields.Nested(SignatureInput), required=True,
                             validate=validate.Length(min=1, max=MAX_PARTIES))


class ReferralInput(Schema):
    agency = fields.String(required=True, validate=validate.OneOf(PANEL_AGENCIES))


class ReferralAction(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("accept", "decline", "done")))
    reason = fields.String(load_default="", validate=validate.Length(max=500))
    result = fields.String(load_default=None, allow_none=True,
                           validate=validate.OneOf(REFERRAL_RESULTS))


class DisputeFilter(Schema):
    enterprise_id = fields.String(validate=ID)
    status = fields.String(validate=validate.OneOf(DISPUTE_STATUSES))
    grade = fields.String(validate=validate.OneOf(RISK_GRADES))
    tier = fields.String(validate=validate.OneOf(TIERS))
    enterprise_ids = fields.List(fields.String(validate=ID), validate=validate.Length(max=5000))
    agency = fields.String(validate=validate.OneOf(PANEL_AGENCIES))


class StatisticsQuery(Schema):
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    station_id = fields.String(validate=ID)
    park_id = fields.String(validate=ID)
    grid_id = fields.String(validate=ID)

    @validates_schema
    def _period(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")
        if sum(1 for k in ("station_id", "park_id", "grid_id") if data.get(k)) > 1:
            raise ValidationError("one area at a time: a station, a park or a grid",
                                  "station_id")


class GradingRulesInput(Schema):
    amount = fields.Dict(keys=fields.String(validate=validate.OneOf(RISK_GRADES[1:])),
                         values=fields.Integer(validate=validate.Range(min=0, max=AMOUNT_MAX)))
    people = fields.Dict(keys=fields.String(validate=validate.OneOf(RISK_GRADES[1:])),
                         values=fields.Integer(validate=validate.Range(min=0, max=1_000_000)))
    large_group = fields.Integer(validate=validate.Range(min=2, max=1_000_000))
    repeat_window_days = fields.Integer(validate=validate.Range(min=1, max=3650))
    panel_from = fields.String(validate=validate.OneOf(RISK_GRADES))


# --- output ---------------------------------------------------------------------------------


class GradingRules(Schema):
    version = fields.Integer(required=True)
    amount = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    people = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    large_group = fields.Integer(required=True)
    repeat_window_days = fields.Integer(required=True)
    panel_from = fields.String(required=True)
    park_kinds = fields.List(fields.String(), required=True)


class Grade(Schema):
    grade = fields.String(required=True, validate=validate.OneOf(RISK_GRADES))
    flags = fields.List(fields.String(validate=validate.OneOf(RISK_FLAGS)), required=True)
    reasons = fields.List(fields.String(), required=True)
    rule_version = fields.Integer(required=True)
    start_tier = fields.String(required=True)


class Party(Schema):
    kind = fields.String(required=True)
    side = fields.String(required=True)
    name = fields.String(required=True)
    contact = fields.String(required=True)
    id_number = fields.String(required=True)
    headcount = fields.Integer(required=True)


class Session(Schema):
    kind = fields.String(required=True)
    at = UtcDateTime(required=True)
    place = fields.String(required=True)
    attendees = fields.List(fields.String(), required=True)
    outcome = fields.String(required=True)
    notes = fields.String(required=True)
    tier = fields.String(required=True)
    recorded_by = fields.String(required=True)


class Term(Schema):
    party = fields.Integer(required=True)
    obligation = fields.String(required=True)
    due = UtcDateTime(required=True)
    performed_at = UtcDateTime(required=True, allow_none=True)


class Signature(Schema):
    party = fields.Integer(required=True)
    at = UtcDateTime(required=True)


class Agreement(Schema):
    facts = fields.String(required=True)
    issues = fields.String(required=True)
    terms = fields.List(fields.Nested(Term), required=True)
    signatures = fields.List(fields.Nested(Signature), required=True)
    signed_at = UtcDateTime(required=True)
    tier = fields.String(required=True)


class Referral(Schema):
    id = fields.String(required=True)
    agency = fields.String(required=True)
    state = fields.String(required=True)
    referred_at = UtcDateTime(required=True)
    referred_by = fields.String(required=True)
    reason = fields.String(required=True)
    result = fields.String(required=True, allow_none=True)
    acted_at = UtcDateTime(required=True, allow_none=True)


class Letter(Schema):
    id = fields.String(required=True)
    grade = fields.String(required=True)
    flags = fields.List(fields.String(), required=True)
    reasons = fields.List(fields.String(), required=True)
    issued_at = UtcDateTime(required=True)
    due = UtcDateTime(required=True)
    sent_at = UtcDateTime(required=True, allow_none=True)
    sent_by = fields.String(required=True, allow_none=True)


class DisputeAuditEntry(Schema):
    at = UtcDateTime(required=True)
    who = fields.String(required=True)
    what = fields.String(required=True)
    detail = fields.String(required=True)


class Dispute(Schema):
    """A dispute as those who handle it see it (parties, free text and audit included)."""
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    park_id = fields.String(required=True, allow_none=True)
    grid_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True)
    parties = fields.List(fields.Nested(Party), required=True)
    amount_at_stake = fields.Integer(required=True)
    description = fields.String(required=True)
    source = fields.String(required=True)
    source_ref = fields.String(required=True, allow_none=True)
    signals = fields.List(fields.String(), required=True)
    registered_by = fields.String(required=True)
    registered_at = UtcDateTime(required=True)
    grade = fields.Nested(Grade, required=True)
    tier = fields.String(required=True)
    start_tier = fields.String(required=True)
    status = fields.String(required=True)
    exclusion = fields.String(required=True, allow_none=True)
    referred_for = fields.String(required=True, allow_none=True)
    sessions = fields.List(fields.Nested(Session), required=True)
    agreement = fields.Nested(Agreement, required=True, allow_none=True)
    referrals = fields.List(fields.Nested(Referral), required=True)
    letters = fields.List(fields.Nested(Letter), required=True)
    deadlines = fields.Dict(keys=fields.String(), values=UtcDateTime(), required=True)
    settled_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    audit = fields.List(fields.Nested(DisputeAuditEntry), required=True)
    version = fields.Integer(required=True)


class Statistics(Schema):
    """The Weng'an table for a period and an area, with Dongying's figures beside it: the
    incidents reported around the enterprises then and a year before (from dispatch's
    events), and the change (-0.257: a fall of 25.7%)."""
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    area = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    screened = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    resolution_rate = fields.Float(required=True, allow_none=True)
    risks_found = fields.Integer(required=True)
    risks_defused = fields.Integer(required=True)
    risks_watched = fields.Integer(required=True)
    analysis_meetings = fields.Integer(required=True)
    settled_at_lowest_tier = fields.Float(required=True, allow_none=True)
    median_days_to_settle = fields.Float(required=True, allow_none=True)
    agreements_kept_on_time = fields.Float(required=True, allow_none=True)
    incidents = fields.Integer(required=True)
    incidents_a_year_before = fields.Integer(required=True)
    incidents_change = fields.Float(required=True, allow_none=True)
