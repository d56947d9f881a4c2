"""The feeds component's RPC input and output, as the gateway documents and sends them.

A subscription follows the CloudEvents Subscriptions API's shape: `filters` in its dialects
(`{"exact": {"type": ...}}`, `{"prefix": {"type": ...}}`), a `sink` (the broker), a
`protocol` and its `protocolsettings` (the agency's queue and its report route); plus the
agency, and the purpose that lets personal data or free text through (PIPL Art. 6 and 13).
"""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..fields import UtcDateTime
from .dispatch import IncidentInput
from ..topology import AGENCY_PATTERN
from ..vocabulary import LEGAL_BASES

ID = validate.Length(min=1, max=64)
TYPE = validate.Length(min=1, max=100)


class TypeFilter(Schema):
    type = fields.String(required=True, validate=TYPE)


class Filter(Schema):
    """Exactly one dialect: `exact` (the type) or `prefix` (of the type)."""
    exact = fields.Nested(TypeFilter)
    prefix = fields.Nested(TypeFilter)

    @validates_schema
    def _one_dialect(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError("give exactly one of exact or prefix")


class Purpose(Schema):
    """Why the agency may receive the personal data or free text in `fields` (dotted paths
    into an event's data, e.g. `description`, `recipient.name`)."""
    basis = fields.String(required=True, validate=validate.OneOf(LEGAL_BASES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    fields = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                         required=True, validate=validate.Length(min=1, max=50))


class SubscriptionInput(Schema):
    agency = fields.String(required=True, validate=validate.Regexp(
        AGENCY_PATTERN, error="lower-case letters, digits, '_' and '-', 2 to 40, from a letter"))
    filters = fields.List(fields.Nested(Filter), required=True,
                          validate=validate.Length(min=1, max=50))
    purpose = fields.Nested(Purpose, load_default=None, allow_none=True)


class ReplayInput(Schema):
    since = UtcDateTime(required=True)


class DeliveryQuery(Schema):
    since = UtcDateTime()
    until = UtcDateTime()


class Credentials(Schema):
    """The agency's broker user: the password is shown once, when the subscription is made."""
    username = fields.String(required=True)
    password = fields.String(required=True)


class ProtocolSettings(Schema):
    vhost = fields.String(required=True)
    queue = fields.String(required=True)
    dead_letter_queue = fields.String(required=True)
    report_exchange = fields.String(required=True)
    report_routing_key = fields.String(required=True)


class ReplayState(Schema):
    since = UtcDateTime(required=True)
    requested_at = UtcDateTime(required=True)
    requested_by = fields.String(required=True)
    state = fields.String(required=True)
    delivered = fields.Integer(required=True)
    caught_up_at = UtcDateTime(required=True, allow_none=True)


class Subscription(Schema):
    id = fields.String(required=True)
    agency = fields.String(required=True)
    filters = fields.List(fields.Nested(Filter), required=True)
    purpose = fields.Nested(Purpose, required=True, allow_none=True)
    sink = fields.String(required=True)
    protocol = fields.String(required=True)
    protocolsettings = fields.Nested(ProtocolSettings, required=True)
    broker_user = fields.String(required=True)
    state = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    created_by = fields.String(required=True)
    deleted_at = UtcDateTime(required=True, allow_none=True)
    replay = fields.Nested(ReplayState, required=True, allow_none=True)
    credentials = fields.Nested(Credentials)


class Delivery(Schema):
    event_id = fields.String(required=True)
    type = fields.String(required=True)
    sequence = fields.String(required=True)
    event_time = UtcDateTime(required=True, allow_none=True)
    delivered_at = UtcDateTime(required=True)
    mode = fields.String(required=True)


class ReportInput(IncidentInput):
    """An agency's incident report on the reports exchange. Its source is the agency whose
    broker user sent it (a `source` in the body is ignored); `reference` is the agency's own
    id for it, so the same report sent twice makes one incident."""
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))
